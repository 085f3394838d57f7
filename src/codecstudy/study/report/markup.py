"""The report's markup: its CSS (shared with the listening page), number format and the Jinja2 templates.

The page is rendered from ``templates/*.j2`` with autoescaping on, so every value that comes from data (a study
name, a set name, a clip id) is escaped by the template engine rather than by hand.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import jinja2
import markupsafe

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:1200px;padding:0 1rem;
color:#222;line-height:1.4}
h1{font-size:1.6rem}h2{font-size:1.25rem;border-bottom:1px solid #ccc;padding-bottom:.2rem;margin-top:2rem}
h3{font-size:1.05rem}
table{border-collapse:collapse;margin:.5rem 0 1rem;font-size:.85rem}
th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:right;vertical-align:top}
th:first-child,td:first-child{text-align:left}th{background:#f4f4f4}
td.best b{color:#0a5}td.worst u{color:#b30}td.noise{color:#999}
.ci{color:#777;font-size:.75rem}.sig{color:#0a5;font-weight:bold}
.warn{background:#fff4e5;border-left:4px solid #f90;padding:.5rem 1rem}
.ok{background:#eef9f0;border-left:4px solid #0a5;padding:.5rem 1rem}
figure{margin:1rem 0}figure img{max-width:100%;border:1px solid #eee}
figcaption{font-size:.8rem;color:#555}
audio{width:220px;height:32px}
pre{background:#f7f7f7;padding:.75rem;overflow:auto;font-size:.75rem;max-height:30rem}
nav a{margin-right:.8rem}.scroll{overflow-x:auto}td.paper{white-space:nowrap}
.mark.speakers{color:#a60;font-size:.75rem}.note{font-size:.8rem;color:#555}
"""

SCRIPT = """
(function(){
  function mark(){
    var players=document.querySelectorAll('audio');var ready=0,failed=0;
    players.forEach(function(a){
      if(a.readyState>=1){a.dataset.state='ready';a.dataset.duration=a.duration.toFixed(3);ready++;}
      else if(a.error){a.dataset.state='error';failed++;}
    });
    document.body.dataset.audioReady=ready;document.body.dataset.audioFailed=failed;
    document.body.dataset.audioTotal=players.length;
  }
  document.querySelectorAll('audio').forEach(function(a){
    a.addEventListener('loadedmetadata',mark);a.addEventListener('error',mark,true);a.load();
  });
  window.addEventListener('load',mark);mark();
})();
"""


def number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def fmt(value: Any, digits: int = 3) -> str:
    value = number(value)
    return "n/a" if not math.isfinite(value) else f"{value:.{digits}f}"


def truthy(value: Any) -> bool:
    """A CSV cell's boolean (``True``, ``true``, ``1``, ``yes``)."""
    return str(value).strip().lower() in ("true", "1", "yes")


@functools.cache
def environment() -> jinja2.Environment:
    """The report's templates (``templates/*.j2`` beside this module), every value escaped unless marked safe."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("codecstudy.study.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    env.filters["fmt"] = fmt
    env.filters["truthy"] = truthy
    return env


def render_template(name: str, **context: Any) -> str:
    return environment().get_template(name).render(css=markupsafe.Markup(CSS), script=markupsafe.Markup(SCRIPT),
                                                   **context)


def macro(template: str, name: str) -> Any:
    """A template's macro as a Python function (returns escaped markup): the report's pieces, testable alone."""
    return getattr(environment().get_template(template).module, name)


def simple_table(rows: list[dict[str, Any]], columns: list[str], table_id: str = "") -> str:
    return str(macro("macros.html.j2", "simple_table")(rows, columns, table_id))
