"""A VM from a QEMU command line: what it says, the sugar and defaults QEMU adds, and the
PCI slots they take, compared with the system QEMU (7.2) for whole command lines."""

from __future__ import annotations

import json
import shlex
import subprocess
from pathlib import Path

import pytest

from cli_run import run
from migcompat.catalog.load import open_catalog
from migcompat.cli.options import VMArgs
from migcompat.cli.vm_inputs import config_for, read_args
from migcompat.errors import UsageError
from migcompat.model.cmdline import parse_command_line
from migcompat.model.vm import realize_vm
from qemu_helpers import require_qemu

QEMU = open_catalog("qemu")
LIBVIRT_LIKE = (
    "-machine pc-q35-7.2,usb=off,vmport=off,dump-guest-core=off -accel tcg -m 512 "
    "-overcommit mem-lock=off -smp 4,sockets=1,dies=1,cores=4,threads=1 -no-user-config "
    "-nodefaults -rtc base=utc -no-shutdown -boot strict=on "
    "-device pcie-root-port,port=16,chassis=1,id=pci.1,bus=pcie.0,multifunction=on,addr=0x2 "
    "-device pcie-root-port,port=17,chassis=2,id=pci.2,bus=pcie.0,addr=0x2.0x1 "
    "-device qemu-xhci,p2=15,p3=15,id=usb,bus=pci.2,addr=0x0 "
    "-blockdev '{\"driver\":\"null-co\",\"node-name\":\"disk0\"}' "
    "-device virtio-blk-pci,bus=pcie.0,addr=0x3,drive=disk0,id=virtio-disk0,bootindex=1 "
    "-netdev user,id=hostnet0 "
    "-device '{\"driver\":\"virtio-net-pci\",\"netdev\":\"hostnet0\",\"id\":\"net0\","
    "\"bus\":\"pcie.0\",\"addr\":\"0x4\"}' "
    "-chardev null,id=charserial0 -device isa-serial,chardev=charserial0,id=serial0 "
    "-device usb-tablet,id=input0,bus=usb.0,port=1 "
    "-device virtio-balloon-pci,id=balloon0,bus=pcie.0,addr=0x5 "
    "-object '{\"qom-type\":\"rng-builtin\",\"id\":\"objrng0\"}' "
    "-device virtio-rng-pci,rng=objrng0,id=rng0,bus=pcie.0,addr=0x6 -sandbox on "
    "-msg timestamp=on")


def realize(release: str, args: str, machine: str | None = None):  # type: ignore[no-untyped-def]
    line = parse_command_line(shlex.split(args))
    return realize_vm(config_for(QEMU.release(release), machine, VMArgs(), line))


def test_what_a_command_line_says() -> None:
    line = parse_command_line(shlex.split(LIBVIRT_LIKE))
    assert (line.machine, line.smp, line.mem, line.defaults) == (
        "pc-q35-7.2,usb=off,vmport=off,dump-guest-core=off", 4, "512", False)
    assert line.devices[3].startswith("virtio-blk-pci,") and \
        "virtio-net-pci,netdev=hostnet0,id=net0,bus=pcie.0,addr=0x4" in line.devices
    assert {"-accel", "-blockdev", "-netdev", "-chardev", "-sandbox"} <= {
        s.split()[0] for s in line.skipped}
    assert parse_command_line(["-smp", "sockets=2,cores=2,threads=2"]).smp == 8
    assert parse_command_line(["-usb", "-no-hpet"]).machine_options == ["usb=on", "hpet=off"]
    with pytest.raises(UsageError, match="unknown option -frobnicate"):
        parse_command_line(["-frobnicate", "x"])
    with pytest.raises(UsageError, match="-device requires an argument"):
        parse_command_line(["-device"])


