"""Every device type a build can create, tried on a pc machine: does it start, and does
the VM then migrate? (docs/probe-state.md, "Every device type")

For each user-creatable device type of ``-device help`` (its transport's parts on
``virtio-bus`` aside: they come with their proxy), a paused VM of the family's newest
machine type is started with the device alone, with what it needs around it: a controller
for its bus (an xHCI for USB devices, a virtio-scsi for SCSI ones...) and a backend for
each backend property it has (a ``null-co`` drive, a null chardev, a hub port, a RAM
backend, a silent audiodev). Then the VM is asked to migrate to ``/dev/null``. Outcomes:

- ``ok``: it started and migrated;
- ``blocked``: it started, and QEMU refused to migrate it (a migration blocker), with its
  words. Each boolean property of a blocked device is then tried the other way (``on``
  and ``off``): an option that lifts the blocker is kept (``lifted_by``: ivshmem's
  ``master=on``);
- ``crashes``: it started, and the source died when asked to migrate (an assertion, a
  lost monitor): a migration that cannot happen either;
- ``cannot-start``: QEMU refused the configuration, with its words (a device that needs
  options the probe does not give, or one this build cannot run on this machine type:
  ``check`` compares the builds, see analysis).

Runs go two at a time (``jobs``); each is a :class:`QemuProcess` (its process group dies
with the call).
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from migcompat.errors import MigcompatError, QemuError
from migcompat.qemu.binary.qmp import wait_for_migration
from migcompat.qemu.binary.state.run import Target, one_line

_LINE = re.compile(r'^name "([^"]+)"(?:, bus ([^,]+))?')
SKIPPED_BUSES = frozenset({"virtio-bus"})
RUN_TIMEOUT = 30.0
# A controller for each bus a device may need (its id names the bus).
BUS_HELPERS: dict[str, tuple[tuple[str, ...], str]] = {
    "usb-bus": (("-device", "qemu-xhci,id=mcusb"), "bus=mcusb.0"),
    "SCSI": (("-device", "virtio-scsi-pci,id=mcscsi"), "bus=mcscsi.0"),
    "HDA": (("-device", "intel-hda,id=mchda"), "bus=mchda.0"),
    "virtio-serial-bus": (("-device", "virtio-serial-pci,id=mcser"), "bus=mcser.0"),
    "ccid-bus": (("-device", "qemu-xhci,id=mcusb", "-device", "usb-ccid,id=mcccid"),
                 "bus=mcccid.0"),
    "nvme-bus": (("-drive", "if=none,id=mcnvd,file=null-co://,format=raw", "-device",
                  "nvme,id=mcnvme,serial=mcnvme,drive=mcnvd"), "bus=mcnvme"),
    "floppy-bus": (("-device", "isa-fdc,id=mcfdc"), "bus=mcfdc.0"),
}
# A backend for each backend property (its option, and what creates the backend).
BACKENDS: dict[str, tuple[tuple[str, ...], str]] = {
    "drive": (("-drive", "if=none,id=mcdrv,file=null-co://,format=raw"), "drive=mcdrv"),
    "chardev": (("-chardev", "null,id=mcchr"), "chardev=mcchr"),
    "netdev": (("-netdev", "hubport,id=mcnet,hubid=0"), "netdev=mcnet"),
    "memdev": (("-object", "memory-backend-ram,id=mcmem,size=4M"), "memdev=mcmem"),
    "audiodev": (("-audiodev", "none,id=mcaud"), "audiodev=mcaud"),
}
# What a blocked device's switches are tried with.
SWITCHES = {"bool": ("on", "off"), "OnOffAuto": ("on", "off", "auto")}
# Options some devices cannot start without (QEMU checks them at realize).
REQUIRED: dict[str, str] = {"nvme": "serial=mcprobe"}


@dataclass(frozen=True)
class Listed:
    name: str
    bus: str


@dataclass(frozen=True)
class Outcome:
    status: str  # ok, blocked, cannot-start
    words: str = ""
    lifted_by: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"status": self.status, "words": self.words}
        if self.lifted_by:
            out["lifted_by"] = list(self.lifted_by)
        return out


def listed_devices(target: Target) -> list[Listed]:
    """The user-creatable device types of ``-device help`` with their bus."""
    out = subprocess.run([target.binary, *target.extra, "-device", "help"], env=target.env,
                         capture_output=True, text=True, timeout=60, check=False)
    if out.returncode != 0:
        raise QemuError(f"{target.binary} -device help failed", out.stderr)
    found = []
    for line in out.stdout.splitlines():
        m = _LINE.match(line.strip())
        if m and m.group(2) and m.group(2) not in SKIPPED_BUSES:
            found.append(Listed(m.group(1), m.group(2)))
    return found


def properties(target: Target, names: Iterable[str]) -> dict[str, dict[str, str]]:
    """Each type's properties and their QAPI types (``device-list-properties``)."""
    out: dict[str, dict[str, str]] = {}
    with target.process(["-machine", "none"]) as vm:
        for name in names:
            try:
                props = vm.cmd("device-list-properties", typename=name)
            except MigcompatError:
                props = []
            out[name] = {str(p["name"]): str(p.get("type", "")) for p in props}
    return out


