"""``listen/index.html`` as a pure function of the test's data: one static page, no server, nothing fetched.

The trial list travels inside the page as JSON and the behaviour is ``mushra.js`` (inlined), so the folder opens
from disk (``file://``) and can be zipped and mailed to listeners; audio files sit next to it under ``audio/``.
The style is the report's (passed in as ``base_css``) plus a few rules for the rating screen.
"""

from __future__ import annotations

import html
import json
from importlib import resources
from typing import Any

CSS = """
.screen{display:none}body[data-screen=welcome] #welcome,body[data-screen=trial] #trial,
body[data-screen=done] #done{display:block}
.scale{display:grid;grid-template-columns:7rem 1fr 3rem;align-items:center;gap:.3rem .8rem;max-width:900px}
.bands{display:grid;grid-template-columns:repeat(5,1fr);font-size:.75rem;color:#555;text-align:center}
.bands span{border-left:1px solid #ccc}
button{font:inherit;padding:.35rem .8rem;border:1px solid #888;border-radius:4px;background:#f7f7f7;cursor:pointer}
button.playing{background:#0a5;color:#fff;border-color:#0a5}button.played{border-color:#0a5}
button:disabled{opacity:.5;cursor:default}
input[type=range]{width:100%;accent-color:#0a5}input[type=range].untouched{accent-color:#bbb}
.value{font-variant-numeric:tabular-nums;text-align:right}
.controls{margin:1rem 0;display:flex;gap:.8rem;align-items:center;flex-wrap:wrap}
.status{color:#b30;min-height:1.2rem}kbd{border:1px solid #bbb;border-radius:3px;padding:0 .3rem;font-size:.8rem}
#languages label{margin-right:.8rem;white-space:nowrap}
"""

KEYS = [
    ("R", "play the reference"), ("1-9", "play stimulus 1-9 (switches at the same position)"),
    ("X", "A/B: back to the previous one"), ("Space", "play / stop"), ("L", "loop on / off"),
    ("↑ ↓", "rating of the playing stimulus ±1 (Shift ±10)"), ("N / Enter", "next trial"), ("P", "previous trial"),
]


def script() -> str:
    return resources.files("codecstudy.listen").joinpath("mushra.js").read_text(encoding="utf-8")


def _json_for_script(data: Any) -> str:
    """JSON that cannot end its ``<script>`` element early."""
    return json.dumps(data, ensure_ascii=False).replace("</", "<\\/").replace("<!--", "<\\!--")


def render(test: dict[str, Any], base_css: str = "") -> str:
    """The page for one test (``test`` is what ``trials.json`` holds)."""
    esc = html.escape
    title = f"Listening test: {test['study']['name']}"
    keys = "".join(f"<li><kbd>{esc(k)}</kbd> {esc(v)}</li>" for k, v in KEYS)
    languages = "".join(
        f'<label><input type="checkbox" class="lang" value="{esc(lang)}"> {esc(lang)}</label>'
        for lang in test.get("languages", [])
    )
    bands = "".join(f"<span>{b}</span>" for b in ("Bad", "Poor", "Fair", "Good", "Excellent"))
    n = len(test["trials"])
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(title)}</title><style>{base_css}{CSS}</style></head>
<body data-screen="welcome">
<h1>{esc(title)}</h1>
<section id="welcome" class="screen">
<p>A MUSHRA test (ITU-R BS.1534): {n} trials. In each you hear a <b>reference</b> and several versions of it, one of
which is the reference itself, hidden. Rate each version from 0 (bad) to 100 (excellent) against the reference; rate
the one you cannot tell from the reference 100. All versions of a trial are equally loud. Use headphones in a quiet
room. Your ratings are kept in this browser as you go (closing or reloading the page loses nothing) and saved as a
file at the end, which you send back to the person running the test.</p>
<p><label>Your name or listener id: <input id="listener-id" autocomplete="off" size="24"></label></p>
<p id="languages">Languages you speak well: {languages}
<label>others: <input id="other-languages" size="16" placeholder="e.g. de, pt"></label></p>
<p><button id="start">Start</button> <span class="status" id="welcome-status"></span></p>
<h3>Keys</h3><ul>{keys}</ul>
</section>
<section id="trial" class="screen">
<h2 id="trial-title"></h2>
<div class="controls"><button id="play-ref">Reference (R)</button>
<button id="stop">Stop (Space)</button><label><input type="checkbox" id="loop" checked> loop (L)</label>
<span id="now-playing"></span></div>
<div class="scale"><span></span><div class="bands">{bands}</div><span></span></div>
<div class="scale" id="stimuli"></div>
<div class="controls"><button id="prev">Previous (P)</button><button id="next">Next (N)</button>
<span class="status" id="trial-status"></span></div>
<div id="players" hidden></div>
</section>
<section id="done" class="screen">
<h2>Thank you</h2>
<p id="done-text">All trials are rated. Save your ratings and send the file back.</p>
<p><button id="export">Save ratings (JSON)</button> <button id="back">Back to the trials</button>
<button id="new-listener">Next listener</button></p>
</section>
<script type="application/json" id="test-data">{_json_for_script(test)}</script>
<script>{script()}</script>
</body></html>
"""
