"""Where devices go: buses, PCI slots and the errors QEMU gives, proven on the system QEMU
(7.2 on Debian 12, the catalog's 7.2) for each configuration."""

from __future__ import annotations

import re
import subprocess

import pytest

from migcompat.analysis.check import check
from migcompat.catalog.load import open_catalog
from migcompat.errors import DeviceError
from migcompat.model.devspec import parse_device
from migcompat.model.vm import VMConfig, realize_vm
from qemu_helpers import require_qemu

QEMU = open_catalog("qemu")


def config(machine: str, *devices: str, release: str = "7.2") -> VMConfig:
    return VMConfig(QEMU.release(release), machine, [parse_device(d) for d in devices])


def real_qemu(machine: str, *devices: str) -> str | None:
    """What the real QEMU says when it starts this configuration: None when it starts,
    else its message without the "-device ...:" location."""
    args = [require_qemu(), "-nodefaults", "-display", "none", "-S", "-M", machine,
            "-qmp", "stdio"]
    for d in devices:
        args += ["-device", d]
    proc = subprocess.run(args, input='{"execute":"qmp_capabilities"}\n{"execute":"quit"}\n',
                          capture_output=True, text=True, timeout=30)
    if proc.returncode == 0:
        return None
    line = [ln for ln in proc.stderr.splitlines() if "qemu-system" in ln][-1]
    return re.sub(r"^\S*qemu-system-x86_64: (-device [^:]*: )?", "", line)


def ours(machine: str, *devices: str) -> str | None:
    try:
        realize_vm(config(machine, *devices))
    except DeviceError as exc:
        return str(exc)
    return None


@pytest.mark.qemu
@pytest.mark.parametrize("machine,devices", [
    ("pc-q35-7.2", ("e1000,addr=3", "virtio-rng-pci,addr=3")),
    ("pc-q35-7.2", ("e1000,addr=1f",)),
    ("pc-i440fx-7.2", ("e1000,addr=1",)),
    ("pc-q35-7.2", ("virtio-rng-pci,bus=nope",)),
    ("pc-i440fx-7.2", ("virtio-rng-pci,bus=pcie.0",)),
    ("pc-q35-7.2", ("virtio-rng-pci,bus=pcie.0,addr=2",)),
    ("isapc", ("virtio-rng-pci",)),
    ("microvm", ("virtio-rng-pci",)),
    ("none", ("e1000",)),
    ("pc-q35-7.2", ("usb-tablet",)),
    ("pc-q35-7.2", ("qemu-xhci,id=usb0", "usb-tablet,bus=usb0.0")),
    ("pc-q35-7.2", ("pcie-root-port,id=rp1,chassis=1", "virtio-rng-pci,bus=rp1")),
    ("pc-q35-7.2", ("virtio-rng-pci,bus=isa.0",)),
])
def test_placement_and_its_errors_are_qemus(machine: str, devices: tuple[str, ...]) -> None:
    assert ours(machine, *devices) == real_qemu(machine, *devices)


def test_devices_take_the_first_free_slots_and_name_their_sections_after_them() -> None:
    vm = realize_vm(config("pc-q35-7.2", "e1000,addr=3", "virtio-rng-pci", "virtio-blk-pci",
                           "pcie-root-port,id=rp1,chassis=1", "virtio-net-pci,bus=rp1"))
    assert [d.address for d in vm.devices] == [
        "0000:00:03.0", "0000:00:01.0", "0000:00:02.0", "0000:00:04.0", "0000:00:04.0:00.0"]
    assert [d.bus for d in vm.devices] == ["pcie.0"] * 4 + ["rp1"]
    rng = vm.devices[1].lookup("addr")
    assert rng is not None and rng.value == 1 << 3 and rng.decided_by.source == "realize"
    i440fx = realize_vm(config("pc-i440fx-7.2", "virtio-rng-pci"))
    assert i440fx.devices[0].address == "0000:00:02.0"


def test_an_explicit_addr_that_qemu_would_pick_anyway_is_the_same_vm() -> None:
    auto = config("pc-q35-5.1", "virtio-blk-pci")
    explicit = config("pc-q35-5.1", "virtio-blk-pci,addr=1", release="10.0")
    res = check(auto, explicit)
    assert res.verdict == "compatible", [r.message for r in res.breaking()]
    assert not [r for r in res.reasons if r.property == "addr"]
    moved = check(auto, config("pc-q35-5.1", "virtio-blk-pci,addr=5", release="10.0"))
    assert not moved.loads  # QEMU: the source's section at 00:01.0 is unknown there
    assert {"unknown-section"} <= {r.code for r in moved.breaking()}


def test_one_side_that_cannot_start_is_refused_and_neither_is_bad_input() -> None:
    res = check(config("pc-q35-7.2", "usb-tablet"),
                config("pc-q35-7.2", "qemu-xhci", "usb-tablet"))
    assert res.verdict == "refused"
    assert [r.code for r in res.breaking()] == ["cannot-start"]
    assert "No 'usb-bus' bus found for device 'usb-tablet'" in res.breaking()[0].message
    with pytest.raises(DeviceError, match="No 'PCI' bus found"):
        check(config("isapc", "e1000"), config("isapc", "e1000"))
