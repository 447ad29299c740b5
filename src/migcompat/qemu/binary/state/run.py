"""Run a real QEMU for the state capture (capture.py): list its machines and devices, save
a stream, dump.

Every run is ``-nodefaults -display none -S -accel tcg`` (qemu/binary/qmp.py :class:`QemuProcess`:
its process group is killed on any exit, so no QEMU outlives a call). A stream is saved
paused, as tests/qemu_helpers.make_stream does: ``migrate "exec:cat > FILE.part && mv ..."``,
then ``query-migrate`` until "completed" and until the renamed file exists (QEMU reports
completion when it has closed the pipe, a moment before ``cat`` has finished writing).
"""

from __future__ import annotations

import re
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from migcompat.errors import QemuError
from migcompat.qemu.binary.qmp import QemuProcess, wait_for_migration

MEM_MIB = 64
SAVE_TIMEOUT = 60.0
# "qemu-system-x86_64: " (or a private build's full path) before QEMU's own message.
_PROGRAM = re.compile(r"^\S*qemu-system-[\w-]+: ")


@dataclass(frozen=True)
class Device:
    """A curated device: its type and the backend options it needs (``{n}``: its index)."""

    type: str
    backend: tuple[str, ...] = ()
    prop: str = ""  # the device options naming the backend ("drive=d{n}"), and others

    def args(self, n: int) -> list[str]:
        opts = f"{self.type},id=mcdev{n}" + (f",{self.prop.format(n=n)}" if self.prop else "")
        return [a.format(n=n) for a in self.backend] + ["-device", opts]

    def options(self) -> dict[str, str]:
        """The options it is captured with besides its backends (``master=on``): the
        state it saves is that of these values, not the type's defaults."""
        pairs = (o.partition("=") for o in self.prop.split(",") if o)
        return {k: v for k, _, v in pairs if "{n}" not in v}

    def memdev(self, n: int) -> str | None:
        """The id of the memory backend it maps, if any (its RAM block's name)."""
        pairs = (o.partition("=") for o in self.prop.format(n=n).split(",") if o)
        return next((v for k, _, v in pairs if k == "memdev"), None)


def _nic(name: str) -> Device:
    # Each NIC on its own hub port: no backend state travels. (User networking would add a
    # legacy "slirp" section per netdev to the stream, which is not device state.)
    return Device(name, ("-netdev", "hubport,id=mcnet{n},hubid={n}"), "netdev=mcnet{n}")


