"""Sections and RAM blocks of a VM of a real release, from what its build was seen to send.

The board's sections come from the machine type's capture (per-vCPU ones repeated for each
vCPU), then each device adds the sections its type was captured with, under the PCI address
QEMU gives it: devices take the root bus's free slots in command-line order, from the first
free slot the capture saw. A device or machine that was not captured is reported, not
guessed: its state cannot be compared.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from migcompat.model.capture import (
    CapturedDevice,
    CapturedMachine,
    CapturedSection,
    ProbedDevice,
)
from migcompat.model.devspec import DeviceSpec
from migcompat.model.props import TEXT_KINDS, format_value
from migcompat.model.vm import VM, DeviceObject, VMConfig, realize_vm
from migcompat.vmstate.infos import PLAIN_BYTES, Kind
from migcompat.vmstate.schema import VMStateDescription


@dataclass
class PlannedSection:
    idstr: str
    instance_id: int
    vmsd: VMStateDescription
    device: str | None = None


@dataclass
class CapturedPlan:
    sections: list[PlannedSection] = field(default_factory=list)
    ram: list[tuple[str, int]] = field(default_factory=list)
    # What could not be planned: (device path or "", message).
    gaps: list[tuple[str, str]] = field(default_factory=list)
    # Devices that make QEMU refuse to migrate at all: (device path, QEMU's words).
    blocked: list[tuple[str, str]] = field(default_factory=list)
    # What the build's device probe did with each device's type (path -> (type, outcome)).
    probed: dict[str, tuple[str, ProbedDevice]] = field(default_factory=dict)
    # The RAM blocks of memory backends devices map (check compares them with the device).
    backend_ram: set[str] = field(default_factory=set)


# fw_cfg blobs are resizable RAM blocks (hw/core/loader.c rom_add_blob): an incoming size up
# to the block's maximum loads. ACPI tables reserve 2 MiB (ACPI_BUILD_TABLE_MAX_SIZE in
# include/hw/acpi/aml-build.h); the other blobs' maximum is their own size.
FW_CFG_PREFIX = "/rom@etc/"
MAX_LENGTH = {"/rom@etc/acpi/tables": 0x200000}


def max_length(idstr: str, size: int) -> int | None:
    """The most a destination block accepts, or None when it is not resizable."""
    if not idstr.startswith(FW_CFG_PREFIX):
        return None
    return max(MAX_LENGTH.get(idstr, size), size)


_SHORT = re.compile(r"0000:[0-9a-f]{2}\.[0-7]/")
_ADDRESS = re.compile(r"'0000:[0-9a-f:.]+/")


def _on_root_bus(dev: DeviceObject) -> bool:
    """A PCI device straight on the root bus ("0000:00:SS.F", no bridge above it)."""
    return dev.address.count(":") == 2


def _root_address(address: str, short: bool) -> str:
    return address.replace("0000:00:", "0000:", 1) if short else address


def short_root_bus(machine: CapturedMachine) -> bool:
    """Whether the machine's own PCI sections were seen without the bus number."""
    return any(_SHORT.match(s.idstr) for s in machine.board)


def _board(entry: CapturedSection, smp: int, plan: CapturedPlan) -> None:
    if entry.vmsd is None:
        return  # not described by the stream: it is sent, but nothing can be compared
    for i in range(smp if entry.per_cpu else 1):
        vmsd = entry.vmsd_other_cpus if i and entry.vmsd_other_cpus else entry.vmsd
        plan.sections.append(PlannedSection(entry.idstr, entry.instance_id + i, vmsd))


def plan_captured(vm: VM) -> CapturedPlan | None:
    """The plan for ``vm``, or None when its release has no captured state."""
    capture = vm.release.capture()
    if capture is None:
        return None
    plan = CapturedPlan()
    machine = capture.machine(vm.machine.name)
    if machine is None:
        why = capture.skipped.get(vm.machine.name, "not among the captured machine types")
        plan.gaps.append(("", f"{vm.release.id} {vm.machine.name}: no captured state ({why})"))
        return plan
    for entry in machine.board:
        _board(entry, vm.config.smp, plan)
    plan.ram = [(r.idstr, r.sized(vm.config.mem)) for r in machine.ram]
    short = short_root_bus(machine)
    for dev in vm.devices:
        probed = capture.probed(vm.machine.family, dev.type)
        if probed is not None:
            plan.probed[dev.path] = (dev.type, probed)
        words = _probe_refusal(dev, probed, vm.release.id)
        if words is not None and dev.type not in machine.unmigratable:
            address = _root_address(dev.address, short) if _on_root_bus(dev) else ""
            plan.blocked.append((dev.path, _ADDRESS.sub(f"'{address}/", words)
                                 if address else words))
            continue
        if not _on_root_bus(dev):
            where = f"bus {dev.bus}" if dev.bus else "the main system bus"
            plan.gaps.append((dev.path, f"{vm.release.id} {vm.machine.name}: no captured "
                                        f"state for {dev.type} on {where} (devices were "
                                        "captured on the root PCI bus)"))
            continue
        address = _root_address(dev.address, short)
        if dev.type in machine.unmigratable:
            # QEMU names the device's section in its refusal: give it this one's address
            words = _ADDRESS.sub(f"'{address}/", machine.unmigratable[dev.type])
            plan.blocked.append((dev.path, words))
            continue
        _device(dev, address, machine.devices, machine.skipped_devices, vm, plan)
    return plan


