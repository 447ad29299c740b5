"""What two VM descriptions must agree on to be "the same VM": the machine type and its
options, vCPUs, RAM, and every device the model realizes, by position on its bus, with its
type and every property value. Ids differ between inputs (libvirt names a device
``virtio-disk0``, QMP reads the id it was given), so devices are keyed by bus address.
Used by the libvirt-XML and QMP tests: each input must give what parsing the command line
QEMU really ran gives.

A value the host or the bus assigns at realize (an IDE unit, a MAC: crosscheck/qom.py's
EXCLUSIONS) is not compared while one side leaves it to them: an input that spells out what
QEMU would assign (``-drive if=ide`` gives ``unit=``) describes the same VM as one that
does not (a running VM read over QMP leaves it out)."""

from __future__ import annotations

from typing import Any

from migcompat.model.vm import VMConfig, realize_vm
from migcompat.qemu.binary.crosscheck.qom import excluded as environment_assigned

# Properties that name a backend or an id, not the device's hardware: they differ between
# inputs that describe one VM (libvirt's node names, a drive's generated id).
BACKEND_PROPS = frozenset({"drive", "netdev", "chardev", "audiodev", "memdev", "id"})
# Machine options of the host (a core dump's content, where RAM comes from), and board
# options at the value a PC machine has without them: a running VM's reader leaves out what
# is at its default, libvirt writes usb=off on every domain.
HOST_MACHINE_OPTIONS = frozenset({"dump-guest-core", "memory-backend", "mem-merge"})
BOARD_DEFAULTS: dict[str, object] = {"usb": False}


def vm_summary(config: VMConfig) -> dict[str, Any]:
    vm = realize_vm(config)
    devices: dict[str, Any] = {}
    assigned: dict[str, frozenset[str]] = {}  # left to the host or the bus, by device
    is_a = config.release.types.is_a
    for obj in vm.all_objects():
        where = f"{obj.bus}@{obj.address}" if obj.address else f"{obj.bus}:{obj.path}"
        values = {name: eff.value for name, eff in obj.view().items()
                  if name not in BACKEND_PROPS}
        key = f"{where}/{obj.type}"
        n = 2
        while key in devices:  # two on one bus without an address (ISA, USB ports)
            key = f"{where}/{obj.type}#{n}"
            n += 1
        devices[key] = values
        assigned[key] = frozenset(name for name, eff in obj.view().items()
                                  if environment_assigned(name, eff, is_a))
    options = {k: v for k, v in vm.machine_options.items()
               if k not in HOST_MACHINE_OPTIONS and BOARD_DEFAULTS.get(k, object()) != v}
    return {"machine": vm.machine.name, "machine_options": options,
            "smp": config.smp, "mem": config.mem, "devices": devices, "assigned": assigned}


def differences(a: VMConfig, b: VMConfig) -> list[str]:
    """Human-readable differences between the two VMs (empty: the same VM)."""
    sa, sb = vm_summary(a), vm_summary(b)
    out = [f"{k}: {sa[k]!r} != {sb[k]!r}" for k in ("machine", "machine_options", "smp", "mem")
           if sa[k] != sb[k]]
    da, db = sa["devices"], sb["devices"]
    out += [f"only in the first: {k}" for k in sorted(set(da) - set(db))]
    out += [f"only in the second: {k}" for k in sorted(set(db) - set(da))]
    for k in sorted(set(da) & set(db)):
        assigned = sa["assigned"][k] | sb["assigned"][k]
        for prop in sorted((set(da[k]) | set(db[k])) - assigned):
            if da[k].get(prop) != db[k].get(prop):
                out.append(f"{k}.{prop}: {da[k].get(prop)!r} != {db[k].get(prop)!r}")
    return out