DEVICES: tuple[Device, ...] = (
    Device("virtio-blk-pci", ("-drive", "if=none,id=mcdrv{n},file=null-co://,format=raw"),
           "drive=mcdrv{n}"),
    _nic("virtio-net-pci"), _nic("e1000"), _nic("e1000e"), _nic("rtl8139"),
    Device("virtio-rng-pci"), Device("virtio-scsi-pci"), Device("virtio-balloon-pci"),
    Device("virtio-serial-pci"), Device("qemu-xhci"), Device("usb-ehci"), Device("i6300esb"),
    _nic("vmxnet3"), _nic("pcnet"), _nic("ne2k_pci"),
    Device("virtio-gpu-pci"), Device("virtio-keyboard-pci"), Device("virtio-tablet-pci"),
    Device("intel-hda"),
    Device("megasas"), Device("lsi53c895a"), Device("ich9-ahci"),
    Device("nvme", ("-drive", "if=none,id=mcnvme{n},file=null-co://,format=raw"),
           "drive=mcnvme{n},serial=mcnvme{n}"),
    Device("pvpanic-pci"), Device("nec-usb-xhci"), Device("ich9-usb-uhci1"),
    # Every other PCI device type the device probe saw start and migrate on its own with
    # no host backend (device_probe.py), in later saves (capture.BATCH at a time).
    *map(_nic, ("e1000-82544gc", "e1000-82545em", "i82550", "i82551", "i82557a", "i82557b",
                "i82557c", "i82558a", "i82558b", "i82559a", "i82559b", "i82559c", "i82559er",
                "i82562", "i82801", "tulip")),
    *map(Device, ("am53c974", "dc390", "lsi53c810", "megasas-gen2", "mptsas1068", "pvscsi",
                  "piix3-ide", "piix4-ide", "sdhci-pci", "ich9-intel-hda", "ich9-usb-ehci1",
                  "ich9-usb-ehci2", "ich9-usb-uhci2", "ich9-usb-uhci3", "ich9-usb-uhci4",
                  "ich9-usb-uhci5", "ich9-usb-uhci6", "piix3-usb-uhci", "piix4-usb-uhci",
                  "pci-ohci", "pci-serial", "pci-serial-4x", "edu", "pci-testdev", "qxl",
                  "secondary-vga", "bochs-display", "virtio-mouse-pci", "virtio-iommu-pci",
                  "virtio-balloon-pci-non-transitional", "virtio-balloon-pci-transitional",
                  "virtio-rng-pci-non-transitional", "virtio-rng-pci-transitional",
                  "virtio-scsi-pci-non-transitional", "virtio-scsi-pci-transitional",
                  "virtio-serial-pci-non-transitional", "virtio-serial-pci-transitional",
                  "tpci200")),
    *map(_nic, ("virtio-net-pci-non-transitional", "virtio-net-pci-transitional")),
    *(Device(t, ("-drive", "if=none,id=mcdrv{n},file=null-co://,format=raw"), "drive=mcdrv{n}")
      for t in ("virtio-blk-pci-non-transitional", "virtio-blk-pci-transitional")),
    Device("acpi-erst", ("-object", "memory-backend-ram,id=mcmem{n},size=64K"),
           "memdev=mcmem{n}"),
    # ivshmem-plain migrates only as the master (the device probe saw it blocked otherwise)
    Device("ivshmem-plain", ("-object", "memory-backend-ram,id=mcmem{n},size=1M"),
           "master=on,memdev=mcmem{n}"),
    # Left out: sound cards that need an -audiodev (10.0), whose backend adds an "audio"
    # section of its own; PCI bridges and ports, whose new bus adds a PCIBUS section outside
    # the bridge's address: neither can be told apart from the board in one save; and
    # the VGA cards besides secondary-vga, bochs-display and qxl (a VM has one legacy VGA).
)


@dataclass(frozen=True)
class Target:
    """A QEMU binary to run: its path, environment and extra arguments (``-L DIR``)."""

    binary: str
    env: dict[str, str] | None = None
    extra: tuple[str, ...] = ()

    def process(self, args: Sequence[str]) -> QemuProcess:
        return QemuProcess([*self.extra, *args], binary=self.binary, env=self.env,
                           timeout=SAVE_TIMEOUT)


@dataclass
class Saved:
    """A saved stream and what QMP said while the VM was up."""

    data: bytes
    slots: dict[str, tuple[int, int]] = field(default_factory=dict)  # qdev id -> slot, fn
    board_types: tuple[str, ...] = ()  # the QOM types of the devices the board made


def one_line(exc: BaseException) -> str:
    """QEMU's last word about a failure, on one line, without the program path."""
    if isinstance(exc, QemuError):
        lines = [ln.strip() for ln in exc.stderr.splitlines() if ln.strip()]
        errors = [ln for ln in lines if "warning:" not in ln.lower()]
        text = (errors or lines or [exc.message])[-1]
    else:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return _PROGRAM.sub("", text)


def machine_types(target: Target) -> list[str]:
    """The versioned x86 PC machine types (``pc-*``) of ``-machine help``, aliases left out."""
    out = subprocess.run([target.binary, *target.extra, "-machine", "help"], env=target.env,
                         capture_output=True, text=True, timeout=60, check=False)
    if out.returncode != 0:
        raise QemuError(f"{target.binary} -machine help failed", out.stderr)
    names = [ln.split()[0] for ln in out.stdout.splitlines()[1:] if ln.strip()]
    return [n for n in names if n.startswith("pc-")]


