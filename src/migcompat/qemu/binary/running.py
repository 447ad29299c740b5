"""A running VM read over QMP, as the command line that makes the same VM.

``read_running_vm("unix:/run/vm1.qmp")`` reads a QEMU someone else runs, without changing
it: its release (``query-version``), machine type (``qom-get /machine type``, always the
versioned name), the board options that differ from a fresh PC machine's, the vCPU count,
the RAM size and the devices, as a ``-nodefaults`` :class:`CommandLine` that cli/vm_inputs.py
takes like any other (docs/inputs-qmp.md).

Board or user: QOM files the ``-device`` devices under ``/machine/peripheral/ID`` and
``/machine/peripheral-anon``, and everything else under ``/machine/unattached``: the
board's own devices (host bridge, LPC, AHCI, PIC, HPET, CPUs, the controllers of
``usb=on``), which the model builds from the machine type, next to what QEMU's defaults
and sugar made, which model/cmdline.py makes as devices. Those are told by type: a display
(``-vga``), a NIC (a device with a ``netdev`` property), ``isa-serial``, ``isa-parallel``,
``ide-hd``/``ide-cd`` and ``floppy``. A virtio proxy's backend is read through the proxy.

A device gives ``DRIVER,id=,bus=,addr=`` and the properties running_line.py keeps: those
that do not hold their baseline. Host backends (``drive=``, ``netdev=``...) are skipped.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable
from types import TracebackType
from typing import Any

from qemu.qmp import QMPClient, QMPError
from qemu.qmp.protocol import ConnectError

from migcompat.errors import QemuError, QmpCommandError, UsageError
from migcompat.model.buses import BOARD_USB, NEEDS
from migcompat.model.cmdline import VGA, CommandLine
from migcompat.model.release import Release
from migcompat.qemu.binary.qmp import QmpSession
from migcompat.qemu.binary.running_line import RunningDevice, RunningVM, text

__all__ = ["QmpConnection", "RunningDevice", "RunningVM", "parse_address", "read_running_vm"]

CONTAINERS = ("peripheral", "peripheral-anon", "unattached")
# What QEMU's defaults and sugar put in /machine/unattached (vl.c, hw/i386/pc*.c); a NIC is
# known by its netdev property instead.
SUGAR_TYPES = frozenset(VGA.values()) | {"isa-serial", "isa-parallel", "ide-hd", "ide-cd",
                                         "floppy"}
FIRST = frozenset(VGA.values())  # made at machine init, before -device (as cmdline.py)
# QEMU's bus types the model places devices on (model/buses.py NEEDS; PCIE is a PCI bus).
MODEL_BUSES = frozenset({kind for _, kind in NEEDS} | {"PCIE"})
# Properties that name a host backend: what the guest has does not depend on them.
BACKENDS = frozenset({"drive", "netdev", "chardev", "audiodev", "fsdev", "vhostfd", "fd"})
# Board options of the PC machines and the value QOM shows for them after a plain
# ``-M pc-q35-7.2`` (vmport's "auto" reads "on" once the board has resolved it).
BOARD_OPTIONS: dict[str, object] = {
    "usb": False, "vmport": "on", "hpet": True, "sata": True, "smbus": True, "i8042": True,
    "pit": "auto", "pic": "auto", "smm": "auto", "acpi": "auto", "graphics": True,
    "nvdimm": False, "hmat": False, "cxl": False, "default-bus-bypass-iommu": False,
    "kernel": "", "initrd": "", "append": "", "dtb": "",
}


def parse_address(address: str) -> str | tuple[str, int]:
    """``unix:PATH`` -> PATH, ``tcp:HOST:PORT`` -> (HOST, PORT); UsageError otherwise."""
    kind, _, rest = address.partition(":")
    if kind == "unix" and rest:
        return rest
    if kind == "tcp":
        host, _, port = rest.rpartition(":")
        host = host[1:-1] if host.startswith("[") and host.endswith("]") else host  # [::1]
        if host and port.isdigit() and 0 < int(port) < 65536:
            return host, int(port)
    raise UsageError(f"QMP address '{address}': expected unix:PATH or tcp:HOST:PORT")


class QmpConnection(QmpSession):
    """A QMP session with a QEMU at an address. Use it as a context manager."""

    def __init__(self, address: str, timeout: float = 10.0) -> None:
        self.address = address
        self.target = parse_address(address)
        self.timeout = timeout
        self._qmp: QMPClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def __enter__(self) -> QmpConnection:
        self._loop = asyncio.new_event_loop()
        self._qmp = QMPClient("migcompat")
        try:
            self._run(self._qmp.connect(self.target))
        except TimeoutError:
            self.close()
            # QEMU serves one client per monitor: a second one is accepted, never greeted.
            raise QemuError(f"QMP at {self.address}: no greeting in {self.timeout:g} s (is "
                            "another client connected? QEMU serves one at a time)") from None
        except (QMPError, OSError, EOFError) as exc:
            self.close()
            cause = exc.exc if isinstance(exc, ConnectError) else exc
            text = getattr(cause, "strerror", None) or str(cause) or type(cause).__name__
            raise QemuError(f"cannot connect to QMP at {self.address}: {text}") from None
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._disconnect()


def read_running_vm(address: str, timeout: float = 10.0,
                    release: Release | None = None) -> RunningVM:
    """Read the VM QEMU runs at ``address``; with ``release``, its line is against that
    release's model (:meth:`RunningVM.line_for`)."""
    with QmpConnection(address, timeout) as qmp:
        vm = _read(qmp)
    vm.line = vm.line_for(release)
    return vm


