"""The removal calendar as a machine type x release matrix (docs/calendar.md).

A column per catalog release shows what that release really has: the machine type present,
present but deprecated, removed (the family is there, this type no longer), or absent (not
yet, or the release lists no type of its family). Columns after the last release are QEMU
versions to come, three a year: there the calendar's milestones say what the age policy
(or QEMU's documents) predict, drawn hatched.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from itertools import islice

from migcompat.model.calendar import (
    MachineLife,
    calendar,
    major_minor,
    milestone_text,
    releases_after,
    text,
)
from migcompat.model.machines import version_key
from migcompat.model.release import Release
from migcompat.report.page import esc, legend

STATES = ("present", "deprecated", "removed", "predicted-deprecated", "predicted-removed",
          "absent")


def observed_state(life: MachineLife, release: Release, index: int,
                   ordered: Sequence[Release]) -> str:
    """What ``release`` (``ordered[index]``) has of the machine type."""
    m = release.machines.machines.get(life.name)
    if m is not None:
        return "deprecated" if m.deprecated is not None else "present"
    first = next(i for i, r in enumerate(ordered) if r.id == life.first_seen)
    family_here = any(x.family == life.family for x in release.machines.machines.values())
    return "removed" if index > first and family_here else "absent"


def predicted_state(life: MachineLife, version: str, last: Release) -> str:
    """What QEMU ``version`` (after the catalog's last release) will have of it."""
    if life.name not in last.machines.machines:
        return "removed" if any(x.family == life.family
                                for x in last.machines.machines.values()) else "absent"
    at = major_minor(version)
    if life.removed is not None and major_minor(life.removed.version) <= at:
        return "predicted-removed"
    if last.machines.machines[life.name].deprecated is not None:
        return "deprecated"
    if life.deprecated is not None and major_minor(life.deprecated.version) <= at:
        return "predicted-deprecated"
    return "present"


def calendar_section(releases: Sequence[Release], future: int = 3,
                     machines: Collection[str] | None = None,
                     lives: Sequence[MachineLife] | None = None,
                     title: str = "Machine types by release",
                     section_id: str = "calendar") -> str:
    """The matrix for ``releases`` (a catalog's), ``future`` QEMU versions beyond its last,
    for every machine type or only ``machines``. ``lives`` defaults to
    ``calendar(releases)``; ``section_id`` must be unique in the page (its table is
    ``SECTION_ID-grid``)."""
    sid = esc(section_id)
    ordered = sorted(releases, key=lambda r: (version_key(r.version or r.id), r.id))
    if not ordered:
        return f'<section id="{sid}"><h2>{esc(title)}</h2><p>No releases.</p></section>'
    lives = calendar(ordered) if lives is None else lives
    chosen = [life for life in lives if machines is None or life.name in machines]
    last = ordered[-1]
    start = major_minor(last.version or last.id)
    coming = [text(v) for v in islice(releases_after(start), 1, future + 1)]
    head = ('<thead><tr><th class="row">machine type</th>'
            + "".join(f'<th class="col">{esc(r.id)}</th>' for r in ordered)
            + "".join(f'<th class="col">{esc(v)}?</th>' for v in coming)
            + '<th class="row">introduced</th><th class="row">deprecated</th>'
              '<th class="row">removed</th></tr></thead>')
    body = []
    for life in chosen:
        cells = []
        for i, rel in enumerate(ordered):
            state = observed_state(life, rel, i, ordered)
            cells.append(f'<td class="m m-{state}" data-state="{state}" '
                         f'title="{esc(life.name)} in {esc(rel.id)}: {state}"></td>')
        for v in coming:
            state = predicted_state(life, v, last)
            cells.append(f'<td class="m m-{state}" data-state="{state}" '
                         f'title="{esc(life.name)} in {esc(v)}: {state}"></td>')
        key = f"{life.name} {life.family}".lower()
        body.append(
            f'<tr class="f cal" data-k="{esc(key)}"><th class="row">{esc(life.name)}</th>'
            + "".join(cells)
            + f'<td class="txt">{esc(life.introduced or "-")}</td>'
              f'<td class="txt">{esc(milestone_text(life.deprecated))}</td>'
              f'<td class="txt">{esc(milestone_text(life.removed))}</td></tr>')
    future_note = f"; {', '.join(coming)}? are QEMU versions to come" if coming else ""
    return (f'<section id="{sid}"><h2>{esc(title)}</h2>'
            f'<p>{len(chosen)} machine types over {len(ordered)} releases{esc(future_note)}, '
            "predicted by QEMU's age policy (docs/calendar.md).</p>"
            + legend({s: f"m-{s}" for s in STATES})
            + f'<div class="scroll"><table class="grid" id="{sid}-grid">{head}<tbody>'
            + "".join(body) + "</tbody></table></div></section>")