def device_args(dev: Listed, props: dict[str, str], extra: str = "") -> list[str]:
    """The options that start ``dev`` alone with what it needs around it."""
    args: list[str] = []
    opts = [dev.name, "id=mcprobe"]
    helper = BUS_HELPERS.get(dev.bus)
    if helper is not None:
        args += helper[0]
        opts.append(helper[1])
    for prop, (backend, option) in BACKENDS.items():
        if prop in props:
            args += backend
            opts.append(option)
    if dev.name in REQUIRED:
        opts.append(REQUIRED[dev.name])
    if extra:
        opts.append(extra)
    return [*args, "-device", ",".join(opts)]


def try_migrate(target: Target, machine: str, args: Sequence[str]) -> Outcome:
    """Start ``machine`` with ``args`` and migrate it to /dev/null."""
    try:
        with target.process(["-M", machine, "-m", "64", *args]) as vm:
            try:
                vm.cmd("migrate", uri="exec:cat > /dev/null")
                wait_for_migration(lambda: vm.cmd("query-migrate"), _deadline())
            except MigcompatError as exc:
                return _refused(exc)
    except MigcompatError as exc:
        return Outcome("cannot-start", one_line(exc))
    return Outcome("ok")


def _refused(exc: MigcompatError) -> Outcome:
    """A migration that did not happen: refused (QEMU's words, without the QMP client's
    prefix), or the source died on the way (an assertion, a lost monitor)."""
    words = one_line(exc)
    if "GenericError: " in words:
        return Outcome("blocked", words.split("GenericError: ", 1)[1])
    return Outcome("crashes", words)


def _deadline() -> float:
    return time.monotonic() + RUN_TIMEOUT


def probe_device(target: Target, machine: str, dev: Listed,
                 props: dict[str, str]) -> Outcome:
    """One device type on ``machine``: its outcome, and what lifts a blocker."""
    found = try_migrate(target, machine, device_args(dev, props))
    if found.status != "blocked":
        return found
    lifts = []
    for prop, kind in sorted(props.items()):
        if kind not in SWITCHES:
            continue
        for value in SWITCHES[kind]:
            option = f"{prop}={value}"
            if try_migrate(target, machine, device_args(dev, props, option)).status == "ok":
                lifts.append(option)
    return Outcome("blocked", found.words, tuple(lifts))


def probe_devices(target: Target, machines: dict[str, str],
                  say: Callable[[str], None] = lambda _m: None,
                  jobs: int = 2, only: Collection[str] | None = None) -> dict[str, Any]:
    """The ``device_probe`` part of a state document: for each family (``pc-q35``:
    ``pc-q35-7.2``...), the probed machine type and each device type's outcome (the ones
    that started and migrated listed under ``ok``); ``only``: these device types."""
    listed = [d for d in listed_devices(target) if only is None or d.name in only]
    props = properties(target, [d.name for d in listed])
    doc: dict[str, Any] = {}
    for family, machine in sorted(machines.items()):
        say(f"  device probe: {len(listed)} device types on {machine}")
        with ThreadPoolExecutor(max(1, min(jobs, 2))) as pool:
            outcomes = list(pool.map(probe_device, [target] * len(listed),
                                     [machine] * len(listed), listed,
                                     [props[d.name] for d in listed]))
        doc[family] = {
            "machine": machine,
            "ok": sorted(d.name for d, o in zip(listed, outcomes, strict=True)
                         if o.status == "ok"),
            "devices": {d.name: o.to_json() for d, o in zip(listed, outcomes, strict=True)
                        if o.status != "ok"},
        }
    return doc
