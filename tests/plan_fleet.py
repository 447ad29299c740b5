"""The fleet of real configs that `plan`'s answers are checked on (shared test data):
tests/qemu_migrations/test_plan_real.py migrates each VM on the real builds, the report's
browser test draws its plan, and docs/examples/plan/cluster.args is this fleet as a file
(docs/plan.md walks through it; a test keeps the two the same).

Every VM is its own distinct config, on a 7.2 host. Disks are ``null-co://`` so that real
QEMU runs them with no image files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


def _disk(n: int) -> str:
    return f"-drive if=none,id=disk{n},file=null-co://,format=raw"


NET = "-device virtio-net-pci,id=net0"
BLK = f"{_disk(0)} -device virtio-blk-pci,drive=disk0,id=vblk0"
SCSI = f"-device virtio-scsi-pci,id=scsi0 {_disk(1)} -device scsi-hd,bus=scsi0.0,drive=disk1"
SATA = f"-device ahci,id=sata0 {_disk(2)} -device ide-hd,bus=sata0.0,drive=disk2"
IDE = f"{_disk(3)} -device ide-hd,bus=ide.0,drive=disk3,id=hd0"
XHCI = "-device qemu-xhci,id=usb -device usb-tablet,bus=usb.0"
NEC = "-device nec-usb-xhci,id=usb -device usb-tablet,bus=usb.0"
PANIC = "-device pvpanic,id=panic"
NVME = f"{_disk(4)} -device nvme,drive=disk4,serial=nv0,id=nvme0"


@dataclass(frozen=True)
class VM:
    name: str
    machine: str
    smp: int
    mem: int  # MiB
    devices: str

    def line(self) -> str:
        return (f"{self.name}\t7.2\t-machine {self.machine} -smp {self.smp} -m {self.mem}M "
                f"-nodefaults {self.devices}")

    def args(self) -> list[str]:
        return self.devices.split()


FLEET = (
    VM("web-q35-51", "pc-q35-5.1", 2, 128, f"{NET} {BLK}"),
    VM("web-q35-52", "pc-q35-5.2", 2, 128, f"{NET} {BLK} {XHCI}"),
    VM("web-q35-62", "pc-q35-6.2", 4, 128, f"{NET} {BLK} {XHCI}"),
    VM("web-q35-72", "pc-q35-7.2", 4, 128, f"{NET} {BLK} {XHCI}"),
    VM("web-alias", "q35", 2, 128, f"{NET} {BLK}"),
    VM("db-q35-51", "pc-q35-5.1", 4, 128, f"{NET} {SCSI} -device virtio-balloon-pci,id=bal0"),
    VM("db-q35-62", "pc-q35-6.2", 2, 128, f"{NET} {SCSI} -device virtio-balloon-pci,id=bal0"),
    VM("db-fx-42", "pc-i440fx-4.2", 2, 128, f"{NET} {SCSI}"),
    VM("files-fx-51", "pc-i440fx-5.1", 2, 128, f"{NET} {BLK} -device virtio-rng-pci,id=rng0"),
    VM("files-q35-72", "pc-q35-7.2", 2, 128,
       f"{NET} {BLK} -device virtio-rng-pci,id=rng0 -device virtio-serial-pci,id=ser0"),
    VM("win-q35-72", "pc-q35-7.2", 2, 128, f"-device e1000e,id=net0 {SATA} {NEC} {PANIC}"),
    VM("win-q35-62", "pc-q35-6.2", 2, 128, f"-device e1000e,id=net0 {SATA} {PANIC}"),
    VM("win-fx-72", "pc-i440fx-7.2", 2, 128, f"-device e1000,id=net0 {IDE} {NEC}"),
    VM("win-fx-51", "pc-i440fx-5.1", 4, 128, f"-device e1000,id=net0 {IDE} {PANIC}"),
    VM("legacy-fx-212", "pc-i440fx-2.12", 1, 128, f"-device e1000,id=net0 {IDE}"),
    VM("legacy-fx-211", "pc-i440fx-2.11", 2, 128, f"-device rtl8139,id=net0 {IDE}"),
    VM("legacy-fx-24", "pc-i440fx-2.4", 1, 128, f"-device e1000,id=net0 {IDE}"),
    VM("legacy-fx-31", "pc-i440fx-3.1", 2, 128, f"-device e1000,id=net0 {IDE} {BLK}"),
    VM("minimal-q35-72", "pc-q35-7.2", 1, 64, NET),
    VM("minimal-fx-72", "pc-i440fx-7.2", 1, 64, NET),
    VM("minimal-fx-60", "pc-i440fx-6.0", 1, 64, NET),
    VM("usb-q35-60", "pc-q35-6.0", 2, 128, f"{NET} {BLK} {NEC}"),
    VM("ancient-fx-23", "pc-i440fx-2.3", 1, 128, f"-device e1000,id=net0 {IDE}"),
    VM("ancient-fx-20", "pc-i440fx-2.0", 2, 128, f"-device e1000,id=net0 {BLK}"),
    VM("nvme-q35-72", "pc-q35-7.2", 2, 128, f"{NET} {NVME}"),
)


def inventory_text() -> str:
    return ("# name<TAB>host release<TAB>QEMU command line (tests/plan_fleet.py)\n"
            + "".join(vm.line() + "\n" for vm in FLEET))


def write_inventory(path: Path) -> Path:
    path.write_text(inventory_text())
    return path
