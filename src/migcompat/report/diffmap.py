"""A ``diff`` as a heat map: one row per type property that differs, one column per
machine type both releases know, each cell coloured by what that machine type sees.

A cell's colour is the property's class where that machine type is concerned: ``unpinned``
(or ``unknown``) where its values differ, ``pinned`` where a compat entry keeps the old
value, ``new``/``removed`` where only one side has the property, ``equal`` elsewhere, and
blank where a side does not evaluate the type under that machine type. Both sides'
provenance (every layer, oldest first) is in the page's data, once per group of machine
types that see the same pair (:class:`migcompat.analysis.diff.Row`), and the page's script
shows it on hover and click.
"""

from __future__ import annotations

from migcompat.analysis.defaults import SMPS, Outcome
from migcompat.analysis.diff import CLASSES, PropertyDiff, ReleaseDiff, Row
from migcompat.model.props import format_value
from migcompat.model.vm import Layer
from migcompat.report.page import bar_chart, esc, json_script, legend

ORDER = ("unpinned", "unknown", "pinned", "removed", "new", "equal")  # most urgent first
# A cell's class, one letter: a large diff draws tens of thousands of cells.
CELL = {"unpinned": "u", "unknown": "k", "pinned": "p", "removed": "r", "new": "n",
        "equal": "e", "absent": "a"}


def property_name(p: PropertyDiff) -> str:
    return f"{p.type}.{p.object}/{p.property}" if p.object else f"{p.type}.{p.property}"


def _layer(kind: str, layer: Layer) -> str:
    where = layer.source
    if layer.table:
        where += f" {layer.table}" + (f"[{layer.index}]" if layer.index >= 0 else "")
    elif layer.file:
        where += f" {layer.file}" + (f":{layer.line}" if layer.line else "")
    if layer.detail:
        where += f" ({layer.detail})"
    return f"{where} = {format_value(kind, layer.value) or '-'}"


def outcome_text(o: Outcome | None) -> str:
    """One side: its values after realize and the layers that set them."""
    if o is None:
        return "(absent)"
    values = "/".join(format_value(o.kind, v) or "-" for v in o.realized)
    smp = "/".join(str(n) for n in SMPS)
    return f"{values} (vCPUs {smp}); " + " -> ".join(_layer(o.kind, x) for x in o.provenance)


def cell_class(p: PropertyDiff, row: Row) -> str:
    if p.cls == "new":
        return "new" if row.new is not None else "absent"
    if p.cls == "removed":
        return "removed" if row.old is not None else "absent"
    if p.cls in ("unpinned", "unknown"):
        return "equal" if row.same else p.cls
    if p.cls == "pinned" and row.new is not None and \
            any(layer.source == "compat" for layer in row.new.provenance):
        return "pinned"
    return "equal"


def diff_section(result: ReleaseDiff, old_label: str, new_label: str,
                 include_equal: bool = False) -> str:
    """The heat map, its legend, the class counts as a chart and the provenance panel."""
    counts = result.counts()
    machines = result.machines
    chosen = sorted((p for p in result.properties if include_equal or p.cls != "equal"),
                    key=lambda p: (ORDER.index(p.cls), property_name(p)))
    data_props = []
    body = []
    for i, p in enumerate(chosen):
        name = property_name(p)
        at: dict[str, int] = {}
        sides = []
        for r, row in enumerate(p.rows):
            sides.append([outcome_text(row.old), outcome_text(row.new)])
            at.update(dict.fromkeys(row.machines, r))
        data_props.append({"name": name, "cls": p.cls, "rows": sides})
        cells = []
        for m in machines:
            at_row = at.get(m)
            # (a td needs no end tag; data-r, the row of provenance, is 0 unless given)
            if at_row is None:
                cells.append("<td class=a>")
            else:
                code = CELL[cell_class(p, p.rows[at_row])]
                cells.append(f"<td class={code}>" if at_row == 0 else
                             f"<td class={code} data-r={at_row}>")
        key = f"{name} {p.cls} {p.declared_by}".lower()
        body.append(f'<tr class="f hm" data-p="{i}" data-cls="{p.cls}" data-k="{esc(key)}">'
                    f'<th class="row">{esc(name)} <small>{p.cls}</small></th>'
                    + "".join(cells) + "</tr>")
    head = ('<thead><tr><th class="row">property</th>'
            + "".join(f'<th class="col">{esc(m)}</th>' for m in machines) + "</tr></thead>")
    data = {"old": old_label, "new": new_label, "machines": machines, "props": data_props}
    summary = ", ".join(f"{counts[c]} {c}" for c in CLASSES)
    return (f'<section id="diff"><h2>Properties: {esc(old_label)} &rarr; {esc(new_label)}</h2>'
            f'<p>{len(machines)} machine types both know; {esc(summary)}'
            f'{"" if include_equal else " (equal properties not drawn)"}.</p>'
            + bar_chart(counts, CLASSES, "properties per class", "class-chart")
            + legend({c: f"hm-{CELL[c]}" for c in (*ORDER, "absent")})
            + '<p>Hover over a cell for both sides\' provenance; click to keep it here:</p>'
              '<div id="detail">(click a cell)</div>'
            + f'<div class="scroll"><table class="grid" id="heatmap">{head}<tbody>'
            + "".join(body) + "</tbody></table></div>"
            + json_script("diff-data", data) + "</section>")
