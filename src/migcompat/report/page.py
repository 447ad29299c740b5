"""The page and its charts: one HTML file that needs nothing but a browser.

Everything is inline: the style sheet, the SVG charts and a few lines of vanilla JS (the
search box and the provenance panel). A charting library would add hundreds of kilobytes
for a bar chart and two coloured tables, which plain SVG and CSS draw in a few lines that
anyone can read in the file itself (docs/report.md). Every string that comes from a catalog
or an inventory goes through :func:`esc`: a type or machine name can be hostile.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping, Sequence

ACTIONS = ("none", "pin", "cold-boot", "cannot-move")  # a plan's actions, calmest first
COLOURS = {
    # diff classes
    "unpinned": "#d62728", "pinned": "#2ca02c", "new": "#1f77b4", "removed": "#9467bd",
    "unknown": "#ff7f0e", "equal": "#e4e4e4",
    # plan actions
    "none": "#2ca02c", "pin": "#1f77b4", "cold-boot": "#f0a030", "cannot-move": "#d62728",
}
OTHER_COLOUR = "#7f7f7f"


def esc(text: object) -> str:
    """Text for HTML content or a quoted attribute."""
    return html.escape(str(text), quote=True)


def json_script(element_id: str, data: object) -> str:
    """Data for the page's JS, in a ``<script type=application/json>`` that no value can
    close early (every ``<`` escaped, so a hostile ``</script>`` stays a string)."""
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return f'<script type="application/json" id="{esc(element_id)}">{text}</script>'


def bar_chart(counts: Mapping[str, int], order: Sequence[str], title: str,
              chart_id: str) -> str:
    """Horizontal bars, one per key of ``order`` then any other key of ``counts``."""
    keys = [k for k in order if k in counts] + sorted(k for k in counts if k not in order)
    label_w, bar_w, row_h = 130, 360, 24
    top = max([counts[k] for k in keys] + [1])
    height = row_h * len(keys) + 8
    parts = [f'<svg class="chart" id="{esc(chart_id)}" role="img" width="{label_w + bar_w + 80}"'
             f' height="{height}" viewBox="0 0 {label_w + bar_w + 80} {height}"'
             f' xmlns="http://www.w3.org/2000/svg"><title>{esc(title)}</title>']
    for i, key in enumerate(keys):
        y = 4 + i * row_h
        n = counts[key]
        # a non-zero count gets at least a sliver, so it is never mistaken for zero
        w = 0 if n <= 0 else max(2, round(bar_w * n / top))
        parts.append(
            f'<g class="bar" data-key="{esc(key)}" data-count="{n}">'
            f'<text x="{label_w - 8}" y="{y + 16}" text-anchor="end">{esc(key)}</text>'
            f'<rect x="{label_w}" y="{y + 3}" width="{w}" height="{row_h - 6}"'
            f' fill="{COLOURS.get(key, OTHER_COLOUR)}"><title>{esc(key)}: {n}</title></rect>'
            f'<text x="{label_w + w + 6}" y="{y + 16}">{n}</text></g>')
    parts.append("</svg>")
    return "".join(parts)


def fleet_section(summary: Mapping[str, int], title: str = "Fleet summary",
                  note: str = "") -> str:
    """A plan's VMs counted per action (none, pin, cold-boot, cannot-move; any other key
    after them), as a bar chart with the total."""
    total = sum(summary.values())
    return (f'<section id="fleet"><h2>{esc(title)}</h2>'
            f'<p>{total} VMs{": " + esc(note) if note else ""}</p>'
            + bar_chart(summary, ACTIONS, title, "fleet-chart") + "</section>")


def legend(entries: Mapping[str, str]) -> str:
    """Name -> the CSS class of its swatch."""
    return '<p class="legend">' + "".join(
        f'<span><i class="{esc(css)}"></i>{esc(name)}</span>' for name, css in entries.items()
    ) + "</p>"


STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;background:#fff}
h1{font-size:1.5em;margin:0 0 .2em}h2{font-size:1.2em;margin:1.5em 0 .4em}
.sub{color:#555;margin:0 0 1em}
#search{position:sticky;top:0;background:#fff;padding:.5em 0;z-index:3;border-bottom:1px solid #ddd}
nav{margin:.2em 0 .6em}nav a{color:#1f5fa0}
#q{font-size:1em;padding:.3em .5em;width:24em}#qn{color:#555;margin-left:1em}
.chart text{font-size:13px;fill:#222}
.legend span{margin-right:1.2em;white-space:nowrap}
.legend i{display:inline-block;width:1em;height:1em;vertical-align:-.15em;margin-right:.3em;
 border:1px solid #999}
.scroll{overflow:auto;max-height:70vh;border:1px solid #ddd}
table.grid{border-collapse:collapse;font-size:12px}
.grid th,.grid td{border:1px solid #fff;padding:0}
.grid th.row{text-align:left;padding:0 .5em;white-space:nowrap;font-weight:normal;
 position:sticky;left:0;background:#fff;z-index:1}
.grid thead th{position:sticky;top:0;background:#fff;z-index:2}
.grid thead th.col{writing-mode:vertical-rl;transform:rotate(180deg);padding:.3em 0;
 font-weight:normal;height:8em;text-align:left}
.grid td{width:14px;height:14px;min-width:14px}
.grid td.txt{width:auto;padding:0 .5em;white-space:nowrap;color:#444}
#detail{white-space:pre-wrap;background:#f7f7f7;border:1px solid #ddd;padding:.5em;
 min-height:2.5em;font:12px/1.35 monospace}
#heatmap td.u,.hm-u{background:#d62728}#heatmap td.p,.hm-p{background:#2ca02c}
#heatmap td.n,.hm-n{background:#1f77b4}#heatmap td.r,.hm-r{background:#9467bd}
#heatmap td.k,.hm-k{background:#ff7f0e}#heatmap td.e,.hm-e{background:#e4e4e4}
#heatmap td.a,.hm-a{background:#fff;outline:1px dotted #ccc;outline-offset:-2px}
.m-present{background:#8fd18f}.m-deprecated{background:#f2c14e}.m-removed{background:#c44e52}
.m-predicted-deprecated{background:repeating-linear-gradient(45deg,#f2c14e 0 3px,#fff 3px 6px)}
.m-predicted-removed{background:repeating-linear-gradient(45deg,#c44e52 0 3px,#fff 3px 6px)}
.m-absent{background:#f4f4f4}
.grid td.m{width:3.2em}
"""

