# Two commands on a fresh machine: `make demo` and `make test`. Each creates .venv and installs what it needs.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO   ?= configs/studies/demo.yaml
RUN    ?= runs/demo

.PHONY: help install demo test test-all test-extra lint clean

help:
	@echo "make demo      build the embedded real-audio corpus and its coverage conditions (downloads ~1.1 GB of Debian packages)"
	@echo "make test      run the test suite (fast tests; 'make test-all' adds slow and network tests)"
	@echo "make install   create $(VENV) and install codecstudy with its dev extra"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# torch first and pinned: the CPU build, so that no later requirement pulls a CUDA build.
# tinysoundfont (MIDI rendering) declares pyaudio, which is only for playback and does not build here.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/pip install --quiet --no-deps tinysoundfont==0.3.7
	touch $@

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/codecstudy corpus build --config $(DEMO) --out $(RUN)/corpus
	$(BIN)/codecstudy corpus conditions $(DEMO) --corpus $(RUN)/corpus

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-all: $(STAMP)
	$(BIN)/python -m pytest -q -m ""

# Only the tests marked slow or network (real Debian downloads); CI runs them after `make test`.
test-extra: $(STAMP)
	$(BIN)/python -m pytest -q -m "slow or network"

lint: $(STAMP)
	$(BIN)/ruff check src tests $(wildcard benchmarks)

clean:
	rm -rf $(VENV) runs .pytest_cache
