"""``check``'s text output, written for the operator who reads it: the verdict and the
counts first, then what breaks, what the guest would see, and the fix; notes are counted
per reason code unless ``--verbose`` lists them.

Piped output keeps each finding on one line (``grep`` finds it whole); a terminal wraps a
long finding with a hanging indent.
"""

from __future__ import annotations

import itertools
import textwrap
from collections import Counter
from collections.abc import Sequence
from typing import Any

from migcompat.analysis.check import CheckResult, Reason
from migcompat.analysis.fixes import Fix
from migcompat.analysis.sections import has_state_schemas
from migcompat.cli.output import out
from migcompat.errors import MigcompatError
from migcompat.model.vm import VMConfig
from migcompat.vm.captured import plan_captured
from migcompat.vm.live import plan_sections

VERDICT_TEXT = {"compatible": "[green]compatible[/green]",
                "guest-visible": "[yellow]guest-visible[/yellow]: it loads, the guest sees "
                                 "different hardware",
                "incompatible": "[red]INCOMPATIBLE[/red]", "refused": "[red]REFUSED[/red]"}
# The reasons that say a part of the state was not compared: they qualify the verdict.
UNCOMPARED = ("state-not-compared", "state-not-captured", "schema-missing")


def line(text: str, indent: str = "  ", markup: bool = False) -> None:
    console = out()
    if not console.is_terminal:
        console.print(indent + text, markup=markup, soft_wrap=True)
    elif markup:  # the verdict line: rich wraps it, colours and all
        console.print(indent + text)
    else:
        console.print(textwrap.fill(text, width=max(console.width, 40), initial_indent=indent,
                                    subsequent_indent=indent + "    ",
                                    break_on_hyphens=False, break_long_words=False),
                      markup=False, soft_wrap=True)


def _uncompared(res: CheckResult) -> str:
    """What the verdict does not cover: "usb-tablet#1 state not compared"."""
    found = [r for r in res.reasons if r.code in UNCOMPARED]
    if not found:
        return ""
    named = list(dict.fromkeys(r.device for r in found if r.device))
    if any(r.device is None for r in found):
        named.append("the board's" if all(r.code == "state-not-captured" for r in found
                                          if r.device is None) else "device")
    shown = ", ".join(named[:3]) + (f" and {len(named) - 3} more" if len(named) > 3 else "")
    return f"{shown} state not compared"


def _counts(res: CheckResult) -> str:
    kinds = Counter(r.category for r in res.reasons)
    return (f"{kinds['breaking']} breaking, {kinds['guest-visible']} guest-visible, "
            f"{kinds['note']} notes")


def _note_kind(r: Reason) -> str:
    return f"equivalent {r.code}" if "equivalent" in r.detail else r.code


def state_compared(res: CheckResult) -> dict[str, Any] | None:
    """What the device-state rules compared: the sections and RAM blocks the source sends,
    and where both sides' schemas came from. None when a side did not realize."""
    if res.src_vm is None or res.dst_vm is None:
        return None
    if not (has_state_schemas(res.src_vm) and has_state_schemas(res.dst_vm)):
        return None
    def origin(vm: Any) -> str:
        return "captured" if vm.release.has_capture else (
            "catalog" if vm.release.vmstate else "none")
    try:
        sections = len(plan_sections(res.src_vm))
    except (KeyError, MigcompatError):
        return None
    plan = plan_captured(res.src_vm)
    return {"sections": sections, "ram_blocks": None if plan is None else len(plan.ram),
            "source": origin(res.src_vm), "destination": origin(res.dst_vm)}


def side_name(config: VMConfig) -> str:
    return f"{config.release.id}:{config.machine}"


def result_json(res: CheckResult) -> dict[str, Any]:
    """One direction as JSON (docs/json.md)."""
    def side(c: VMConfig, vm: Any) -> dict[str, Any]:
        return {"release": c.release.id, "machine": vm.machine.name if vm else c.machine,
                "smp": c.smp, "memory": c.mem, "devices": [d.text() for d in c.devices]}
    return {"verdict": res.verdict, "loads": res.loads,
            "compatible": res.compatible, "refused": res.refused,
            "source": side(res.source, res.src_vm),
            "destination": side(res.dest, res.dst_vm),
            "reasons": [r.to_json() for r in res.breaking()],
            "notes": [r.to_json() for r in res.reasons if not r.breaking],
            "state_compared": state_compared(res)}


def print_result(res: CheckResult, explain: bool, verbose: bool, hop: str = "") -> None:
    """One direction: its verdict line, findings and notes; ``hop`` names a hop of a chain
    ("hop 2: A -> B  compatible ...")."""
    qualifier = "; ".join(x for x in (_uncompared(res), _counts(res)) if x)
    path = f"{side_name(res.source)} -> {side_name(res.dest)}"
    head = f"{hop}: {path} " if hop else f"{path}:"
    line(f"{head} {VERDICT_TEXT[res.verdict]} ({qualifier})", indent="", markup=True)
    for mark, category in (("x", "breaking"), ("~", "guest-visible")):
        for r in res.reasons:
            if r.category == category:
                line(f"{mark} {r.code}: {r.message}")
                if explain:
                    _print_provenance(r)
    notes = [r for r in res.reasons if r.category == "note"]
    if verbose:
        for r in notes:
            line(f"- {r.code}: {r.message}")
        compared = state_compared(res)
        if compared is not None and compared["sections"]:
            ram = (f" and {compared['ram_blocks']} RAM blocks"
                   if compared["ram_blocks"] is not None else "")
            line(f"device state: {compared['sections']} sections{ram} the source sends, "
                 f"compared ({compared['source']} / {compared['destination']} schemas)")
    elif notes:
        kinds = Counter(_note_kind(r) for r in notes)
        line("notes: " + ", ".join(f"{n} {k}" for k, n in kinds.most_common())
             + "; --verbose lists them")


def _print_provenance(r: Reason) -> None:
    for side in ("source", "destination"):
        info = r.detail.get(side)
        if isinstance(info, dict):
            layers = ", ".join(f"{p['source']}={p['value']}" + (f" ({p['table']})"
                               if "table" in p else "") for p in info["provenance"])
            line(f"{side}: {layers}", indent="      ")


def print_fixes(fixes: Sequence[Fix], where: Sequence[str] = ()) -> None:
    """Each fix on one line; ``where`` (one per fix) says where a chain's fix goes, in
    place of the side's name."""
    for f, at in itertools.zip_longest(fixes, where[:len(fixes)]):
        if not f.args:  # nothing to try: the reason why is the answer
            line(f"fix: {at + ': ' if at else ''}{f.why}")
            continue
        mark = "verified" if f.verified else "not verified"
        boot = ", needs a cold boot" if f.needs_cold_boot else ""
        then = f" -> {f.verdict}" if f.verdict else ""
        line(f"fix ({mark}{boot}): {at or f.side}: {' '.join(f.args)}{then}: {f.why}")
