"""``report.html``: one self-contained page (figures embedded as PNG data URIs, no external
resource), readable offline."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from aira_eval.analysis.sections import Section, alignments

TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ meta.title }}</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em;
       color: #222; line-height: 1.45; }
table { border-collapse: collapse; margin: .5em 0 1.5em; font-size: 0.85em; }
th, td { padding: .25em .6em; border-bottom: 1px solid #ddd; text-align: right;
         white-space: nowrap; }
th { border-bottom: 2px solid #444; }
th.l, td.l { text-align: left; }
caption { caption-side: top; text-align: left; font-size: 0.95em; margin-bottom: .4em; }
figure { margin: 1em 0 2em; } img { max-width: 100%; }
figcaption, caption { color: #333; } .empty { background: #fff4e5; padding: .5em 1em; }
pre { background: #f5f5f5; padding: .6em; overflow-x: auto; }
.wrap { overflow-x: auto; }
</style></head><body>
<h1>{{ meta.title }}</h1><p>{{ meta.summary }}</p>
<nav><ol>{% for s in sections %}<li><a href="#{{ s.key }}">{{ s.title }}</a></li>{% endfor %}
</ol></nav>
{% for s in sections %}
<section id="{{ s.key }}"><h2>{{ loop.index }}. {{ s.title }}</h2>
{% if s.intro %}<p>{{ s.intro }}</p>{% endif %}
{% if s.empty %}<p class="empty"><strong>Empty:</strong> {{ s.empty }}.</p>{% endif %}
{% for t in s.tables %}<div class="wrap"><table>
<caption><strong>Table: {{ t.title }}.</strong> {{ t.caption }}</caption>
<thead><tr>{% for c, a in t.columns %}<th class="{{ a }}">{{ c }}</th>{% endfor %}</tr></thead>
<tbody>{% for row in t.rows %}<tr>{% for v, a in row %}<td class="{{ a }}">{{ v }}</td>{% endfor %}
</tr>
{% endfor %}</tbody></table></div>
{% endfor %}
{% for f in s.figures %}<figure><img alt="{{ f.title }}" src="{{ f.src }}">
<figcaption><strong>Figure: {{ f.title }}.</strong> {{ f.caption }}</figcaption></figure>
{% endfor %}
{% if s.code %}<pre>{{ s.code | join("\\n") }}</pre>{% endif %}
{% if s.notes %}<ul>{% for n in s.notes %}<li>{{ n }}</li>{% endfor %}</ul>{% endif %}
</section>
{% endfor %}
</body></html>
"""


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _table(frame: pd.DataFrame) -> dict[str, Any]:
    align = alignments(frame)
    return {"columns": list(zip([str(c) for c in frame.columns], align, strict=True)),
            "rows": [list(zip([str(v) for v in row], align, strict=True))
                     for row in frame.itertuples(index=False)]}


def write(sections: Sequence[Section], meta: dict[str, Any], out: Path) -> Path:
    import jinja2

    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    view = [{"key": s.key, "title": s.title, "intro": s.intro, "empty": s.empty,
             "notes": s.notes, "code": s.code,
             "tables": [{"title": t.title, "caption": t.caption, **_table(t.display)}
                        for t in s.tables],
             "figures": [{"title": f.title, "caption": f.caption, "src": _data_uri(f.files["png"])}
                         for f in s.figures if "png" in f.files]}
            for s in sections]
    html = env.from_string(TEMPLATE).render(meta=meta, sections=view)
    path = out / "report.html"
    path.write_text(html, encoding="utf-8")
    return path
