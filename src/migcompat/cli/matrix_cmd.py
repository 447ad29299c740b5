"""``matrix``: `check` for every machine type of a release at once (docs/check.md)."""

from __future__ import annotations

import fnmatch
from typing import Any

import click
from rich.table import Table

from migcompat.analysis.check import CheckResult, check
from migcompat.catalog.load import find_release
from migcompat.cli.options import (
    VMArgs,
    both_directions_choice,
    catalog_option,
    format_option,
    vm_config,
    vm_options,
)
from migcompat.cli.output import emit_json, out
from migcompat.errors import EXIT_INCOMPATIBLE, UsageError
from migcompat.model.release import Release
from migcompat.model.vm import VMConfig


def _verdict(res: CheckResult) -> str:
    if res.compatible:
        return "compatible"
    return "refused" if res.refused else "INCOMPATIBLE"


def _row(res: CheckResult) -> dict[str, Any]:
    breaking = res.breaking()
    return {"verdict": _verdict(res), "compatible": res.compatible, "refused": res.refused,
            "reasons": [{"code": r.code, "category": r.category, "message": r.message}
                        for r in breaking]}


def _first(row: dict[str, Any]) -> str:
    reasons = row["reasons"]
    if not reasons:
        return ""
    more = f" (+{len(reasons) - 1} more)" if len(reasons) > 1 else ""
    # an unknown machine's message lists every known one: too long for a table cell
    message = reasons[0]["message"].split(" (known: ")[0]
    return f"{reasons[0]['code']}: {message}{more}"


@click.command("matrix", epilog="""\b
Examples:
  migcompat matrix --catalog qemu 7.2 10.0 --device virtio-blk-pci --smp 4
  migcompat matrix --catalog qemu 5.2 10.0 --machines 'pc-q35-*' --both-directions
  migcompat matrix qemu-5.2-broken qemu-5.1 --device virtio-blk-pci --smp 4 --format json
""")
@click.argument("source_release")
@click.argument("dest_release")
@vm_options(scope="both sides")
@click.option("--machines", "pattern", default="*", show_default=True, metavar="GLOB",
              help="Only the source's machine types that match (shell pattern).")
@both_directions_choice(help="Also check DEST_RELEASE -> SOURCE_RELEASE on each machine type.")
@catalog_option
@format_option
def matrix(source_release: str, dest_release: str, vm: VMArgs, pattern: str,
           both_directions: bool, catalog: str | None, fmt: str) -> None:
    """Predict, for every machine type SOURCE_RELEASE knows, whether a VM of that machine
    type migrates to DEST_RELEASE: `check` on each, the same devices on both sides.

    A machine type the destination lacks is "refused". Exit 0 when every row is
    compatible, 1 otherwise, 2 on bad input.
    """
    _, src = find_release(source_release, catalog)
    _, dst = find_release(dest_release, catalog)
    names = [n for n in src.machines.names() if fnmatch.fnmatchcase(n, pattern)]
    if not names:
        raise UsageError(f"no machine type of {src.id} matches '{pattern}'")

    def config(rel: Release, machine: str) -> VMConfig:
        return vm_config(rel, machine, catalog, vm)  # each release loaded once, above

    rows = []
    for name in names:
        row: dict[str, Any] = {"machine": name,
                               **_row(check(config(src, name), config(dst, name)))}
        if both_directions:
            row["back"] = _row(check(config(dst, name), config(src, name)))
        rows.append(row)
    ok = all(r["compatible"] and r.get("back", r)["compatible"] for r in rows)
    if fmt == "json":
        emit_json("matrix", {"source": src.id, "destination": dst.id, "compatible": ok,
                             "devices": list(vm.devices), "smp": vm.smp, "machines": rows})
    else:
        _print(src.id, dst.id, rows, both_directions)
    if not ok:
        raise SystemExit(EXIT_INCOMPATIBLE)


def _print(src: str, dst: str, rows: list[dict[str, Any]], both: bool) -> None:
    columns = ["machine", f"{src} -> {dst}"] + ([f"{dst} -> {src}"] if both else [])
    table = Table(*columns, "first breaking reason", box=None, pad_edge=False)
    for r in rows:
        verdicts = [r["verdict"]] + ([r["back"]["verdict"]] if both else [])
        reason = _first(r) or (_first(r["back"]) if both else "")
        table.add_row(r["machine"], *verdicts, reason)
    out().print(table)
    good = sum(1 for r in rows if r["compatible"] and r.get("back", r)["compatible"])
    out().print(f"{good} of {len(rows)} machine types migrate"
                f"{' both ways' if both else ''} as configured", markup=False)


COMMANDS = [matrix]