def test_qemu_adds_its_defaults_and_sugar_in_its_order() -> None:
    vm = realize("7.2", "-machine pc-i440fx-7.2 -device virtio-rng-pci "
                 "-drive if=virtio,file=null-co://,format=raw -nic user,model=virtio-net-pci")
    # the display and the NICs at machine init, then -device, then -drive if=virtio
    assert [(d.type, d.address) for d in vm.devices if d.address] == [
        ("VGA", "0000:00:02.0"), ("virtio-net-pci", "0000:00:03.0"),
        ("virtio-rng-pci", "0000:00:04.0"), ("virtio-blk-pci", "0000:00:05.0")]
    assert {"isa-serial", "isa-parallel", "ide-cd", "floppy"} <= {d.type for d in vm.devices}
    q35 = realize("7.2", "-M pc-q35-7.2")
    assert [d.type for d in q35.devices][:2] == ["VGA", "e1000e"]  # q35's default NIC


def qemu_slots(args: str) -> list[tuple[int, int]]:
    """The slots and functions QEMU puts PCI devices at on the root bus, board's left out."""
    proc = subprocess.run([require_qemu(), "-display", "none", *shlex.split(args),
                           "-qmp", "stdio"],
                          input='{"execute":"qmp_capabilities"}\n{"execute":"query-pci"}\n'
                                '{"execute":"quit"}\n', capture_output=True, text=True,
                          timeout=30)
    for line in proc.stdout.splitlines():
        doc = json.loads(line)
        if isinstance(doc.get("return"), list):
            return sorted((d["slot"], d["function"]) for d in doc["return"][0]["devices"]
                          if d["class_info"].get("desc") not in (
                              "Host bridge", "ISA bridge", "IDE controller", "Bridge",
                              "SATA controller", "SMBus"))
    raise AssertionError(proc.stderr)


@pytest.mark.qemu
@pytest.mark.parametrize("args", [
    LIBVIRT_LIKE,
    "-M pc-i440fx-7.2 -device virtio-rng-pci -drive if=virtio,file=null-co://,format=raw",
    "-M pc-q35-7.2 -vga virtio -nic user,model=rtl8139 -device e1000 -nic user",
    "-M pc-i440fx-7.2 -nodefaults -device e1000,addr=5 -device virtio-rng-pci -usb",
])
def test_devices_land_where_qemu_puts_them(args: str) -> None:
    vm = realize("7.2", args)
    ours = sorted((int(d.address[8:10], 16), int(d.address[11])) for d in vm.devices
                  if d.address.count(":") == 2)
    assert ours == qemu_slots(args)


def test_arguments_from_a_file_and_from_proc(tmp_path: Path) -> None:
    (tmp_path / "vm.args").write_text("/usr/bin/qemu-system-x86_64 -M q35 \\\n  -m 1G\n")
    assert read_args(f"@{tmp_path / 'vm.args'}") == ["-M", "q35", "-m", "1G"]
    (tmp_path / "cmdline").write_bytes(b"qemu-system-x86_64\0-M\0pc\0-device\0a,b=c d\0")
    assert read_args(f"@{tmp_path / 'cmdline'}") == ["-M", "pc", "-device", "a,b=c d"]
    with pytest.raises(UsageError, match="No such file"):
        read_args(f"@{tmp_path / 'none'}")


def test_check_takes_the_command_line_as_is(capsys: pytest.CaptureFixture[str],
                                            tmp_path: Path) -> None:
    (tmp_path / "vm.args").write_text(LIBVIRT_LIKE)
    res = run(capsys, "check", "--catalog", "qemu", "7.2", "10.0", "--qemu-args",
              f"@{tmp_path / 'vm.args'}", "--format", "json")
    assert res.code == 0, res.err
    doc = res.json()
    assert doc["source"]["machine"] == doc["destination"]["machine"] == "pc-q35-7.2"
    assert doc["source"]["smp"] == 4 and doc["source"]["memory"] == 512 << 20
    assert "not compared (the host's side): -S" not in res.err  # -S is not in this one
    assert "-blockdev" in res.err and "-netdev" in res.err
