"""The README's and the site's pictures, made from a real run: the study report and the listening test's first trial.

    python scripts/screenshots.py runs/demo            # or: make screenshots RUN=runs/demo

Opens ``RUN/report/index.html`` and ``RUN/listen/index.html`` in headless Debian ``chromium`` (driven over the
DevTools protocol by ``tests/helpers/cdp.py``, the browser tests' driver) at a fixed window size and writes
``docs/img/report.png`` and ``docs/img/listening.png``. The listening page is shown as a listener sees it after
entering a name and pressing Start, with the reference playing; nothing is rated. A page the run lacks is
reported and skipped (exit status 1), so pictures are never drawn by hand or left stale without a word.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the browser tests' DevTools driver, tests/helpers/cdp.py

from helpers.cdp import Chromium  # noqa: E402

# Fixed viewports (CSS pixels, scale 1): the report's first screen; the listening test's trial (about 8 rows of
# stimuli in the demo: hidden reference, two anchors, three codecs, two baselines).
WINDOWS = {"report.png": (1280, 860), "listening.png": (1280, 620)}
SETTLE_SECONDS = 1.0  # figures and fonts finish drawing after the load event


def report_screenshot(browser: Chromium, page: Path, out: Path) -> Path:
    """The report's first screen: title, reading guide and the start of the paper-style tables."""
    browser.open(page.resolve().as_uri())
    browser.wait_for("document.readyState === 'complete'")
    time.sleep(SETTLE_SECONDS)
    return browser.screenshot(out)


def listening_screenshot(browser: Chromium, page: Path, out: Path) -> Path:
    """The first trial of a session: a listener id entered, one language ticked, Start pressed, reference playing."""
    browser.open(page.resolve().as_uri())
    browser.wait_for("document.body.dataset.screen === 'welcome'")
    browser.eval("document.getElementById('listener-id').focus()")
    browser.type_text("listener-1")
    browser.eval("(document.querySelector('input.lang') || {click() {}}).click()")
    browser.click("#start")
    browser.wait_for("document.body.dataset.screen === 'trial'")
    browser.wait_for("[...document.querySelectorAll('#players audio')].every(a => a.readyState >= 1)")
    browser.key("r")
    time.sleep(SETTLE_SECONDS)
    return browser.screenshot(out)


PAGES = {"report.png": ("report/index.html", report_screenshot), "listening.png": ("listen/index.html",
                                                                                     listening_screenshot)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="a study's run folder with report/ and listen/ (e.g. runs/demo)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img", help="folder of the PNG files")
    args = parser.parse_args(argv)
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        print("screenshots: Debian `chromium` is not installed (apt-get install chromium)", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    missing = []
    with tempfile.TemporaryDirectory() as profile, Chromium(executable, Path(profile), size="1280,860") as browser:
        for name, (relative, shoot) in PAGES.items():
            page = args.run / relative
            if not page.is_file():
                missing.append(str(page))
                continue
            width, height = WINDOWS[name]
            browser.call("Emulation.setDeviceMetricsOverride", session=True, width=width, height=height,
                         deviceScaleFactor=1, mobile=False)
            print(f"{shoot(browser, page, args.out / name)}  ({page})")
    for page in missing:
        print(f"screenshots: {page} not found: run the study (make demo) first", file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
