"""The bus tree of a VM: which buses the board and the devices provide, where each device
sits, and its PCI address there, as QEMU places them (qdev_device_add, hw/core/qdev.c and
hw/pci/pci.c).

A device needs a bus of the kind its class says (QEMU's ``DeviceClass.bus_type``: a
pci-device a PCI bus, a usb-device a usb-bus, ...); read here from its ancestry. ``bus=``
names the bus; without it QEMU takes the first bus of that kind, the board's before the
devices'. A PCI device takes its ``addr=`` or the first free slot of the bus (devfn
allocation, pci_bus_devfn), in command-line order. Its sections are named after its qdev
path: the root bus's ``0000:00`` and ``:SS.F`` for it and each bridge above it
(pcibus_get_dev_path).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from migcompat.errors import DeviceError

# The bus kind a device needs, by the first ancestor in this list (QEMU's TYPE_*_BUS names).
NEEDS: tuple[tuple[str, str], ...] = (
    ("pci-device", "PCI"), ("usb-device", "usb-bus"), ("scsi-device", "SCSI"),
    ("ide-device", "IDE"), ("isa-device", "ISA"), ("hda-codec", "HDA"),
    ("virtio-serial-port", "virtio-serial-bus"), ("virtio-device", "virtio-bus"),
    ("ccid-card", "ccid-bus"),
)
# Buses a device provides: (ancestor, kind, how many). A PCI bridge's bus is named after its
# id; the others "<id>.<n>" (qbus_init_internal).
PROVIDES: tuple[tuple[str, str, int], ...] = (
    ("base-pci-bridge", "PCI", 1), ("pci-xhci", "usb-bus", 1), ("usb-ehci", "usb-bus", 1),
    ("pci-uhci-usb", "usb-bus", 1), ("pci-ohci", "usb-bus", 1),
    ("virtio-scsi-pci-base", "SCSI", 1), ("megasas-base", "SCSI", 1),
    ("lsi53c895a", "SCSI", 1), ("ich9-ahci", "IDE", 6), ("intel-hda-generic", "HDA", 1),
    ("virtio-serial-pci", "virtio-serial-bus", 1),
    # the same devices on other transports (microvm's virtio-mmio): the bus is their own
    ("virtio-scsi-device", "SCSI", 1), ("virtio-serial-device", "virtio-serial-bus", 1),
)
# Buses the boards make, by machine family (hw/i386/pc_q35.c, pc_piix.c; with -nodefaults).
# Root PCI bus: (name, slots the board itself takes). q35's ICH9 functions sit at 1f.
BOARD_BUSES: dict[str, tuple[tuple[str, str], ...]] = {
    "pc-q35": (("pcie.0", "PCI"), ("isa.0", "ISA"), ("ide.0", "IDE"), ("ide.1", "IDE"),
               ("ide.2", "IDE"), ("ide.3", "IDE"), ("ide.4", "IDE"), ("ide.5", "IDE")),
    "pc-i440fx": (("pci.0", "PCI"), ("isa.0", "ISA"), ("ide.0", "IDE"), ("ide.1", "IDE")),
    "isapc": (("isa.0", "ISA"), ("ide.0", "IDE"), ("ide.1", "IDE")),
    # microvm: no PCI unless pcie=on; 24 virtio-mmio transports, the last created first.
    "microvm": (("isa.0", "ISA"),
                *((f"virtio-mmio-bus.{n}", "virtio-bus") for n in range(23, -1, -1))),
    "x-remote": (("remote-pci", "PCI"),),
    "pc": (("pci.0", "PCI"),),  # the tutorial's board
}
# The slots the board's own PCI functions take, with the names QEMU gives them in its
# "in use by ..." message.
BOARD_SLOTS = {"pc-q35": {0: "mch", 0x1F: "ICH9-LPC"},
               "pc-i440fx": {0: "i440FX", 1: "PIIX3"}, "pc": {0: "i440FX", 1: "PIIX3"}}
DEFAULT_FIRST_SLOT = {"pc-q35": 1, "pc-i440fx": 2, "pc": 2, "x-remote": 0}
SLOTS = 32
# What usb=on (or -usb) adds to a board, at fixed addresses (pc_piix.c: a UHCI at 01.2;
# pc_q35.c: ehci_create_ich9_with_companions at 1d).
BOARD_USB = {"pc-i440fx": (("piix3-usb-uhci", "1.2"),),
             "pc-q35": (("ich9-usb-ehci1", "1d.7"), ("ich9-usb-uhci1", "1d.0"),
                        ("ich9-usb-uhci2", "1d.1"), ("ich9-usb-uhci3", "1d.2"))}


@dataclass
class Bus:
    name: str
    kind: str
    owner: str | None = None  # the device path that provides it; None: the board
    address: str = "0000:00"  # a PCI bus: the qdev path of what sits on it, so far
    used: dict[int, str] = field(default_factory=dict)  # PCI: slot -> "type,id=..."
    functions: dict[int, str] = field(default_factory=dict)  # PCI: devfn -> the device there
    first_free: int = 0
    express_port: bool = False  # provided by a PCIe port: express, and not the root bus
    devices: int = 0  # how many devices sit on it

    @property
    def full(self) -> bool:
        # A virtio transport's bus carries one device (virtio_bus max_dev = 1): QEMU's
        # search for a bus of the kind passes over full ones (qbus_find_recursive).
        return self.kind == "virtio-bus" and self.devices >= 1


def kind_needed(is_a: Callable[[str], bool]) -> str | None:
    return next((kind for ancestor, kind in NEEDS if is_a(ancestor)), None)


class Placer:
    """Places devices one by one, in command-line order, as QEMU does."""

    def __init__(self, family: str, first_slot: int | None = None,
                 transports: int | None = None) -> None:
        """``transports``: how many virtio-mmio transports the board has, when the
        machine type says (microvm: 8 in 5.2), else BOARD_BUSES' count."""
        self.buses: list[Bus] = []
        board = BOARD_BUSES.get(family, ())
        if transports is not None:
            board = tuple(b for b in board if not b[0].startswith("virtio-mmio-bus.")
                          or int(b[0].rpartition(".")[2]) < transports)
        for name, kind in board:
            bus = Bus(name, kind)
            if kind == "PCI":
                for slot, name in BOARD_SLOTS.get(family, {}).items():
                    bus.used[slot] = f"{name},id=(null)"
                bus.first_free = first_slot if first_slot is not None else \
                    DEFAULT_FIRST_SLOT.get(family, 0)
                for slot in range(bus.first_free):
                    bus.used.setdefault(slot, "the board,id=(null)")
            self.buses.append(bus)

    def bus_for(self, driver: str, kind: str | None, wanted: str | None) -> Bus | None:
        """The bus a device of ``kind`` goes on: ``bus=`` or the first one of its kind.
        None for a device on the main system bus."""
        if wanted is not None:
            found = next((b for b in self.buses if b.name == wanted), None)
            if found is None:
                raise DeviceError(f"Bus '{wanted}' not found")
            if kind is None or found.kind != kind:
                raise DeviceError(f"Device '{driver}' can't go on {found.kind} bus")
            if found.full:
                raise DeviceError(f"Bus '{wanted}' is full")
            return found
        if kind is None:
            return None
        found = next((b for b in self.buses if b.kind == kind and not b.full), None)
        if found is None:
            raise DeviceError(f"No '{kind}' bus found for device '{driver}'")
        return found

    def pci_slot(self, bus: Bus, devfn: int, who: str,
                 multifunction: bool = False) -> tuple[int, int]:
        """The slot and function a PCI device takes: ``devfn`` (-1: the first free slot)."""
        if devfn >= 0:
            slot, fn = devfn >> 3, devfn & 7
            taken = bus.functions.get(devfn)
            others = [f for f in range(1, 8) if slot << 3 | f in bus.functions]
            if taken is None and fn == 0 and slot in bus.used and not others:
                taken = bus.used[slot]  # the board's, or a device placed on a free slot
            if taken is not None:
                raise DeviceError(f"PCI: slot {slot} function {fn} not available for "
                                  f"{who.split(',')[0]}, in use by {taken}")
            # At cold plug function 0 may come after the others (libvirt puts an EHCI's
            # companions first); QEMU then wants it to say it is multifunction.
            if fn == 0 and others and not multifunction:
                raise DeviceError(f"PCI: {slot:x}.0 indicates single function, but "
                                  f"{slot:x}.{others[0]:x} is already populated.")
            bus.used.setdefault(slot, who)
            bus.functions[devfn] = who
            return slot, fn
        for slot in range(bus.first_free, SLOTS):
            if slot not in bus.used:
                bus.used[slot] = who
                bus.functions[slot << 3] = who
                return slot, 0
        raise DeviceError(f"PCI: no slot/function available for {who.split(',')[0]}, all in "
                          "use or reserved")

    def add_buses(self, provides: list[tuple[str, int]], path: str, dev_id: str | None,
                  address: str, express_port: bool = False) -> None:
        for kind, count in provides:
            for n in range(count):
                if kind == "PCI":
                    name = dev_id or f"pci.{len(self.buses)}"
                else:
                    name = f"{dev_id or path}.{n}"
                self.buses.append(Bus(name, kind, path, address if kind == "PCI" else "",
                                      express_port=express_port and kind == "PCI"))


def provided(is_a: Callable[[str], bool]) -> list[tuple[str, int]]:
    return [(kind, count) for ancestor, kind, count in PROVIDES if is_a(ancestor)]
