"""What a real build's VM sends, as captured from the binary (docs/probe-state.md).

A source import knows properties and compat tables, not device state. For that the probe
saves paused VMs of every machine type and reads the streams back: the sections each
machine's board sends, the sections each probed device adds, their layouts (from the
stream's own trailing description) and the RAM blocks. The build's ``-dump-vmstate`` adds
what a destination of that build accepts: each description's minimum version and every
subsection it knows, sent or not.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from migcompat.vmstate.schema import VMStateDescription


@dataclass(frozen=True)
class CapturedSection:
    """One section: for a board, its idstr; for a device, the part after the PCI address."""

    idstr: str
    instance_id: int
    vmsd: VMStateDescription | None  # None: the stream has no description of it
    per_cpu: bool = False  # one instance per vCPU, numbered on from ``instance_id``
    vmsd_other_cpus: VMStateDescription | None = None  # when the other vCPUs send more


@dataclass(frozen=True)
class CapturedRam:
    idstr: str
    size: int
    mem: bool = False  # the guest's main RAM: its size is ``-m``

    def sized(self, mem: int) -> int:
        return mem if self.mem else self.size


@dataclass(frozen=True)
class CapturedDevice:
    sections: tuple[CapturedSection, ...]
    ram: tuple[CapturedRam, ...] = ()
    # The options it was captured with besides its backends (ivshmem-plain master=on).
    options: Mapping[str, str] = field(default_factory=dict)
    # A link property whose memory backend's RAM the device migrates: the block is named by
    # the user's backend id, under the device's address ("device") or alone ("global").
    backend_ram: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CapturedMachine:
    name: str
    board: tuple[CapturedSection, ...]
    ram: tuple[CapturedRam, ...]
    pci_first_slot: int
    devices: Mapping[str, CapturedDevice] = field(default_factory=dict)
    skipped_devices: Mapping[str, str] = field(default_factory=dict)
    # Device types QEMU refuses to migrate (a migration blocker), with its words.
    unmigratable: Mapping[str, str] = field(default_factory=dict)
    # The device types the board itself creates (its QOM tree): what a -global can reach
    # without any -device.
    board_types: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProbedDevice:
    """What the build did with a device type alone on a family's newest machine type
    (docs/probe-state.md, "Every device type"): ``ok`` (started and migrated),
    ``blocked`` (QEMU refused to migrate, ``words``; an option of ``lifted_by`` lifts it),
    ``crashes`` (the source died when asked) or ``cannot-start`` (QEMU's ``words``)."""

    status: str
    words: str = ""
    lifted_by: tuple[str, ...] = ()


OK = ProbedDevice("ok")
# family (pc-q35, pc-i440fx) -> (the probed machine type, device type -> outcome)
DeviceProbe = Mapping[str, tuple[str, Mapping[str, ProbedDevice]]]


class Capture:
    """A build's captured machines, turned into model objects one machine at a time."""

    def __init__(self, release: str, build: str, file: str, machine_names: tuple[str, ...],
                 skipped: Mapping[str, str],
                 load_machine: Callable[[str], CapturedMachine | None],
                 device_probe: DeviceProbe | None = None) -> None:
        self.release = release
        self.build = build
        self.file = file
        self.machine_names = machine_names
        self.skipped = skipped
        self.device_probe: DeviceProbe = device_probe or {}
        self._load = load_machine
        self._machines: dict[str, CapturedMachine] = {}

    def probed(self, family: str, device_type: str) -> ProbedDevice | None:
        """The device probe's outcome for ``device_type`` on ``family``; None when the
        family or the type was not probed."""
        found = self.device_probe.get(family)
        return None if found is None else found[1].get(device_type)

    def machine(self, name: str) -> CapturedMachine | None:
        if name not in self._machines:
            found = self._load(name)
            if found is None:
                return None
            self._machines[name] = found
        return self._machines[name]