def _ok(result: Any, what: str) -> Any:
    if isinstance(result, QmpCommandError):
        raise QemuError(f"cannot read {what} over QMP: {result.error_class}: {result.desc}")
    return result


def _read(qmp: QmpSession) -> RunningVM:
    # Round trip 1: what the machine is, and what the containers hold.
    first: list[tuple[str, dict[str, Any]]] = [
        ("query-version", {}), ("qom-get", {"path": "/machine", "property": "type"}),
        ("query-cpus-fast", {}), ("query-memory-size-summary", {}),
        ("qom-list-types", {"implements": "device", "abstract": False}),
        ("qom-list-types", {"implements": "bus"}),
        *(("qom-list", {"path": f"/machine/{c}"}) for c in CONTAINERS),
        *(("qom-get", {"path": "/machine", "property": o}) for o in BOARD_OPTIONS),
    ]
    got = qmp.batch(first)
    version = _ok(got[0], "the QEMU version")
    machine = re.sub(r"-machine$", "", str(_ok(got[1], "the machine type")))
    device_types = {t["name"] for t in _ok(got[4], "the device types")}
    bus_types = {t["name"] for t in _ok(got[5], "the bus types")}
    listings = got[6:6 + len(CONTAINERS)]
    options = [f"{name}={text(value)}" for (name, fresh), value in
               zip(BOARD_OPTIONS.items(), got[6 + len(CONTAINERS):], strict=True)
               if not isinstance(value, QmpCommandError) and value != fresh]
    found: list[tuple[str, str, int]] = []  # (path, type, index in its container)
    for container, listing in zip(CONTAINERS, listings, strict=True):
        for child in _ok(listing, f"/machine/{container}"):
            kind = _child_type(child["type"])
            if kind in device_types:
                index = re.fullmatch(r"device\[(\d+)\]", child["name"])
                found.append((f"/machine/{container}/{child['name']}", kind,
                              int(index.group(1)) if index else -1))
    # Round trip 2: the properties of the types we take, with QEMU's class defaults; and
    # what the board's devices have, to tell the NICs (a netdev property) among them.
    board = [(path, kind) for path, kind, _ in found
             if path.startswith("/machine/unattached/") and kind not in SUGAR_TYPES]
    types = sorted({kind for path, kind, _ in found if (path, kind) not in board})
    second = qmp.batch([*(("device-list-properties", {"typename": t}) for t in types),
                        *(("qom-list", {"path": path}) for path, _ in board)])
    nics = {kind for (_, kind), listing in zip(board, second[len(types):], strict=True)
            if any(p["name"] == "netdev" for p in _ok(listing, "a device"))}
    extra = sorted(nics - set(types))
    second = second[:len(types)] + qmp.batch([("device-list-properties", {"typename": t})
                                              for t in extra])
    props = {t: [p for p in _ok(r, f"the properties of {t}")
                 if not p["type"].startswith(("link<", "child<"))]
             for t, r in zip(types + extra, second, strict=True)}

    def order(item: tuple[str, str, int]) -> tuple[int, int, str]:
        # cmdline.py's order: the display and the NICs, -device, the other defaults.
        path, kind, index = item
        if not path.startswith("/machine/unattached/"):
            return 1, index, path
        return (0 if kind in FIRST or kind in nics else 2), index, path
    wanted = [(path, kind) for path, kind, index in sorted(found, key=order)
              if (path, kind) not in board or kind in nics]
    # Round trip 3: every value, and the bus each device sits on.
    commands: list[tuple[str, dict[str, Any]]] = []
    for path, kind in wanted:
        commands.append(("qom-get", {"path": path, "property": "parent_bus"}))
        commands += [("qom-get", {"path": path, "property": p["name"]}) for p in props[kind]]
    values = iter(qmp.batch(commands))
    devices = []
    for path, kind in wanted:
        dev_id = path.rpartition("/")[2] if path.startswith("/machine/peripheral/") else None
        dev = RunningDevice(path, kind, dev_id, str(_ok(next(values), f"{path} parent_bus")))
        for prop in props[kind]:
            _take(dev, prop, next(values))
        devices.append(dev)
    # Round trip 4: the buses' types, as the objects they hang from list them (child<PCIE>).
    holders = sorted({dev.bus_path.rpartition("/")[0] for dev in devices})
    held = {h: {c["name"]: _child_type(c["type"]) for c in _ok(r, h)}
            for h, r in zip(holders, qmp.batch([("qom-list", {"path": h}) for h in holders]),
                            strict=True)}
    for dev in devices:
        devfn = dev.values.get("addr")
        if _bus_type(dev, held) in ("PCI", "PCIE") and isinstance(devfn, int) and devfn >= 0:
            # qom-get gives the devfn (also on 10.0, which declares the property a str)
            dev.addr = f"{devfn >> 3:02x}.{devfn & 7}"
    devices = _in_order(devices)
    # The USB controllers of usb=on are the board's, but the model makes them as devices
    # (model/buses.py BOARD_USB), named before any other: their buses take its names.
    made = {t for family in BOARD_USB.values() for t, _ in family}
    _name_buses(devices, [(path, kind) for path, kind in board if kind in made], held,
                bus_types)
    return RunningVM(f"{version['qemu']['major']}.{version['qemu']['minor']}",
                     str(version.get("package", "")).strip(), CommandLine(), machine, options,
                     len(_ok(got[2], "the vCPUs")),
                     f"{int(_ok(got[3], 'the RAM size')['base-memory']) >> 20}M", devices)


