"""A ``plan`` as a page: the fleet by action, the machine types behind each action, and a
row per distinct config with the verdict of each step both ways (docs/report.md).

The page is drawn from the distinct configs, not the VMs: a million VMs with two hundred
configs make two hundred rows, each carrying its VM count and the first VM names.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from migcompat.analysis.plan import ACTIONS, ConfigPlan
from migcompat.model.machines import version_key
from migcompat.report.page import COLOURS, OTHER_COLOUR, esc, legend

# A step's cell: the worse of its two verdicts (forward, back), calmest first.
VERDICTS = ("compatible", "guest-visible", "incompatible", "refused")
STEP_STATES = (*VERDICTS, "not-checked")


@dataclass(frozen=True)
class PlannedConfig:
    """One distinct config of the fleet: its plan, how many VMs have it, what people call
    it (``release:machine drivers``) and the first VM names."""

    plan: ConfigPlan
    vms: int
    label: str
    names: tuple[str, ...]


def step_columns(configs: Sequence[PlannedConfig]) -> list[tuple[str, str]]:
    """Every (source, dest) step some config takes, oldest source first."""
    seen: dict[tuple[str, str], None] = {}
    for c in configs:
        for s in c.plan.steps:
            seen.setdefault((s.source, s.dest), None)
        if c.plan.cold_boot is not None:  # a cold-boot config's path, not checked
            path = c.plan.path
            for a, b in itertools.pairwise(path):
                seen.setdefault((a, b), None)
    return sorted(seen, key=lambda k: (version_key(k[0]), version_key(k[1])))


def _worse(a: str, b: str) -> str:
    rank = {v: i for i, v in enumerate(VERDICTS)}
    return max(a, b, key=lambda v: rank.get(v, len(VERDICTS)))


def _step_cell(plan: ConfigPlan, step: tuple[str, str]) -> str:
    found = next((s for s in plan.steps if (s.source, s.dest) == step), None)
    if found is not None:
        state = _worse(found.forward, found.back)
        text = f"{found.forward} / {found.back}"
        if found.weak:
            text += " (state not compared)"
    elif plan.cold_boot is not None and step[1] in plan.cold_boot.missing_in:
        state, text = "refused", f"{plan.machine} missing in {step[1]}"
    elif step[0] in plan.path and step[1] in plan.path:
        state, text = "not-checked", "not checked: cold boot first"
    else:
        return '<td class="st"></td>'
    return (f'<td class="st v-{state}" data-state="{state}" '
            f'title="{esc(step[0])} -> {esc(step[1])}: {esc(text)}">{esc(text)}</td>')


def configs_section(configs: Sequence[PlannedConfig]) -> str:
    """A row per distinct config, the most pressing action first, then the most VMs."""
    steps = step_columns(configs)
    ordered = sorted(configs, key=lambda c: (-ACTIONS.index(c.plan.action), -c.vms, c.label))
    head = ('<thead><tr><th>action</th><th>VMs</th><th>config</th>'
            + "".join(f"<th>{esc(a)} &rarr; {esc(b)}<br><small>forward / back</small></th>"
                      for a, b in steps)
            + "<th>pins</th><th>what to do</th></tr></thead>")
    body = []
    for c in ordered:
        p = c.plan
        names = ", ".join(c.names) + (", ..." if c.vms > len(c.names) else "")
        key = " ".join([p.action, c.label, p.machine, *p.pin_args, *c.names]).lower()
        advice = "".join(f"<li>{esc(a)}</li>" for a in p.advice)
        body.append(
            f'<tr class="f cfg" data-k="{esc(key)}" data-action="{esc(p.action)}" '
            f'data-vms="{c.vms}"><td class="act a-{esc(p.action)}">{esc(p.action)}</td>'
            f'<td class="num">{c.vms}</td><td class="cfgl">{esc(c.label)}'
            f"<br><small>{esc(names)}</small></td>"
            + "".join(_step_cell(p, s) for s in steps)
            + f'<td class="pins"><code>{esc(" ".join(p.pin_args))}</code></td>'
            f'<td class="adv"><ul>{advice}</ul></td></tr>')
    return ('<section id="configs"><h2>Distinct configs</h2>'
            f"<p>{len(configs)} distinct configs. A step's cell is coloured by the worse "
            "of its two verdicts.</p>"
            + legend({s: f"v-{s}" for s in STEP_STATES})
            + '<div class="scroll"><table class="plan" id="configs-table">' + head
            + "<tbody>" + "".join(body) + "</tbody></table></div></section>")


def machines_section(configs: Sequence[PlannedConfig]) -> str:
    """VMs per machine type (as their hosts run it), each bar split by action: which
    machine types make the cold boots and the pins."""
    per: dict[str, dict[str, int]] = {}
    for c in configs:
        row = per.setdefault(c.plan.machine, dict.fromkeys(ACTIONS, 0))
        row[c.plan.action] += c.vms
    names = sorted(per, key=lambda m: (-sum(per[m].values()), m))
    label_w, bar_w, row_h = 150, 420, 22
    top = max([sum(v.values()) for v in per.values()] + [1])
    height = row_h * len(names) + 8
    width = label_w + bar_w + 90
    parts = [f'<svg class="chart" id="machine-chart" role="img" width="{width}" '
             f'height="{height}" viewBox="0 0 {width} {height}" '
             'xmlns="http://www.w3.org/2000/svg"><title>VMs by machine type and action'
             "</title>"]
    for i, name in enumerate(names):
        y, x = 4 + i * row_h, float(label_w)
        total = sum(per[name].values())
        parts.append(f'<g class="mrow" data-machine="{esc(name)}" data-count="{total}">'
                     f'<text x="{label_w - 8}" y="{y + 15}" text-anchor="end">{esc(name)}'
                     "</text>")
        for action in ACTIONS:
            n = per[name][action]
            if not n:
                continue
            w = max(2.0, bar_w * n / top)
            parts.append(f'<rect class="seg" data-action="{action}" data-count="{n}" '
                         f'x="{x:.1f}" y="{y + 3}" width="{w:.1f}" height="{row_h - 6}" '
                         f'fill="{COLOURS.get(action, OTHER_COLOUR)}"><title>{esc(name)}: '
                         f"{n} VMs {action}</title></rect>")
            x += w
        parts.append(f'<text x="{x + 6:.1f}" y="{y + 15}">{total}</text></g>')
    parts.append("</svg>")
    return ('<section id="machines"><h2>VMs by machine type</h2>'
            + legend({a: f"a-{a}" for a in ACTIONS}) + "".join(parts) + "</section>")


# The plan's own colours; the rest of the style is page.py's.
STYLE = (
    "table.plan{border-collapse:collapse;font-size:12px}"
    ".plan th,.plan td{border:1px solid #ddd;padding:.25em .5em;vertical-align:top}"
    ".plan thead th{position:sticky;top:0;background:#fff;z-index:2;text-align:left}"
    ".plan td.num{text-align:right}.plan ul{margin:0;padding-left:1.1em}"
    ".plan td.st{white-space:nowrap}.plan td.pins code{font-size:11px}"
    + "".join(f".a-{a}{{background:{COLOURS[a]};color:#fff}}" for a in ACTIONS)
    + ".v-compatible{background:#c9ecc9}.v-guest-visible{background:#f7e39c}"
    ".v-incompatible{background:#f4b6b6}.v-refused{background:#d9534f;color:#fff}"
    ".v-not-checked{background:#eee;color:#666}"
)
