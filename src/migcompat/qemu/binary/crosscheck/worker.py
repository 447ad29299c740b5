"""The QEMU side of the cross-check: the device set, one paused QEMU per machine type, and
what it reports over QMP. Runs in worker processes (see crosscheck.run_crosscheck).

A device the binary refuses at startup (``-device X: ...``; e.g. virtio-iommu-pci on 5.2's
x86 boards) is dropped, with QEMU's reason, and QEMU started again without it; devices
that sit on a dropped one's bus go with it.
"""

from __future__ import annotations

import re
import signal
import time
from collections.abc import Collection, Sequence

from migcompat.errors import MigcompatError, QemuError
from migcompat.model.devspec import parse_device
from migcompat.model.machines import version_key
from migcompat.qemu.binary.crosscheck.qom import Observed, observe
from migcompat.qemu.binary.qmp import QemuProcess

FAMILIES = ("pc-q35-", "pc-i440fx-")
SMP = 4
DRIVES = 5
# Devices that need no host backend (or a null drive), each with an id. Two sit behind a
# PCI bridge at fixed slots: the root bus has ~30 free slots and old machine types' SHPC
# bridges refuse slot 0.
DEVICES: tuple[str, ...] = (
    "virtio-blk-pci,id=vblk,drive=d0",
    "virtio-net-pci,id=vnet",
    "virtio-scsi-pci,id=vscsi",
    "virtio-balloon-pci,id=vbal",
    "virtio-serial-pci,id=vser",
    "virtio-rng-pci,id=vrng",
    "e1000,id=e1k",
    "e1000e,id=e1ke",
    "qemu-xhci,id=xhci",
    "usb-tablet,id=tab,bus=xhci.0",
    "usb-kbd,id=ukbd,bus=xhci.0",
    "usb-mouse,id=umouse,bus=xhci.0",
    "usb-storage,id=ustor,drive=d2,bus=xhci.0",
    "virtio-gpu-pci,id=vgpu",
    "virtio-keyboard-pci,id=vkbd",
    "virtio-mouse-pci,id=vmouse",
    "virtio-tablet-pci,id=vtab",
    "virtio-iommu-pci,id=viommu",
    "i6300esb,id=wdt",
    "pvpanic-pci,id=pvp",
    "pvpanic,id=pvisa",
    "rtl8139,id=rtl",
    "vmxnet3,id=vmx",
    "pcnet,id=pcnet",
    "megasas,id=mega",
    "lsi53c895a,id=lsi",
    "scsi-hd,id=shd,drive=d3,bus=vscsi.0",
    "nvme,id=nvme,serial=x,drive=d1",
    "nec-usb-xhci,id=nec",
    "ich9-usb-ehci1,id=ehci",
    "piix3-usb-uhci,id=uhci",
    "intel-hda,id=hda",
    "ich9-ahci,id=ahci",
    "pci-bridge,id=br,chassis_nr=1",
    "usb-ehci,id=uehci,bus=br,addr=0x1",
    "ne2k_pci,id=ne2k,bus=br,addr=0x2",
    "virtio-vga,id=vvga,bus=br,addr=0x3",
    "i82559er,id=eepro,bus=br,addr=0x4",
    "mptsas1068,id=mpt,bus=br,addr=0x5",
    "pvscsi,id=pvscsi,bus=br,addr=0x6",
    "am53c974,id=am53,bus=br,addr=0x7",
    "dc390,id=dc390,bus=br,addr=0x8",
    "sdhci-pci,id=sdhci,bus=br,addr=0x9",
    "ich9-intel-hda,id=ihda,bus=br,addr=0xa",
    "pci-serial,id=pser,chardev=c0,bus=br,addr=0xb",
    "edu,id=edu,bus=br,addr=0xc",
    "pci-testdev,id=ptest,bus=br,addr=0xd",
    "virtserialport,id=vport,chardev=c1,bus=vser.0",
    "scsi-cd,id=scd,bus=vscsi.0",
    "ide-cd,id=icd,bus=ahci.0",
    "ide-hd,id=ihd,drive=d4,bus=ahci.1",
    "usb-hub,id=uhub,bus=xhci.0",
    "isa-serial,id=iser,chardev=c2",
    "isa-debugcon,id=dbgcon,chardev=c3",
)
# The unversioned machines take other devices: isapc has an ISA bus and no PCI, microvm
# virtio-mmio transports (and an ISA bus), none no bus at all. none's set is what the other
# machines take, to compare the refusals: each device is refused, by QEMU and the model.
ISAPC_DEVICES: tuple[str, ...] = (
    "isa-serial,id=iser,chardev=c2",
    "isa-debugcon,id=dbgcon,chardev=c3",
    "isa-parallel,id=ipar,chardev=c0",
    "pvpanic,id=pvisa",
    "ne2k_isa,id=ne2k",
    "ib700,id=wdt",
    "pc-testdev,id=ptest",
    "isa-debug-exit,id=dexit",
    "isa-applesmc,id=smc",
    "isa-vga,id=ivga",
    "ipmi-bmc-sim,id=bmc",
    "isa-ipmi-kcs,id=kcs,bmc=bmc",
)
MICROVM_DEVICES: tuple[str, ...] = (
    "virtio-blk-device,id=vblk,drive=d0",
    "virtio-net-device,id=vnet",
    "virtio-rng-device,id=vrng",
    "virtio-balloon-device,id=vbal",
    "virtio-serial-device,id=vser",
    "virtserialport,id=vport,chardev=c1,bus=vser.0",
    "virtio-scsi-device,id=vscsi",
    "scsi-hd,id=shd,drive=d3,bus=vscsi.0",
    "scsi-cd,id=scd,bus=vscsi.0",
    "virtio-keyboard-device,id=vkbd",
    "virtio-mouse-device,id=vmouse",
    "virtio-tablet-device,id=vtab",
    "isa-serial,id=iser,chardev=c2",
    "isa-debugcon,id=dbgcon,chardev=c3",
)
NONE_DEVICES: tuple[str, ...] = (
    "isa-serial,id=iser,chardev=c2",
    "e1000,id=e1k",
    "virtio-blk-device,id=vblk,drive=d0",
    "usb-kbd,id=ukbd",
)
UNVERSIONED = {"isapc": ISAPC_DEVICES, "microvm": MICROVM_DEVICES, "none": NONE_DEVICES}
# isapc and none take one vCPU ("The max CPUs supported by machine 'isapc' is 1").
ONE_CPU = frozenset({"isapc", "none"})
CHARDEVS = 4
# A private build's extra QEMU arguments and environment, or None for a plain binary.
Environment = tuple[Sequence[str], dict[str, str]] | None
_REFUSED = re.compile(r"-device ([^\s:]+): (.*)")
_MAX_DROPS = 8


