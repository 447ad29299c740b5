"""``check``: predict a migration's result from the two configurations."""

from __future__ import annotations

from typing import Any

import click

from migcompat.analysis.check import VERDICTS, CheckResult, Reason, check
from migcompat.analysis.fixes import Fix, fixes_for
from migcompat.analysis.reasons import Category
from migcompat.analysis.sections import has_state_schemas
from migcompat.catalog.load import find_release
from migcompat.cli.options import (
    VMArgs,
    both_directions_choice,
    catalog_option,
    explain_choice,
    fail_on_option,
    format_option,
    side_options,
    split_side,
    vm_options,
)
from migcompat.cli.output import emit_json, out
from migcompat.cli.vm_inputs import config_for, merged, qemu_args_options, say_skipped
from migcompat.errors import EXIT_INCOMPATIBLE, MigcompatError, UsageError
from migcompat.model.cmdline import CommandLine
from migcompat.model.vm import VMConfig
from migcompat.vm.captured import plan_captured
from migcompat.vm.live import plan_sections


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


def result_json(res: CheckResult) -> dict[str, Any]:
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


def print_result(res: CheckResult, explain: bool) -> None:
    console = out()
    s, d = res.source, res.dest
    verdict = VERDICT_TEXT[res.verdict]
    console.print(f"{s.release.id}:{s.machine} -> {d.release.id}:{d.machine}: {verdict}")
    for r in res.breaking():
        console.print("  x " + _reason_text(r), markup=False)
        if explain:
            _print_provenance(r)
    compared = state_compared(res)
    if compared is not None and compared["sections"]:
        ram = (f" and {compared['ram_blocks']} RAM blocks"
               if compared["ram_blocks"] is not None else "")
        console.print(f"  device state: {compared['sections']} sections{ram} the source "
                      f"sends, compared ({compared['source']} / {compared['destination']} "
                      "schemas)", markup=False)
    for r in res.reasons:
        if r.code == "state-not-compared":
            console.print(f"  {r.message}", markup=False)
    notes = [r for r in res.reasons if not r.breaking and r.code != "state-not-compared"]
    if notes:
        console.print("  not breaking:")
        for r in notes:
            console.print(f"    - {_reason_text(r)}", markup=False)


def print_fix(f: Fix) -> None:
    if not f.args:  # nothing to try: the reason why is the answer
        out().print(f"  fix: {f.why}", markup=False)
        return
    mark = "verified" if f.verified else "not verified"
    boot = ", needs a cold boot" if f.needs_cold_boot else ""
    then = f" -> {f.verdict}" if f.verdict else ""
    out().print(f"  fix ({mark}{boot}): {f.side}: {' '.join(f.args)}{then}: {f.why}",
                markup=False)


def _side(text: str, catalog: str | None, vm: VMArgs, line: CommandLine | None,
          default_machine: str | None = None) -> VMConfig:
    release_id, machine = split_side(text)
    if machine is None and (line is None or line.machine is None):
        machine = default_machine
    if machine is None and (line is None or line.machine is None):
        raise UsageError(f"expected RELEASE:MACHINE, got '{text}'" + (
            " (and the QEMU command line has no -machine)" if line is not None else ""))
    _, release = find_release(release_id, catalog)
    return config_for(release, machine, vm, line)


VERDICT_TEXT = {"compatible": "[green]compatible[/green]",
                "guest-visible": "[yellow]guest-visible[/yellow] (loads; the guest sees "
                                 "different hardware)",
                "incompatible": "[red]INCOMPATIBLE[/red]", "refused": "[red]REFUSED[/red]"}


def combined(results: list[CheckResult]) -> str:
    """The verdict of several directions: the worst of them."""
    return max((r.verdict for r in results), key=VERDICTS.index)


def _reason_text(r: Reason) -> str:
    return f"{r.code}: {r.message}"


