"""Machine options (``7.2:pc-q35-7.2,vmport=off``): checked as QEMU checks them, against the
options the build lists, and compared by check; proven with the system QEMU 7.2."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from cli_run import run
from migcompat.analysis.check import check
from migcompat.catalog.load import open_catalog
from migcompat.errors import DeviceError
from migcompat.model.machine_options import parse_machine
from migcompat.model.vm import VMConfig, realize_vm
from qemu_helpers import load_stream, make_stream, require_qemu

QEMU = open_catalog("qemu")


def config(machine: str, release: str = "7.2") -> VMConfig:
    name, options = parse_machine(machine)
    return VMConfig(QEMU.release(release), name, machine_options=options)


def real_qemu(machine: str) -> str | None:
    proc = subprocess.run([require_qemu(), "-nodefaults", "-display", "none", "-S", "-M",
                           machine, "-qmp", "stdio"],
                          input='{"execute":"qmp_capabilities"}\n{"execute":"quit"}\n',
                          capture_output=True, text=True, timeout=30)
    if proc.returncode == 0:
        return None
    return proc.stderr.strip().splitlines()[-1].split("qemu-system-x86_64: ", 1)[-1]


def ours(machine: str) -> str | None:
    try:
        realize_vm(config(machine))
    except DeviceError as exc:
        return str(exc)
    return None


@pytest.mark.qemu
@pytest.mark.parametrize("machine", [
    "pc-q35-7.2,foo=1", "pc-q35-7.2,smm=maybe", "pc-q35-7.2,hpet=maybe", "pc-q35-7.2,smm=off",
    "pc-q35-7.2,vmport=off,hpet=off", "pc-q35-7.2,nvdimm=on", "pc-i440fx-7.2,sata=off",
    "pc-i440fx-7.2,usb=on", "pc-q35-7.2,max-ram-below-4g=1G",
])
def test_options_are_checked_as_qemu_does(machine: str) -> None:
    assert ours(machine) == real_qemu(machine)


def test_parse() -> None:
    assert parse_machine("pc-q35-7.2,smm=off,accel=kvm") == (
        "pc-q35-7.2", (("smm", "off"), ("accel", "kvm")))
    assert parse_machine("type=q35,vmport=off") == ("q35", (("vmport", "off"),))


def test_check_compares_them() -> None:
    same = check(config("pc-q35-7.2,vmport=off"), config("pc-q35-7.2,vmport=off", "10.0"))
    assert same.loads
    assert "state-not-captured" in {r.code for r in same.reasons}
    one = check(config("pc-q35-7.2"), config("pc-q35-7.2,vmport=off", "10.0"))
    assert [r.code for r in one.breaking()] == ["machine-option-differs"]
    host = check(config("pc-q35-7.2,mem-merge=off"), config("pc-q35-7.2", "10.0"))
    assert host.loads and [r.category for r in host.reasons
                           if r.code == "machine-option-differs"] == ["note"]


@pytest.mark.qemu
def test_vmport_off_on_one_side_fails_in_real_qemu_as_predicted(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stream = make_stream(tmp_path, "pc-q35-7.2")
    predicted = run(capsys, "check", "--catalog", "qemu", "7.2:pc-q35-7.2",
                    "7.2:pc-q35-7.2,vmport=off", "--format", "json").json()
    real = load_stream(stream, "pc-q35-7.2,vmport=off")
    assert predicted["loads"] is False and not real.ok
    assert "vmmouse" in real.stderr  # the section the destination lacks
    both = run(capsys, "check", "--catalog", "qemu", "7.2:pc-q35-7.2,vmport=off",
               "7.2:pc-q35-7.2,vmport=off", "--format", "json").json()
    again = make_stream(tmp_path, "pc-q35-7.2,vmport=off", name="vmport-off.mig")
    assert both["loads"] is True and load_stream(again, "pc-q35-7.2,vmport=off").ok