def device_types(target: Target) -> tuple[set[str], str]:
    """The device types the build has, and its version string ("7.2.22 (Debian ...)")."""
    with target.process(["-machine", "none"]) as vm:
        types = {str(t["name"]) for t in vm.cmd("qom-list-types", implements="device")}
        ver = vm.cmd("query-version")
    q = ver["qemu"]
    build = f"{q['major']}.{q['minor']}.{q['micro']}"
    package = str(ver.get("package", "")).strip()
    return types, f"{build} ({package})" if package else build


def save(target: Target, machine: str, smp: int, devices: Sequence[Device] = ()) -> Saved:
    """Start ``machine`` paused with ``devices`` and save its stream; raise QemuError."""
    args = ["-M", machine, "-m", str(MEM_MIB), "-smp", str(smp)]
    for n, dev in enumerate(devices):
        args += dev.args(n)
    with tempfile.TemporaryDirectory(prefix="mcstate") as tmp:
        out = Path(tmp) / "s.mig"
        with target.process(args) as vm:
            saved = Saved(b"")
            if devices:
                saved.slots = _slots(vm.cmd("query-pci"))
            else:
                saved.board_types = board_types(vm)
            part = f"{out}.part"
            vm.cmd("migrate", uri=f"exec:cat > {part} && mv {part} {out}")
            deadline = time.monotonic() + SAVE_TIMEOUT
            wait_for_migration(lambda: vm.cmd("query-migrate"), deadline)
            while not out.exists():
                if time.monotonic() > deadline:
                    raise QemuError("the saved stream did not appear in time")
                time.sleep(0.01)
        saved.data = out.read_bytes()
    return saved


def board_types(vm: QemuProcess, root: str = "/machine", limit: int = 2000) -> tuple[str, ...]:
    """The QOM types of every device under ``root`` (qom-list, child<TYPE> properties): what
    the board itself creates, which ``-global`` can reach (bounded: a board has ~100)."""
    found: set[str] = set()
    todo, seen = [root], 0
    while todo and seen < limit:
        path = todo.pop()
        seen += 1
        for prop in vm.cmd("qom-list", path=path):
            kind = str(prop.get("type", ""))
            if kind.startswith("child<") and kind.endswith(">"):
                found.add(kind[6:-1])
                todo.append(f"{path}/{prop['name']}")
    devices = {str(t["name"]) for t in vm.cmd("qom-list-types", implements="device")}
    return tuple(sorted(found & devices))


def _slots(buses: object) -> dict[str, tuple[int, int]]:
    out: dict[str, tuple[int, int]] = {}
    for bus in buses if isinstance(buses, list) else []:
        if bus.get("bus") != 0:
            continue
        for dev in bus.get("devices", []):
            if dev.get("qdev_id"):
                out[str(dev["qdev_id"])] = (int(dev["slot"]), int(dev["function"]))
    return out


def dump_vmstate(target: Target, machine: str) -> bytes:
    """``-dump-vmstate`` of ``machine``: QEMU writes the JSON and exits."""
    with tempfile.TemporaryDirectory(prefix="mcdump") as tmp:
        path = Path(tmp) / "dump.json"
        out = subprocess.run(
            [target.binary, *target.extra, "-nodefaults", "-display", "none", "-S",
             "-accel", "tcg", "-M", machine, "-m", str(MEM_MIB), "-dump-vmstate", str(path)],
            env=target.env, capture_output=True, text=True, timeout=120, check=False,
            stdin=subprocess.DEVNULL)
        if out.returncode != 0 or not path.exists():
            raise QemuError(f"-dump-vmstate of {machine} failed", out.stderr)
        return path.read_bytes()
