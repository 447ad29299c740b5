"""A live VM: a realized configuration plus its device state and RAM.

Sections follow QEMU's naming: a device on the PCI bus sends ``<pci address>/<vmsd>``
(``0000:00:02.0/virtio-blk``), its slot given by its position on the command line as in
QEMU's automatic slot assignment; board sections (``timer``, one ``cpu`` per vCPU) use the
plain vmsd name and the instance id. A proxy device sends its backend child's state under
its own address, with the proxy's view of the properties (the child's are aliased onto it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from migcompat.model.machines import version_key
from migcompat.model.memory import zeroed
from migcompat.model.ram import GuestRAM, RamBlock, empty_ram, seeded_ram
from migcompat.model.vm import VM, DeviceObject, VMConfig, realize_vm
from migcompat.vm.captured import max_length, plan_captured
from migcompat.vm.devstate import seeded_state
from migcompat.vmstate.data import VMStateData
from migcompat.vmstate.schema import SectionSchema, VMStateDescription

if TYPE_CHECKING:
    from migcompat.stream import Destination


@dataclass
class Section:
    idstr: str
    instance_id: int
    vmsd: VMStateDescription
    properties: Mapping[str, object]
    device: str | None = None  # the device path, for messages
    state: VMStateData | None = None
    captured: bool = False  # the layout is what a real build was seen to send


@dataclass
class LiveVM:
    vm: VM
    ram: GuestRAM
    sections: list[Section] = field(default_factory=list)

    @property
    def config(self) -> VMConfig:
        return self.vm.config

    @property
    def machine(self) -> str:
        return self.vm.machine.name

    def section(self, idstr: str, instance_id: int) -> Section | None:
        for s in self.sections:
            if s.idstr == idstr and s.instance_id == instance_id:
                return s
        return None

    def destination(self) -> Destination:
        """What this VM knows when it receives a migration (its own schemas, QEMU's rule)."""
        # the stream codec: only a migration needs it, not check's planning of sections
        from migcompat.stream import Destination
        from migcompat.stream import RamBlock as StreamRamBlock

        def resolve(idstr: str, instance_id: int, version_id: int) -> SectionSchema | None:
            s = self.section(idstr, instance_id)
            return None if s is None else SectionSchema(s.vmsd, s.properties)
        return Destination(
            resolver=resolve,
            machine=self.machine,
            ram_blocks=[StreamRamBlock(idstr, size, max_length(idstr, size))
                        for idstr, size in self.ram.layout()],
            sections=[(s.idstr, s.instance_id) for s in self.sections],
            configuration=self.sends_configuration,
            footers=self.sends_configuration,
        )

    @property
    def sends_configuration(self) -> bool:
        """Machine types of QEMU 2.3 and older send no configuration section and no section
        footers (reference §1.1); the tutorial's machine types all do."""
        m = self.vm.machine
        if not self.vm.release.has_capture or not m.version:
            return True
        return version_key(m.version) > (2, 3)


def _device_vmsd(vm: VM, dev: DeviceObject) -> VMStateDescription | None:
    types = vm.release.types
    name = types.vmsd_of(dev.child.type) if dev.child is not None else None
    name = name or types.vmsd_of(dev.type)
    return vm.release.vmstate.get(name) if name else None


def plan_sections(vm: VM) -> list[Section]:
    captured = plan_captured(vm)
    if captured is not None:  # a real release: what its build was seen to send
        return [Section(s.idstr, s.instance_id, s.vmsd, {}, device=s.device, captured=True)
                for s in captured.sections]
    rel = vm.release
    sections: list[Section] = []
    for board in rel.board:
        vmsd = rel.vmstate[board.vmsd]
        for instance in range(vm.config.smp if board.per_cpu else 1):
            sections.append(Section(board.idstr or vmsd.name, instance, vmsd, {}))
    for dev in vm.devices:
        dev_vmsd = _device_vmsd(vm, dev)
        if dev_vmsd is None:
            continue
        props = {name: eff.value for name, eff in dev.view().items()}
        # A PCI device is named by its address (model/buses.py); another by its vmsd alone.
        idstr = f"{dev.address}/{dev_vmsd.name}" if dev.address else dev_vmsd.name
        sections.append(Section(idstr, 0, dev_vmsd, props, device=dev.path))
    return sections


def build(config: VMConfig, seed: int = 0, ram_data: int | None = None) -> LiveVM:
    """Realize ``config`` and give it seeded device state and RAM (a source VM)."""
    vm = realize_vm(config)
    live = LiveVM(vm, _ram(vm, seeded_ram(config.mem, seed, ram_data)), plan_sections(vm))
    for s in live.sections:
        s.state = seeded_state(s.vmsd, s.properties, seed, f"{s.idstr}#{s.instance_id}")
    return live


def build_empty(config: VMConfig) -> LiveVM:
    """Realize ``config`` with zeroed RAM and no state yet (a destination before the load)."""
    vm = realize_vm(config)
    return LiveVM(vm, _ram(vm, empty_ram(config.mem)), plan_sections(vm))


def _ram(vm: VM, ram: GuestRAM) -> GuestRAM:
    """``ram`` for the release: a real release has its build's RAM blocks (the captured
    list, main RAM taken from ``ram``, the others zero); the tutorial keeps ``ram``."""
    captured = plan_captured(vm)
    if captured is None:
        return ram
    main = ram.block("pc.ram")
    return GuestRAM([main if main is not None and idstr == main.idstr and
                     size == main.used_length else RamBlock(idstr, size, zeroed(size), set())
                     for idstr, size in captured.ram])