def probe_refusal_words(release: str, dtype: str, family: str, words: str) -> str:
    """How check and validate say that the device probe saw a build refuse a type."""
    return f"QEMU {release} refuses {dtype} on {family} machine types (the device probe: {words})"


def has_own_options(dev: DeviceObject) -> bool:
    """Whether the device was given options (besides its address and backends): the device
    probe ran each type with none, so its "cannot-start" may be for lack of one
    (pci-bridge's chassis_nr). validate then does not answer from it; check still reports
    it when the other build started the type (a refusal missed is the worse error)."""
    return any(eff.decided_by.source == "device" and name != "addr" and eff.prop.kind != "link"
               for name, eff in dev.view().items())


def _probe_refusal(dev: DeviceObject, probed: ProbedDevice | None,
                   release: str) -> str | None:
    """QEMU's words when the device probe saw the build refuse to migrate (or die
    migrating) a VM with this device type, unless the device sets an option the probe saw
    lift the blocker (ivshmem's ``master=on``)."""
    if probed is None or probed.status not in ("blocked", "crashes"):
        return None
    for option in probed.lifted_by:
        name, _, value = option.partition("=")
        eff = dev.lookup(name)
        if eff is not None and format_value(eff.prop.kind, eff.value) == value:
            return None
    if probed.status == "crashes":
        return (f"QEMU {release} dies when asked to migrate a VM with {dev.type} (the "
                f"device probe: {probed.words})")
    if probed.lifted_by:  # QEMU's words first, then what the probe saw lift them
        return f"{probed.words} ({' or '.join(probed.lifted_by)} lifts it)"
    return probed.words


def _device(dev: DeviceObject, address: str, devices: Mapping[str, CapturedDevice],
            skipped: Mapping[str, str], vm: VM, plan: CapturedPlan) -> None:
    captured = devices.get(dev.type)
    if captured is None:
        why = skipped.get(dev.type, "not among the probed device types")
        plan.gaps.append((dev.path, f"{vm.release.id} {vm.machine.name}: no captured state "
                                    f"for {dev.type} ({why})"))
        return
    for s in captured.sections:
        if s.vmsd is not None:
            plan.sections.append(PlannedSection(f"{address}/{s.idstr}", s.instance_id, s.vmsd,
                                                device=dev.path))
    plan.ram += [(f"{address}/{r.idstr}", r.size) for r in captured.ram]
    # A mapped backend's RAM: a block named by the user's backend id (the capture's own id
    # is left out), sized as the -object says.
    backends = vm.mapped_backends()
    for prop, where in captured.backend_ram.items():
        obj = backends.get((dev.path, prop))
        if obj is not None and obj.size is not None:
            name = f"{address}/{obj.id}" if where == "device" else obj.id
            plan.ram.append((name, obj.size))
            plan.backend_ram.add(name)


def beyond_capture(vm: VM) -> list[str]:
    """Properties of ``vm`` that differ from what the capture ran with (the devices with the
    options the capture gave them, no globals): their effect on the state is not in the
    capture. Text and link properties (backends, names) do not change the state."""
    capture = vm.release.capture()
    machine = capture.machine(vm.machine.name) if capture is not None else None
    known = machine.devices if machine is not None else {}

    def as_captured(driver: str) -> tuple[tuple[str, str], ...]:
        found = known.get(driver)
        return tuple(found.options.items()) if found is not None else ()

    plain = realize_vm(VMConfig(vm.release, vm.config.machine,
                                [DeviceSpec(d.driver, bus=d.bus, options=as_captured(d.driver))
                                 for d in vm.config.devices],
                                smp=vm.config.smp, mem=vm.config.mem, objects=vm.config.objects))
    out = []
    for mine, base in zip(vm.all_objects(), plain.all_objects(), strict=False):
        for name, eff in mine.props.items():
            other = base.props.get(name)
            # Text and links (backends, names) do not change the state; the PCI address
            # is the planner's (it names the sections), not the capture's.
            if other is None or other.value == eff.value or eff.prop.kind in TEXT_KINDS \
                    or name == "addr":
                continue
            out.append(f"{mine.path}.{name}={format_value(eff.prop.kind, eff.value)} "
                       f"(captured with {format_value(other.prop.kind, other.value)})")
    return out


def adopt_device_sizes(mine: VMStateDescription, theirs: VMStateDescription,
                       depth: int = 0) -> VMStateDescription:
    """``mine`` with the sizes of device-specific fields (``virtio``, ``pci config``...) taken
    from ``theirs`` where both have the same info at the same place.

    What those fields hold depends on the configuration (virtio's queue count follows the
    vCPUs), and the capture ran with one vCPU; the stream's own description says how much
    the source wrote. Their inner checks are QEMU's device code, not modelled here.
    """
    if depth > 32:
        return mine
    fields = list(mine.fields)
    for i, (a, b) in enumerate(zip(mine.fields, theirs.fields, strict=False)):
        if a.info != b.info:
            break  # out of step: the layouts differ, which the load will show
        if a.struct is not None and b.struct is not None:
            fields[i] = replace(a, struct=adopt_device_sizes(a.struct, b.struct, depth + 1))
        elif (a.spec.kind is Kind.BYTES and a.info not in PLAIN_BYTES
              and isinstance(b.size, int) and a.count == b.count):
            fields[i] = replace(a, size=b.size)
    subs = tuple(adopt_device_sizes(s, other, depth + 1)
                 if (other := theirs.subsection(s.name)) is not None else s
                 for s in mine.subsections)
    return replace(mine, fields=tuple(fields), subsections=subs)
