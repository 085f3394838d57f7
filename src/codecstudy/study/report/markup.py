"""The report's markup parts shared by its sections and the listening page: CSS, escaping, number format, tables.

Pure functions of their arguments; every text that comes from data goes through :func:`esc`.
"""

from __future__ import annotations

import html
import math
from typing import Any

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:1200px;padding:0 1rem;
color:#222;line-height:1.4}
h1{font-size:1.6rem}h2{font-size:1.25rem;border-bottom:1px solid #ccc;padding-bottom:.2rem;margin-top:2rem}
h3{font-size:1.05rem}
table{border-collapse:collapse;margin:.5rem 0 1rem;font-size:.85rem}
th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:right;vertical-align:top}
th:first-child,td:first-child{text-align:left}th{background:#f4f4f4}
td.best b{color:#0a5}td.worst u{color:#b30}
.ci{color:#777;font-size:.75rem}.sig{color:#0a5;font-weight:bold}
.warn{background:#fff4e5;border-left:4px solid #f90;padding:.5rem 1rem}
.ok{background:#eef9f0;border-left:4px solid #0a5;padding:.5rem 1rem}
figure{margin:1rem 0}figure img{max-width:100%;border:1px solid #eee}
figcaption{font-size:.8rem;color:#555}
audio{width:220px;height:32px}
pre{background:#f7f7f7;padding:.75rem;overflow:auto;font-size:.75rem;max-height:30rem}
nav a{margin-right:.8rem}.scroll{overflow-x:auto}td.paper{white-space:nowrap}
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


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def fmt(value: Any, digits: int = 3) -> str:
    value = number(value)
    return "n/a" if not math.isfinite(value) else f"{value:.{digits}f}"


def truthy(value: Any) -> bool:
    return str(value).strip().lower() in ("true", "1", "yes")


def simple_table(rows: list[dict[str, Any]], columns: list[str], table_id: str = "") -> str:
    if not rows:
        return "<p>none</p>"
    head = "".join(f"<th>{esc(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f'<td data-col="{esc(c)}">{esc(r.get(c, ""))}</td>' for c in columns) + "</tr>" for r in rows
    )
    ident = f' id="{esc(table_id)}"' if table_id else ""
    return f"<table{ident}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
