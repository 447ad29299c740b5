"""A running VM read over QMP (qemu/binary/running.py): the system QEMU runs a VM, the reader
turns it into a command line, and that must realize to the same VM as parsing the command
line QEMU was started with (tests/vm_compare.py), within the time an operator waits."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

from migcompat.catalog.load import open_catalog
from migcompat.cli.options import VMArgs
from migcompat.cli.vm_inputs import config_for
from migcompat.errors import EXIT_ENVIRONMENT, QemuError, UsageError
from migcompat.model.cmdline import parse_command_line
from migcompat.model.release import Release
from migcompat.qemu.binary.running import RunningVM, parse_address, read_running_vm
from qemu_helpers import require_qemu
from vm_compare import differences

pytestmark = pytest.mark.qemu
CATALOG = open_catalog("qemu")
BASE = ["-S", "-display", "none", "-accel", "tcg"]
# A libvirt-like q35 VM: buses, a multifunction slot, backends, non-default properties, an
# anonymous device and one QEMU places itself.
Q35 = [
    "-nodefaults", "-M", "pc-q35-7.2,vmport=off,hpet=off", "-smp", "4,sockets=1,cores=2,threads=2",
    "-m", "1G",
    "-device", "pcie-root-port,id=rp1,chassis=1,port=0x10,bus=pcie.0,addr=0x2,multifunction=on",
    "-device", "pcie-root-port,id=rp2,chassis=2,port=0x11,bus=pcie.0,addr=0x2.0x1",
    "-device", "virtio-scsi-pci,id=scsi0,bus=rp1,addr=0x0",
    "-drive", "if=none,id=d0,file=null-co://,format=raw",
    "-device", "scsi-hd,drive=d0,bus=scsi0.0,id=sd0",
    "-drive", "if=none,id=d1,file=null-co://,format=raw",
    "-device", "ide-hd,drive=d1,bus=ide.1,id=ide0",
    "-drive", "if=none,id=d2,file=null-co://,format=raw",
    "-device", "virtio-blk-pci,drive=d2,num-queues=2,id=vb0,bus=pcie.0,addr=0x3",
    "-netdev", "user,id=n0", "-device", "virtio-net-pci,netdev=n0,id=net0,bus=pcie.0,addr=0x4",
    "-device", "qemu-xhci,id=usb,p2=8,p3=8,bus=rp2,addr=0x0",
    "-device", "usb-tablet,id=tab0,bus=usb.0,port=1",
    "-device", "virtio-balloon-pci,id=balloon0,bus=pcie.0,addr=0x5",
    "-device", "e1000e,mac=52:54:00:aa:bb:cc,bus=pcie.0,addr=0x6",
    "-chardev", "null,id=c0", "-device", "isa-serial,chardev=c0,id=serial0",
    "-device", "virtio-rng-pci",
]
# Without -nodefaults: QEMU's default VGA, NIC, serial and parallel ports, CD-ROM and floppy,
# with sugar (-drive if=virtio, -nic) and an anonymous USB controller with a device on it.
I440FX = [
    "-M", "pc-i440fx-7.2", "-m", "512", "-device", "virtio-rng-pci",
    "-drive", "if=virtio,file=null-co://,format=raw", "-nic", "user,model=rtl8139",
    "-device", "qemu-xhci", "-device", "usb-tablet",
]
# Where the model is not yet what QEMU does; the reader gives QEMU's value (a catalog fix
# turns these into failures, and then they go). None left on this q35 VM: disable-legacy
# behind a PCIe root port is modelled (overlay.toml, op pcie-port).
Q35_MODEL_GAPS: list[str] = []
# The catalog lacks std-vga's realize-time values: its class ROM file and the EDID's
# preferred resolution.
I440FX_MODEL_GAPS = [
    "pci.0@0000:00:02.0/VGA.romfile: None != 'vgabios-stdvga.bin'",
    "pci.0@0000:00:02.0/VGA.xres: 0 != 1280",
    "pci.0@0000:00:02.0/VGA.yres: 0 != 800",
]


def qemu_release(binary: str) -> str:
    """MAJOR.MINOR of the binary, as --version says it (7.2 on Debian 12, 10.0 on 13)."""
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30)
    found = re.search(r"version (\d+)\.(\d+)", out.stdout)
    assert found, out.stdout
    return f"{found.group(1)}.{found.group(2)}"


@contextlib.contextmanager
def running(args: list[str], tcp: bool = False) -> Iterator[str]:
    """A paused QEMU with a QMP socket; yields its address and kills it on the way out."""
    binary = require_qemu()
    with tempfile.TemporaryDirectory(prefix="mc-qmp-") as tmp, \
            tempfile.TemporaryFile() as err:
        sock = Path(tmp) / "qmp.sock"  # short: a unix socket path has ~108 bytes
        address = f"tcp:127.0.0.1:{free_port()}" if tcp else f"unix:{sock}"
        proc = subprocess.Popen([binary, *BASE, "-qmp", f"{address},server=on,wait=off",
                                 *args], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=err, start_new_session=True)
        try:
            if not tcp:
                _wait_listening(proc, sock, err)
            yield address
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_listening(proc: subprocess.Popen[bytes], sock: Path, err: IO[bytes]) -> None:
    deadline = time.monotonic() + 30
    while not sock.exists():
        if proc.poll() is not None:
            err.seek(0)
            pytest.fail(f"QEMU exited: {err.read().decode(errors='replace')}")
        assert time.monotonic() < deadline, "QEMU did not make its QMP socket"
        time.sleep(0.02)


def read_when_listening(address: str, release: Release | None) -> RunningVM:
    """read_running_vm, retried while QEMU is not listening yet: its socket file appears at
    bind(), a moment before listen()."""
    deadline = time.monotonic() + 10
    while True:
        try:
            return read_running_vm(address, release=release)
        except QemuError as exc:
            if "cannot connect" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


@pytest.fixture(scope="module")
def q35() -> Iterator[tuple[str, RunningVM]]:
    with running(Q35) as address:
        release = CATALOG.release(qemu_release(require_qemu()))
        read_when_listening(address, None)  # QEMU listens from here on
        vm = read_running_vm(address, release=release)
        yield address, vm


def parsed(args: list[str], release: str):  # type: ignore[no-untyped-def]
    return config_for(CATALOG.release(release), None, VMArgs(),
                      parse_command_line([*BASE, "-qmp", "unix:x,server=on", *args]))


def test_the_q35_vm_is_the_one_its_command_line_makes(
        q35: tuple[str, RunningVM]) -> None:
    _, vm = q35
    release = qemu_release(require_qemu())
    assert vm.version == release and vm.package
    line = vm.line
    assert (line.machine, line.smp, line.mem, line.defaults, line.vga) == (
        "pc-q35-7.2,vmport=off,hpet=off", 4, "1024M", False, "none")
    assert len(line.devices) == 13
    read = config_for(CATALOG.release(vm.version), None, VMArgs(), line)
    assert differences(parsed(Q35, release), read) == Q35_MODEL_GAPS


def test_specs_carry_ids_buses_addresses_and_only_what_was_set(
        q35: tuple[str, RunningVM]) -> None:
    specs = {spec.split(",")[0] + ("#" + spec.split("id=")[1].split(",")[0]
                                   if "id=" in spec else ""): spec
             for spec in q35[1].line.devices}
    # num-queues is the user's; vectors follows from it in the model (realize rule), and the
    # drive is the host's: skipped, not a property of the hardware.
    assert specs["virtio-blk-pci#vb0"] == "virtio-blk-pci,id=vb0,bus=pcie.0,addr=03.0,num-queues=2"
    assert specs["pcie-root-port#rp2"].startswith("pcie-root-port,id=rp2,bus=pcie.0,addr=02.1,")
    assert specs["qemu-xhci#usb"] == "qemu-xhci,id=usb,bus=rp2,addr=00.0,p2=8,p3=8"
    # the model derives device_id from drive=, which is skipped: so it is given
    assert specs["scsi-hd#sd0"] == "scsi-hd,id=sd0,bus=scsi0.0,device_id=d0"
    assert specs["ide-hd#ide0"] == "ide-hd,id=ide0,bus=ide.1"
    # the user's MAC is carried (a NIC without mac= has the default the model gives too)
    assert specs["e1000e"] == "e1000e,bus=pcie.0,addr=06.0,mac=52:54:00:aa:bb:cc"
    assert specs["virtio-rng-pci"].startswith("virtio-rng-pci,bus=pcie.0,addr=")
    assert "drive=d2 (vb0)" in q35[1].line.skipped
    # a bus's provider comes before the devices on it
    order = [s.split(",")[0] for s in q35[1].line.devices]
    assert order.index("pcie-root-port") < order.index("virtio-scsi-pci") < order.index("scsi-hd")


def test_without_a_release_the_baseline_is_qemus_class_defaults(
        q35: tuple[str, RunningVM]) -> None:
    _, vm = q35
    line = vm.line_for(None)
    blk = next(s for s in line.devices if s.startswith("virtio-blk-pci,"))
    assert "num-queues=2" in blk and "vectors=3" in blk  # pinned as QEMU resolved them
    assert differences(parsed(Q35, vm.version), config_for(
        CATALOG.release(vm.version), None, VMArgs(), line)) == Q35_MODEL_GAPS


def test_defaults_and_sugar_of_an_i440fx_vm() -> None:
    release = qemu_release(require_qemu())
    with running(I440FX) as address:
        vm = read_when_listening(address, CATALOG.release(release))
    drivers = [spec.split(",")[0] for spec in vm.line.devices]
    # the display and the NIC first, as QEMU's machine init makes them; no board device
    assert drivers[:6] == ["VGA", "rtl8139", "virtio-rng-pci", "qemu-xhci", "usb-tablet",
                           "virtio-blk-pci"]
    assert sorted(drivers[6:]) == ["floppy", "ide-cd", "isa-parallel", "isa-serial"]
    # an anonymous controller's bus, named as the model names it
    assert "usb-tablet,bus=qemu-xhci#1.0" in vm.line.devices
    read = config_for(CATALOG.release(vm.version), None, VMArgs(), vm.line)
    assert differences(parsed(I440FX, release), read) == I440FX_MODEL_GAPS


@pytest.mark.parametrize("address", ["vm1.qmp", "unix:", "tcp:host", "tcp::4444",
                                     "tcp:host:0", "tcp:host:http", "file:/tmp/x"])
def test_bad_address_syntax(address: str) -> None:
    with pytest.raises(UsageError, match=re.escape(f"QMP address '{address}'")):
        read_running_vm(address)


def test_addresses() -> None:
    assert parse_address("unix:/run/vm1.qmp") == "/run/vm1.qmp"
    assert parse_address("tcp:localhost:4444") == ("localhost", 4444)
    assert parse_address("tcp:[::1]:4444") == ("::1", 4444)


def test_a_socket_that_does_not_exist(tmp_path: Path) -> None:
    with pytest.raises(QemuError) as info:
        read_running_vm(f"unix:{tmp_path / 'none.qmp'}")
    assert str(info.value) == (f"cannot connect to QMP at unix:{tmp_path / 'none.qmp'}: "
                               "No such file or directory")
    assert info.value.exit_code == EXIT_ENVIRONMENT  # DESIGN: cannot connect is exit 3


def test_a_monitor_taken_by_another_client(q35: tuple[str, RunningVM]) -> None:
    # QEMU serves one QMP client per socket: the second is accepted but never greeted.
    address = q35[0]
    with socket.socket(socket.AF_UNIX) as first:
        first.connect(address.removeprefix("unix:"))
        first.recv(4096)  # the greeting: this one holds the monitor now
        with pytest.raises(QemuError, match=r"no greeting in 0\.5 s .*another client"):
            read_running_vm(address, timeout=0.5)


def test_over_tcp() -> None:
    release = qemu_release(require_qemu())
    with running(["-nodefaults", "-M", "pc-q35-7.2"], tcp=True) as address:
        vm = read_when_listening(address, CATALOG.release(release))
    assert (vm.version, vm.machine, vm.line.devices, vm.line.mem) == (
        release, "pc-q35-7.2", [], "128M")


def test_the_boards_usb_controller_is_made_by_the_machine_option() -> None:
    release = qemu_release(require_qemu())
    args = ["-nodefaults", "-M", "pc-i440fx-7.2,usb=on", "-device", "usb-tablet,id=tab0"]
    with running(args) as address:
        vm = read_when_listening(address, CATALOG.release(release))
    # the UHCI is the board's (usb=on makes it), its bus named as the model names it
    assert (vm.line.machine, vm.line.devices) == (
        "pc-i440fx-7.2,usb=on", ["usb-tablet,id=tab0,bus=piix3-usb-uhci#1.0"])
    read = config_for(CATALOG.release(vm.version), None, VMArgs(), vm.line)
    assert differences(parsed(args, release), read) == []