def device_id(spec: str) -> str:
    return str(parse_device(spec).id)


def devices_for(machine: str) -> tuple[str, ...]:
    """The device set a machine type is checked with."""
    return UNVERSIONED.get(machine, DEVICES)


def smp_for(machine: str) -> int:
    return 1 if machine in ONE_CPU else SMP


def qemu_args(machine: str, devices: Sequence[str] = DEVICES) -> list[str]:
    args = ["-M", machine, "-smp", str(smp_for(machine))]
    for i in range(DRIVES):
        args += ["-drive", f"if=none,id=d{i},file=null-co://,format=raw"]
    for i in range(CHARDEVS):
        args += ["-chardev", f"null,id=c{i}"]
    for spec in devices:
        args += ["-device", spec]
    return args


def _without(devices: list[str], dropped: str) -> list[str]:
    """The device set without ``dropped`` and the devices on its buses (bus=ID.N, bus=ID)."""
    out = []
    for spec in devices:
        bus = dict(parse_device(spec).options).get("bus", "")
        if device_id(spec) != dropped and bus.split(".")[0] != dropped:
            out.append(spec)
    return out


def observe_machine(binary: str, machine: str, children: Collection[str],
                    env: Environment = None
                    ) -> tuple[dict[str, dict[str, Observed]], dict[str, str]]:
    """What QEMU reports for every device, and the devices it refused (id -> reason)."""
    extra, variables = env or ((), None)
    devices = list(devices_for(machine))
    refused: dict[str, str] = {}
    while True:
        try:
            with QemuProcess([*extra, *qemu_args(machine, devices)], binary=binary,
                             env=variables) as proc:
                return observe(proc, [device_id(d) for d in devices], children), refused
        except QemuError as exc:
            m = _REFUSED.search(exc.stderr)
            if m is None or len(refused) >= _MAX_DROPS:
                raise
            dropped = device_id(m.group(1))
            if dropped not in {device_id(d) for d in devices}:
                raise
            before = {device_id(d) for d in devices}
            devices = _without(devices, dropped)
            for gone in sorted(before - {device_id(d) for d in devices}):
                why = m.group(2).strip().replace(machine, "this")
                refused[gone] = why if gone == dropped else f"on {dropped}"


def ignore_sigint() -> None:  # pragma: no cover - runs in the worker processes
    signal.signal(signal.SIGINT, signal.SIG_IGN)


Observation = tuple[dict[str, dict[str, Observed]], dict[str, str]]


def work(args: tuple[str, str, Collection[str], Environment]
         ) -> tuple[str, Observation | str, float]:
    """One machine type in a worker process: its observations, or the error text."""
    binary, machine, children, env = args
    t0 = time.monotonic()
    try:
        return machine, observe_machine(binary, machine, children, env), time.monotonic() - t0
    except MigcompatError as exc:
        return machine, str(exc), time.monotonic() - t0


def _order(name: str) -> tuple[int, str, tuple[int, ...]]:
    """pc-i440fx-*, pc-q35-* by version, then the unversioned machines."""
    if name in UNVERSIONED:
        return (1, name, ())
    family, _, version = name.rpartition("-")
    return (0, family, version_key(version))


def list_machines(binary: str, env: Environment = None) -> tuple[list[str], str, str]:
    """The binary's pc-q35/pc-i440fx machine types and its isapc, microvm and none, its
    version (x.y.z) and package."""
    extra, variables = env or ((), None)
    with QemuProcess([*extra, "-machine", "none"], binary=binary, env=variables) as proc:
        names = sorted((str(m["name"]) for m in proc.cmd("query-machines")
                        if str(m["name"]).startswith(FAMILIES)
                        or str(m["name"]) in UNVERSIONED),
                       key=_order)
        major, minor, micro = proc.version()
        return names, f"{major}.{minor}.{micro}", proc.package()
