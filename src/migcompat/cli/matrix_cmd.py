"""``matrix``: `check` for every machine type of a release at once (docs/check.md)."""

from __future__ import annotations

import fnmatch
from typing import Any

import click
from rich.table import Table

from migcompat.analysis.check import CheckResult, Reason, check
from migcompat.analysis.reasons import Category
from migcompat.catalog.load import find_release
from migcompat.cli.options import (
    DEFAULT_SMP,
    VMArgs,
    both_directions_choice,
    catalog_option,
    fail_on_option,
    format_option,
    vm_config,
    vm_options,
)
from migcompat.cli.output import emit_json, out
from migcompat.cli.vm_inputs import qemu_args_options, say_skipped
from migcompat.errors import EXIT_INCOMPATIBLE, DeviceError, GlobalPropertyError, UsageError
from migcompat.model.cmdline import CommandLine
from migcompat.model.release import Release
from migcompat.model.vm import VMConfig

# Schema 2: the verdict strings are check's four (compatible, guest-visible, incompatible,
# refused; schema 1 had "INCOMPATIBLE" and no guest-visible), and with --both-directions a
# machine type only the destination has is a row with a null forward verdict.
MATRIX_SCHEMA = 2


def _row(res: CheckResult) -> dict[str, Any]:
    return {"verdict": res.verdict, "loads": res.loads, "compatible": res.compatible,
            "refused": res.refused,
            "reasons": [{"code": r.code, "category": r.category, "message": r.message}
                        for r in res.breaking()]}


def _check(src: VMConfig, dst: VMConfig) -> CheckResult:
    """``check``, with a configuration that starts on neither side a refused row (on some
    machine types it cannot: a PCI device on isapc), not the end of the table."""
    try:
        return check(src, dst)
    except (DeviceError, GlobalPropertyError) as exc:
        reason = Reason("cannot-start", f"neither side's QEMU starts it on {src.machine}: {exc}")
        return CheckResult(src, dst, [reason])


def _absent(release: str) -> dict[str, Any]:
    return {"verdict": None, "loads": None, "compatible": None, "refused": None,
            "reasons": [], "absent": f"{release} has no such machine type"}


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
@qemu_args_options()
@click.option("--machines", "pattern", default="*", show_default=True, metavar="GLOB",
              help="Only the source's machine types that match (shell pattern).")
@both_directions_choice(help="Also check DEST_RELEASE -> SOURCE_RELEASE on each machine type, "
                            "and list the machine types only DEST_RELEASE has.")
@fail_on_option
@catalog_option
@format_option
def matrix(source_release: str, dest_release: str, vm: VMArgs, qemu: CommandLine | None,
           pattern: str, both_directions: bool, fail_on: Category, catalog: str | None,
           fmt: str) -> None:
    """Predict, for every machine type SOURCE_RELEASE knows, whether a VM of that machine
    type migrates to DEST_RELEASE: `check` on each, the same devices on both sides.

    Each row has check's verdict: compatible, guest-visible, incompatible or refused (a
    machine type the destination lacks). Exit 0 when no row fails (guest-visible counts
    with --fail-on guest-visible), 1 otherwise, 2 on bad input.
    """
    say_skipped(qemu)
    _, src = find_release(source_release, catalog)
    _, dst = find_release(dest_release, catalog)
    theirs = [n for n in dst.machines.names() if n not in src.machines.machines]
    names = [n for n in [*src.machines.names(), *(theirs if both_directions else [])]
             if fnmatch.fnmatchcase(n, pattern)]
    if not names:
        raise UsageError(f"no machine type of {src.id} matches '{pattern}'")

    def config(rel: Release, machine: str) -> VMConfig:
        return vm_config(rel, machine, catalog, vm, qemu)  # each release loaded once, above

    rows, failed = [], False
    for name in names:
        forward = None if name in theirs else _check(config(src, name), config(dst, name))
        row: dict[str, Any] = {"machine": name,
                               **(_row(forward) if forward else _absent(src.id))}
        failed |= forward is not None and forward.fails(fail_on)
        if both_directions:
            back = _check(config(dst, name), config(src, name))
            row["back"] = _row(back)
            failed |= back.fails(fail_on)
        rows.append(row)
    if fmt == "json":
        emit_json("matrix", {"source": src.id, "destination": dst.id, "compatible": not failed,
                             "devices": list(vm.devices), "smp": vm.smp or DEFAULT_SMP,
                             "machines": rows},
                  schema=MATRIX_SCHEMA)
    else:
        _print(src.id, dst.id, rows, both_directions)
    if failed:
        raise SystemExit(EXIT_INCOMPATIBLE)


def _print(src: str, dst: str, rows: list[dict[str, Any]], both: bool) -> None:
    columns = ["machine", f"{src} -> {dst}"] + ([f"{dst} -> {src}"] if both else [])
    table = Table(*columns, "first breaking reason", box=None, pad_edge=False)
    for r in rows:
        verdicts = [r["verdict"] or "-"] + ([r["back"]["verdict"]] if both else [])
        reason = _first(r) or (_first(r["back"]) if both else "")
        table.add_row(r["machine"], *verdicts, reason)
    out().print(table)
    good = sum(1 for r in rows if r["compatible"] and r.get("back", r)["compatible"])
    only = sum(1 for r in rows if r["verdict"] is None)
    if only:
        out().print(f"{only} machine types only {dst} has: a VM started there cannot come "
                    f"back to {src} on them", markup=False)
    out().print(f"{good} of {len(rows)} machine types migrate"
                f"{' both ways' if both else ''} as configured", markup=False)


COMMANDS = [matrix]