def _print_provenance(r: Reason) -> None:
    for side in ("source", "destination"):
        info = r.detail.get(side)
        if isinstance(info, dict):
            layers = ", ".join(f"{p['source']}={p['value']}" + (f" ({p['table']})"
                               if "table" in p else "") for p in info["provenance"])
            out().print(f"      {side}: {layers}", markup=False)


@click.command(epilog="""\b
Examples:
  migcompat check qemu-5.2:pc-5.1 qemu-5.1:pc-5.1 --device virtio-blk-pci --smp 4
  migcompat check qemu-5.2-broken:pc-5.1 qemu-5.1:pc-5.1 --device virtio-blk-pci --smp 4
  migcompat check qemu-5.2:pc-5.1 qemu-5.1:pc-5.1 --device virtio-blk-pci --both-directions
  migcompat check --catalog qemu 7.2:pc-q35-5.1 10.0:pc-q35-5.1 --device virtio-blk-pci --smp 4
  migcompat check --catalog qemu 7.2:q35 10.0 --device pvpanic-pci --both-directions
  migcompat check qemu-5.2:pc-5.2 qemu-5.2:pc-5.2 --device virtio-blk-pci \\
      --dst-global virtio-blk-device.num-queues=1 --format json
""")
@click.argument("source")
@click.argument("destination")
@vm_options(scope="both sides")
@side_options
@qemu_args_options(sides=True)
@both_directions_choice(help="Also check DESTINATION -> SOURCE.")
@explain_choice(help="Show both provenances of each difference.")
@fail_on_option
@catalog_option
@format_option
def check_command(source: str, destination: str, vm: VMArgs, src_vm: VMArgs, dst_vm: VMArgs,
                  qemu: CommandLine | None, src_qemu: CommandLine | None,
                  dst_qemu: CommandLine | None,
                  both_directions: bool, explain: bool, fail_on: Category,
                  catalog: str | None, fmt: str) -> None:
    """Predict whether SOURCE can migrate to DESTINATION (each RELEASE:MACHINE, or RELEASE
    when a QEMU command line names the machine; a DESTINATION given as RELEASE alone runs
    the source's machine type as written).

    Shared options (--device, --global, --smp, -m) apply to both sides; the --src-* and
    --dst-* ones describe one side (per-side devices come after the shared ones). The
    verdict is compatible, guest-visible (it loads, the guest sees different hardware),
    incompatible (it does not load) or refused (it never starts). Exit 0 for compatible
    and guest-visible (1 with --fail-on guest-visible), 1 for incompatible and refused, 2
    on bad input. The rules are in docs/check.md.
    """
    say_skipped(qemu, src_qemu, dst_qemu)
    src = _side(source, catalog, vm.then(src_vm), merged(qemu, src_qemu))
    # A destination named by its release alone runs the source's machine type, as written:
    # the same command line started on the new host.
    dst = _side(destination, catalog, vm.then(dst_vm), merged(qemu, dst_qemu),
                ",".join([src.machine, *(f"{k}={v}" for k, v in src.machine_options)]))
    results = [check(src, dst)]
    if both_directions:
        results.append(check(dst, src))
    fixes = fixes_for(src, dst, results)
    if fmt == "json":
        payload: dict[str, Any] = result_json(results[0])
        if both_directions:
            payload = {"verdict": combined(results), "loads": all(r.loads for r in results),
                       "compatible": all(r.compatible for r in results),
                       "directions": [result_json(r) for r in results],
                       "reasons": [x for r in results for x in result_json(r)["reasons"]]}
        emit_json("check", {**payload, "fixes": [f.to_json() for f in fixes]})
    else:
        for res in results:
            print_result(res, explain)
        for f in fixes:
            print_fix(f)
    if any(r.fails(fail_on) for r in results):
        raise click.exceptions.Exit(EXIT_INCOMPATIBLE)


check_command.name = "check"
COMMANDS = [check_command]