def _child_type(text: str) -> str:
    return text[len("child<"):-1] if text.startswith("child<") else ""


def _take(dev: RunningDevice, prop: dict[str, Any], value: Any) -> None:
    name = prop["name"]
    if isinstance(value, QmpCommandError) or not isinstance(value, bool | int | str):
        return  # not readable, or a structure (which -device cannot set from text either)
    if name in BACKENDS:
        if value:
            dev.skipped.append(f"{name}={value}")
        return
    dev.values[name] = value
    if isinstance(prop.get("default-value"), bool | int | str):
        dev.defaults[name] = prop["default-value"]


def _owner(bus_path: str, devices: Iterable[RunningDevice]) -> RunningDevice | None:
    """The device (of ours) that provides the bus: the deepest one the bus is under (a
    virtio-scsi-pci's bus hangs below its virtio-backend)."""
    owners = [d for d in devices if bus_path.startswith(d.path + "/")]
    return max(owners, key=lambda d: len(d.path)) if owners else None


def _in_order(devices: list[RunningDevice]) -> list[RunningDevice]:
    """The devices in their order, except that each comes after the device providing its
    bus, and a PCI function after function 0 of its slot (the model, like QEMU at hotplug,
    refuses a function 0 in a slot already taken)."""
    def before(dev: RunningDevice) -> list[RunningDevice]:
        found = [o] if (o := _owner(dev.bus_path, devices)) is not None else []
        if dev.addr and not dev.addr.endswith(".0"):
            slot = dev.addr.partition(".")[0]
            found += [d for d in devices if d.bus_path == dev.bus_path and d.addr == slot + ".0"]
        return found

    out: list[RunningDevice] = []
    pending = list(devices)
    while pending:
        ready = next((d for d in pending if all(b in out for b in before(d))), pending[0])
        out.append(ready)
        pending.remove(ready)
    return out


def _bus_type(dev: RunningDevice, held: dict[str, dict[str, str]]) -> str:
    holder, _, name = dev.bus_path.rpartition("/")
    return held.get(holder, {}).get(name, "")


def _name_buses(devices: list[RunningDevice], board_usb: list[tuple[str, str]],
                held: dict[str, dict[str, str]], bus_types: set[str]) -> None:
    """Each device's bus under the model's name (model/buses.py), or None where the model
    puts the device on no bus (the system bus, a floppy bus). The board's buses and those of
    a device with an id are named alike in QEMU and the model ("pcie.0", "<id>.0", a
    bridge's id). QEMU numbers the buses of an anonymous device over the whole VM
    ("usb-bus.0"), the model after the device ("qemu-xhci#1.0"); an anonymous bridge's bus
    keeps QEMU's name."""
    anon: dict[str, str] = {}
    count: dict[str, int] = {}
    owners = [RunningDevice(path, kind, None, "") for path, kind in board_usb] + devices
    for dev in owners:  # TYPE#N in creation order, as realize_vm names them
        if dev.id is None:
            count[dev.driver] = count.get(dev.driver, 0) + 1
            anon[dev.path] = f"{dev.driver}#{count[dev.driver]}"
    for dev in devices:
        holder, _, name = dev.bus_path.rpartition("/")
        kind = _bus_type(dev, held)
        owner = _owner(dev.bus_path, owners)
        if kind not in MODEL_BUSES:
            dev.bus = None
        elif owner is None or owner.path not in anon or kind in ("PCI", "PCIE"):
            dev.bus = name
        else:
            buses = sorted((n for n, k in held[holder].items() if k in bus_types), key=_number)
            dev.bus = f"{anon[owner.path]}.{buses.index(name) if name in buses else 0}"


def _number(name: str) -> int:
    m = re.search(r"(\d+)$", name)
    return int(m.group(1)) if m else 0
