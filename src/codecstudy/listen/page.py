"""``listen/index.html`` as a pure function of the test's data: one static page, no server, nothing fetched.

The trial list travels inside the page as JSON and the behaviour is ``mushra.js`` (inlined), so the folder opens
from disk (``file://``) and can be zipped and mailed to listeners; audio files sit next to it under ``audio/``.
The style is the report's (passed in as ``base_css``) plus a few rules for the rating screen.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

import jinja2
import markupsafe

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
    """The page for one test (``test`` is what ``trials.json`` holds); ``templates/page.html.j2``, autoescaped."""
    template = _environment().get_template("page.html.j2")
    return template.render(
        title=f"Listening test: {test['study']['name']}",
        css=markupsafe.Markup(base_css + CSS),
        trials=len(test["trials"]),
        languages=test.get("languages", []),
        keys=KEYS,
        bands=("Bad", "Poor", "Fair", "Good", "Excellent"),
        test_json=markupsafe.Markup(_json_for_script(test)),
        script=markupsafe.Markup(script()),
    )


@functools.cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.PackageLoader("codecstudy.listen", "templates"), autoescape=True,
                              undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