# The search box filters every row marked ``f`` by its ``data-k`` (lower-case text); a
# ``#q=TEXT`` in the address fills it in. A heat-map cell shows both sides' provenance in
# its tooltip (set on first hover, so the file stays small) and, on click, in #detail.
SCRIPT = """
(function(){
var q=document.getElementById('q'),qn=document.getElementById('qn');
var rows=Array.prototype.slice.call(document.querySelectorAll('tr.f'));
function apply(){var t=q.value.trim().toLowerCase(),n=0;
 rows.forEach(function(tr){var hit=!t||tr.getAttribute('data-k').indexOf(t)>=0;
  tr.hidden=!hit;if(hit)n++;});
 qn.textContent=n+' of '+rows.length+' rows';}
q.addEventListener('input',apply);
var m=/[#&]q=([^&]*)/.exec(location.hash);if(m){q.value=decodeURIComponent(m[1]);}
apply();
var el=document.getElementById('diff-data');if(!el)return;
var data=JSON.parse(el.textContent),cols=data.machines,detail=document.getElementById('detail');
function about(td){var tr=td.parentNode,p=data.props[+tr.getAttribute('data-p')];
 if(td.className==='a')return null;
 var side=p.rows[+(td.getAttribute('data-r')||0)],mach=cols[td.cellIndex-1];
 return p.name+' under '+mach+' ('+p.cls+')\\n'+data.old+': '+side[0]+'\\n'+data.new+': '+side[1];}
var map=document.getElementById('heatmap');
map.addEventListener('mouseover',function(e){var td=e.target;
 if(td.tagName==='TD'&&!td.title){var t=about(td);if(t)td.title=t;}});
map.addEventListener('click',function(e){var td=e.target;
 if(td.tagName==='TD'){var t=about(td);if(t)detail.textContent=t;}});
})();
"""


def _nav(sections: Sequence[str]) -> str:
    """Links to the sections, by their ids and headings."""
    found = [re.match(r'<section id="([^"]+)"><h2>(.*?)</h2>', x) for x in sections]
    links = [f'<a href="#{m.group(1)}">{m.group(2)}</a>' for m in found if m]
    return f'<nav>{" &middot; ".join(links)}</nav>' if len(links) > 1 else ""


def page(title: str, sections: Sequence[str], subtitle: str = "", style: str = "",
         search: str = "type, property, machine, class") -> str:
    """The whole document around already rendered ``sections``; ``style`` is the
    sections' own CSS, ``search`` what the search box matches (its placeholder)."""
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            '<meta name="viewport" content="width=device-width,initial-scale=1">'
            f"<title>{esc(title)}</title><style>{STYLE}{style}</style></head><body>"
            f"<h1>{esc(title)}</h1>"
            + (f'<p class="sub">{esc(subtitle)}</p>' if subtitle else "")
            + '<div id="search"><input id="q" type="search" placeholder="filter rows: '
            + esc(search) + '" aria-label="filter rows"><span id="qn"></span></div>'
            + _nav(sections) + "".join(sections)
            + f"<script>{SCRIPT}</script></body></html>\n")
