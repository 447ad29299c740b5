"""``check``: predict a migration's result from the two configurations."""

from __future__ import annotations

from typing import Any

import click
from click.core import ParameterSource

from migcompat.analysis.chain import chain_fixes, check_chain
from migcompat.analysis.check import VERDICTS, CheckResult, check
from migcompat.analysis.fixes import fixes_for
from migcompat.analysis.reasons import Category
from migcompat.catalog.load import find_release
from migcompat.cli.chain_out import chain_json, print_chain
from migcompat.cli.check_text import print_fixes, print_result, result_json
from migcompat.cli.options import (
    VMArgs,
    both_directions_choice,
    catalog_option,
    explain_choice,
    fail_on_option,
    format_option,
    side_options,
    split_side,
    verbose_option,
    vm_options,
)
from migcompat.cli.output import emit_json, warn
from migcompat.cli.vm_inputs import config_for, merged, qemu_args_options, say_skipped
from migcompat.errors import EXIT_INCOMPATIBLE, UsageError
from migcompat.model.cmdline import CommandLine
from migcompat.model.vm import VMConfig


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


def combined(results: list[CheckResult]) -> str:
    """The verdict of several directions: the worst of them."""
    return max((r.verdict for r in results), key=VERDICTS.index)


@click.command(epilog="""\b
Examples:
  migcompat check qemu-5.2:pc-5.1 qemu-5.1:pc-5.1 --device virtio-blk-pci --smp 4
  migcompat check qemu-5.2-broken:pc-5.1 qemu-5.1:pc-5.1 --device virtio-blk-pci --smp 4
  migcompat check qemu-5.2:pc-5.1 qemu-5.1:pc-5.1 --device virtio-blk-pci --both-directions
  migcompat check qemu-5.1:pc-5.1 qemu-5.2-broken qemu-5.2-broken --device virtio-blk-pci \\
      --smp 4  # a chain A -> B -> C: B forgot the compat entry
  migcompat check --catalog qemu 7.2:pc-q35-5.1 10.0:pc-q35-5.1 --device virtio-blk-pci --smp 4
  migcompat check --catalog qemu 7.2:q35 10.0 --device pvpanic-pci --both-directions
  migcompat check --catalog qemu 5.2:pc-q35-5.1 7.2 10.0 --device virtio-blk-pci \\
      --both-directions --format json
  migcompat check qemu-5.2:pc-5.2 qemu-5.2:pc-5.2 --device virtio-blk-pci \\
      --dst-global virtio-blk-device.num-queues=1 --format json
""")
@click.argument("sides", nargs=-1, required=True, metavar="SOURCE DESTINATION [NEXT]...")
@vm_options(scope="every side")
@side_options
@qemu_args_options(sides=True)
@both_directions_choice(help="Also check the way back: DESTINATION -> SOURCE, or a chain "
                             "from its last side to its first.")
@explain_choice(help="Show both provenances of each difference.")
@verbose_option
@fail_on_option
@catalog_option
@format_option
def check_command(sides: tuple[str, ...], vm: VMArgs, src_vm: VMArgs, dst_vm: VMArgs,
                  qemu: CommandLine | None, src_qemu: CommandLine | None,
                  dst_qemu: CommandLine | None,
                  both_directions: bool, explain: bool, verbose: bool, fail_on: Category,
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

    With three sides or more it checks a chain, A -> B -> C: one VM, described by the
    shared options, moved hop by hop, each hop from the VM the one before it loaded into.
    A side given as RELEASE alone runs the previous side's machine type. The chain's
    verdict is its worst hop's.
    """
    if len(sides) < 2:
        raise UsageError("expected SOURCE DESTINATION [NEXT]...: a migration needs two sides")
    if len(sides) > 2:
        _refuse_side_options(len(sides))
    say_skipped(qemu, src_qemu, dst_qemu)
    if len(sides) > 2:
        _chain(sides, catalog, vm, qemu, both_directions, explain, verbose, fail_on, fmt)
        return
    source, destination = sides
    src = _side(source, catalog, vm.then(src_vm), merged(qemu, src_qemu))
    # A destination named by its release alone runs the source's machine type, as written:
    # the same command line started on the new host.
    dst = _side(destination, catalog, vm.then(dst_vm), merged(qemu, dst_qemu),
                _as_written(src))
    results = [check(src, dst)]
    if both_directions:
        results.append(check(dst, src))
    say_warnings(results)
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
            print_result(res, explain, verbose)
        print_fixes(fixes)
    if any(r.fails(fail_on) for r in results):
        raise click.exceptions.Exit(EXIT_INCOMPATIBLE)


def say_warnings(results: list[CheckResult]) -> None:
    """What QEMU itself would warn about at start (a -global naming no class), once each,
    on stderr."""
    seen = [w for r in results for vm in (r.src_vm, r.dst_vm) if vm is not None
            for w in vm.warnings]
    for text in dict.fromkeys(seen):
        warn(text)


def _as_written(config: VMConfig) -> str:
    """The machine type (with its options) as the side's command line writes it."""
    return ",".join([config.machine, *(f"{k}={v}" for k, v in config.machine_options)])


def _refuse_side_options(count: int) -> None:
    """A chain has no one source and destination: the --src-*/--dst-* options would name a
    side of a pair that does not exist."""
    ctx = click.get_current_context()
    given = [p.opts[0] for p in ctx.command.params if isinstance(p, click.Option)
             and p.name is not None and p.name.startswith(("src_", "dst_"))
             and ctx.get_parameter_source(p.name) is ParameterSource.COMMANDLINE]
    if given:
        raise UsageError(f"{', '.join(dict.fromkeys(given))}: a chain of {count} sides runs "
                         "one VM on every hop, so the --src-*/--dst-* options have no side "
                         "to describe; give the VM with the shared options (--device, "
                         "--global, --qemu-args ...)")


def _chain(sides: tuple[str, ...], catalog: str | None, vm: VMArgs,
           qemu: CommandLine | None, back: bool, explain: bool, verbose: bool,
           fail_on: Category, fmt: str) -> None:
    configs: list[VMConfig] = []
    for text in sides:
        # RELEASE alone runs the previous side's machine type, as the pair form does
        configs.append(_side(text, catalog, vm, qemu,
                             _as_written(configs[-1]) if configs else None))
    res = check_chain(configs, back)
    say_warnings([hop.result for hop in res.all_hops()])
    fixes = chain_fixes(res)
    if fmt == "json":
        emit_json("check", chain_json(res, fixes))
    else:
        print_chain(res, fixes, explain, verbose)
    if res.fails(fail_on):
        raise click.exceptions.Exit(EXIT_INCOMPATIBLE)


check_command.name = "check"
COMMANDS = [check_command]
