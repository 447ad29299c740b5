"""``props``: every device's effective property values, with provenance."""

from __future__ import annotations

from typing import Any

import click
from rich.table import Table

from migcompat.cli.options import (
    VMArgs,
    catalog_option,
    explain_choice,
    format_option,
    vm_config,
    vm_options,
)
from migcompat.cli.output import emit_json, out, warn
from migcompat.cli.vm_inputs import qemu_args_options, say_skipped
from migcompat.model.cmdline import CommandLine
from migcompat.model.props import format_value
from migcompat.model.vm import VM, DeviceObject, Effective, Layer, realize_vm


def qom_value(eff: Effective) -> Any:
    """The value as QOM reads it back (qom-get): an unset string reads "", an unset list
    [] (``value`` keeps null: unset and an explicit "" are different settings)."""
    if eff.value is None and eff.prop.kind == "str":
        return ""
    if eff.value is None and eff.prop.kind == "array":
        return []
    return list(eff.value) if isinstance(eff.value, tuple) else eff.value


def effective_json(eff: Effective, alias_of: str | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "value": eff.value,
        "qom": qom_value(eff),
        "kind": eff.prop.kind,
        "provenance": [layer.to_json() for layer in eff.provenance],
    }
    if alias_of:
        doc["alias"] = alias_of
    return doc


def device_json(obj: DeviceObject) -> dict[str, Any]:
    props = {}
    for name, eff in obj.view().items():
        alias = obj.child_name if name in obj.aliases else None
        props[name] = effective_json(eff, alias)
    return {"id": obj.id if obj.id else obj.path, "path": obj.path, "type": obj.type,
            "child": f"{obj.path}/{obj.child_name}" if obj.child else None,
            "properties": props}


def vm_json(vm: VM) -> dict[str, Any]:
    m = vm.machine
    return {
        "release": vm.release.id,
        "machine": m.name,
        "machine_requested": vm.config.machine,
        "smp": vm.config.smp,
        "compat_tables": vm.release.machines.table_order(m),
        "devices": [device_json(o) for o in vm.all_objects()],
        "warnings": vm.warnings,
    }


def _layer_text(layer: Layer) -> str:
    where = layer.source
    if layer.table:
        where += f" {layer.table}[{layer.index}]"
    if layer.driver and layer.source in ("compat", "sugar", "global"):
        where += f" ({layer.driver})"
    if layer.file:
        where += f" {layer.file}:{layer.line}" if layer.line else f" {layer.file}"
    if layer.detail:
        where += f" - {layer.detail}"
    return f"{format_value('', layer.value) or '-'} <- {where}"


def print_vm(vm: VM, explain: bool) -> None:
    console = out()
    m = vm.machine
    alias = f" (from '{vm.config.machine}')" if vm.config.machine != m.name else ""
    console.print(f"release {vm.release.id}, machine {m.name}{alias}, smp {vm.config.smp}")
    tables = vm.release.machines.table_order(m)
    console.print(f"compat tables, in order: {', '.join(tables) if tables else '(none)'}")
    # A proxy's aliased properties are listed once, on the proxy, where -device sets them.
    shown_on_proxy = {dev.child.path: dev.aliases for dev in vm.devices if dev.child}
    for obj in vm.all_objects():
        console.print()
        aliased = shown_on_proxy.get(obj.path, frozenset())
        more = f"  ({len(aliased)} more listed on the proxy)" if aliased else ""
        console.print(f"[bold]{obj.path}[/bold]  {obj.type}{more}")
        table = Table("property", "value", "decided by", box=None, pad_edge=False)
        for name, eff in obj.view().items():
            if name in aliased:
                continue
            decided = eff.decided_by
            label = decided.source
            if decided.table:
                label += f" {decided.table}"
            shown = name + (f"  (alias of {obj.child_name})" if name in obj.aliases else "")
            table.add_row(shown, format_value(eff.prop.kind, eff.value) or "-", label)
            if explain:
                for layer in eff.provenance:
                    table.add_row("", "", "  " + _layer_text(layer))
        if table.row_count:
            console.print(table)


@click.command(epilog="""\b
Examples:
  migcompat props qemu-5.2 pc-5.1 --device virtio-blk-pci,id=vb0 --smp 4
  migcompat props qemu-5.2 pc --device virtio-blk-pci,id=vb0 --smp 4 --explain
  migcompat props --catalog qemu 7.2 pc-q35-5.1 --device virtio-blk-pci --smp 4 --explain
  migcompat props qemu-5.2 pc-5.1 --device virtio-blk-pci --global virtio-blk-device.num-queues=2
""")
@click.argument("release")
@click.argument("machine", required=False)
@vm_options(mem=False)
@qemu_args_options()
@explain_choice(help="Show every layer that set each value.")
@catalog_option
@format_option
def props(release: str, machine: str | None, vm: VMArgs, qemu: CommandLine | None,
          explain: bool, catalog: str | None, fmt: str) -> None:
    """Effective property values of each device of RELEASE on MACHINE (MACHINE may be left
    out when a QEMU command line, libvirt XML or running VM names it).

    Layers, oldest first: class default, the machine's compat list, sugar, user --global,
    device options, realize-time resolution. JSON always carries the provenance.
    """
    say_skipped(qemu)
    realized = realize_vm(vm_config(release, machine, catalog, vm, qemu))
    for w in realized.warnings:
        warn(w)
    if fmt == "json":
        emit_json("props", vm_json(realized))
    else:
        print_vm(realized, explain)


COMMANDS = [props]
