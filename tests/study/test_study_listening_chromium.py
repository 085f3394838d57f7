"""A whole listening session in a real browser (Debian's headless ``chromium``, driven over the DevTools protocol):
start, play with the keys, A/B switch at the same position, loop, rate with the sliders, reload mid-way without
losing anything, finish, export the JSON, import it, and find the ratings in the MUSHRA table.

Skipped only when chromium is not installed; ``make test`` installs it. A screenshot of a trial goes to
``$CODECSTUDY_TEST_ARTIFACTS`` (default ``runs/test-artifacts/``).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import time
from pathlib import Path

import pytest
from helpers.cdp import Chromium

from codecstudy.cli import main

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian `chromium` is not installed (`make test` installs it: apt-get install chromium)"
)
ARGS = ["--set", "listen.trials=3", "--set", "listen.min_seconds=0.5"]
PLAN = {"reference": 100, "anchor_3k5": 15, "anchor_7k": 35, "english-soundstream": 52,
        "multilingual_audio-soundstream": 71}


def planned(trial: str, condition: str) -> int:
    """The rating the test gives: fixed per condition, the codecs a little higher in later trials."""
    return PLAN[condition] + (3 * int(trial[1:]) if "soundstream" in condition else 0)


def _state(browser: Chromium, key: str) -> dict:
    return json.loads(browser.eval(f"localStorage.getItem({json.dumps(key)})"))


def _slider(browser: Chromium, slot: int) -> int:
    return int(browser.eval(f"document.querySelector('input.rating[data-slot=\"{slot}\"]').value"))


def _rate(browser: Chromium, slot: int, value: int) -> None:
    """Click the slider near the value, then step to it with the arrow keys (as a listener fine-tunes)."""
    browser.click(f"input.rating[data-slot='{slot}']", 0.02 + 0.96 * value / 100)
    now = _slider(browser, slot)
    for _ in range(abs(value - now)):
        browser.key("ArrowRight" if value > now else "ArrowLeft")
    assert _slider(browser, slot) == value


def _audio(browser: Chromium) -> dict[str, list]:
    return browser.eval("Object.fromEntries([...document.querySelectorAll('#players audio')]"
                        ".map(a => [a.dataset.slot, [a.currentTime, a.paused, a.loop, a.readyState]]))")


def test_a_listener_session_from_start_to_imported_table(run_copy: tuple[Path, Path], tmp_path: Path) -> None:
    study, run = run_copy
    assert main(["listen", "build", str(study), "--out", str(run), *ARGS]) == 0
    test = json.loads((run / "listen" / "trials.json").read_text(encoding="utf-8"))
    page = (run / "listen" / "index.html").resolve()
    key = f"codecstudy-mushra/{test['trials_hash']}"
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    artifacts = Path(os.environ.get("CODECSTUDY_TEST_ARTIFACTS", REPO / "runs" / "test-artifacts"))
    artifacts.mkdir(parents=True, exist_ok=True)

    with Chromium(CHROMIUM, tmp_path / "profile", downloads) as browser:
        browser.call("Network.enable", session=True)
        browser.open(page.as_uri())
        assert browser.eval("document.body.dataset.screen") == "welcome"
        browser.click("#start")  # no name yet: refused with a message
        assert "name" in browser.eval("document.getElementById('welcome-status').textContent")
        browser.eval("document.getElementById('listener-id').focus()")
        browser.type_text("Anna")
        browser.click("input.lang[value='de']")
        browser.eval("document.getElementById('other-languages').focus()")
        browser.type_text("pt")
        browser.click("#start")
        assert browser.eval("document.body.dataset.screen") == "trial"
        state = _state(browser, key)
        assert state["listener"] == {"id": "Anna", "languages": ["de", "pt"]}
        assert sorted(state["order"]) == [t["id"] for t in test["trials"]]

        for position in range(len(test["trials"])):
            trial = browser.eval("document.body.dataset.trial")
            assert trial == state["order"][position]
            slots = _state(browser, key)["slots"][trial]
            browser.wait_for("[...document.querySelectorAll('#players audio')].every(a => a.readyState >= 1)")
            browser.key("r")
            assert browser.eval("document.body.dataset.playing") == "reference"
            if position == 0:
                browser.key("1")
                browser.wait_for("document.querySelector('#players audio[data-slot=\"1\"]').currentTime > 0.15")
                browser.key("2")  # A/B: the second continues where the first was
                players = _audio(browser)
                assert players["1"][1] and not players["2"][1] and players["2"][0] >= 0.15
                browser.key("x")  # back to the previous one
                assert browser.eval("document.body.dataset.playing") == "stimulus 1"
                browser.key("l")
                assert not any(p[2] for p in _audio(browser).values())
                browser.key("l")
                assert all(p[2] for p in _audio(browser).values())
                browser.key(" ")
                assert browser.eval("document.body.dataset.playing") == ""
                browser.key("n")  # nothing rated yet: stays
                assert browser.eval("document.body.dataset.trial") == trial
                assert "rate 1" in browser.eval("document.getElementById('trial-status').textContent")
            for slot, condition in enumerate(slots, start=1):
                browser.key(str(slot))
                assert browser.eval("document.body.dataset.playing") == f"stimulus {slot}"
                _rate(browser, slot, planned(trial, condition))
                if position == 1 and slot == 2:
                    browser.reload()  # mid-trial: everything so far is still there
                    assert browser.eval("document.body.dataset.screen") == "trial"
                    assert browser.eval("document.body.dataset.trial") == trial
                    assert [_slider(browser, s) for s in (1, 2)] == [planned(trial, c) for c in slots[:2]]
                    assert _state(browser, key)["ratings"][state["order"][0]] == {
                        c: planned(state["order"][0], c) for c in _state(browser, key)["slots"][state["order"][0]]}
            if position == 0:
                browser.screenshot(artifacts / "listening-test.png")
            assert browser.eval("document.body.dataset.complete") == "true"
            browser.key("n")
        assert browser.eval("document.body.dataset.screen") == "done"
        browser.click("#export")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not list(downloads.glob("*.json")):
            time.sleep(0.1)
        requests = [e["params"]["request"]["url"] for e in browser.events
                    if e.get("method") == "Network.requestWillBeSent"]
    exported = list(downloads.glob("*.json"))
    assert [p.name for p in exported] == ["mushra-tiny-Anna.json"]
    assert requests and all(url.startswith(("file://", "blob:", "data:")) for url in requests), requests

    data = json.loads(exported[0].read_text(encoding="utf-8"))
    assert data["study"] == test["study"] and data["trials_hash"] == test["trials_hash"]
    assert data["session"]["complete"] is True and data["listener"]["languages"] == ["de", "pt"]
    assert main(["listen", "import", str(exported[0]), "--study", str(study), "--out", str(run), *ARGS,
                 "--no-report"]) == 0
    with (run / "tables" / "mushra.csv").open(encoding="utf-8", newline="") as handle:
        rows = {(r["group"], r["condition"]): r for r in csv.DictReader(handle)}
    groups = {t["id"]: t["group"] for t in test["trials"]}
    for trial in groups:
        for condition in PLAN:
            assert float(rows[(groups[trial], condition)]["mean"]) == planned(trial, condition)
    for condition in PLAN:
        expected = sum(planned(t, condition) for t in groups) / len(groups)
        assert float(rows[("all", condition)]["mean"]) == pytest.approx(expected, abs=1e-3)
        assert rows[("all", condition)]["ratings"] == str(len(groups))
