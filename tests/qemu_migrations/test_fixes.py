"""The pins ``check`` proposes, proven on the real builds.

For each case real QEMU runs the migration twice: as the operator would start the
destination, and with the pin ``check`` printed. The pin must make the destination
QEMU load the stream and give the guest the source's device (the property read back over
QMP from the loaded destination equals the source's); without it, the destination
differs or does not load at all. The fix is read from ``check --format json``, so the
proposal and the proof cannot drift apart.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from qemu_helpers import load_stream, make_stream, qom_values
from qemu_migrations.migration_cases import cli_json, get_build

pytestmark = pytest.mark.qemu
DEV = "/machine/peripheral/fix0"
GPU = f"{DEV}/virtio-backend"

# name: source, destination, machine, device type, QOM path and properties the pin fixes
GLOBAL_PINS = {
    "pvpanic events": ("7.2", "10.0", "pc-q35-7.2", "pvpanic", DEV, ["events"]),
    "pvpanic-pci events": ("7.2", "10.0", "pc-q35-7.2", "pvpanic-pci", DEV, ["events"]),
    "nec-usb-xhci streams": ("7.2", "10.0", "pc-q35-7.2", "nec-usb-xhci", DEV, ["streams"]),
    "virtio-gpu-pci resolution": ("5.2", "7.2", "pc-q35-5.2", "virtio-gpu-pci", GPU,
                                  ["xres", "yres"]),
}


def _fix(argv: list[str]) -> dict[str, Any]:
    doc = cli_json(["check", "--catalog", "qemu", *argv, "--format", "json"])
    assert doc["compatible"] is False, doc
    fixes: list[dict[str, Any]] = doc["fixes"]
    assert len(fixes) == 1, fixes
    return fixes[0]


@pytest.mark.parametrize("name", GLOBAL_PINS)
def test_a_destination_global_gives_the_guest_the_source_device(name: str,
                                                                tmp_path: Path) -> None:
    src, dst, machine, dev, path, props = GLOBAL_PINS[name]
    fix = _fix([f"{src}:{machine}", dst, "--device", dev, "--both-directions"])
    assert (fix["side"], fix["kind"], fix["verified"]) == ("destination", "global", True)
    pins = fix["args"]
    assert pins[::2] == ["-global"] * len(props)
    assert sorted(p.split("=")[0].split(".")[-1] for p in pins[1::2]) == sorted(props)
    device = ["-device", f"{dev},id=fix0"]
    wanted = [(path, p) for p in props]
    source = qom_values(machine, device, wanted, qemu=get_build(src))
    stream = make_stream(tmp_path, machine, device, qemu=get_build(src))
    plain = load_stream(stream, machine, device, qemu=get_build(dst), qom=wanted)
    pinned = load_stream(stream, machine, [*pins, *device], qemu=get_build(dst), qom=wanted)
    assert plain.ok and pinned.ok, plain.stderr + pinned.stderr
    assert plain.qom != source  # what check flagged is real ...
    assert pinned.qom == source  # ... and the pin gives the guest its device back


def test_a_machine_pin_undoes_the_alias_drift(tmp_path: Path) -> None:
    """``-M q35`` means pc-q35-7.2 on 7.2 and pc-q35-10.0 on 10.0: the same command line on
    the new host does not load; the destination pinned to the source's type does."""
    fix = _fix(["7.2:q35", "10.0", "--device", "virtio-rng-pci"])
    assert fix["args"] == ["-machine", "pc-q35-7.2"] and fix["verified"], fix
    device = ["-device", "virtio-rng-pci"]
    stream = make_stream(tmp_path, "q35", device, qemu=get_build("7.2"))
    plain = load_stream(stream, "q35", device, qemu=get_build("10.0"))
    pinned = load_stream(stream, "pc-q35-7.2", device, qemu=get_build("10.0"))
    assert not plain.ok and "pc-q35-7.2" in plain.stderr, plain.stderr
    assert pinned.ok, pinned.stderr


def test_no_safe_pin_back_to_an_older_release_but_a_cold_boot(tmp_path: Path) -> None:
    """A VM on pc-q35-10.0 cannot go back to 7.2, which does not know the type; check says
    so and names the newest type both know: a VM cold-booted onto it migrates."""
    fix = _fix(["10.0:pc-q35-10.0", "7.2", "--device", "virtio-rng-pci"])
    assert fix["side"] == "source" and fix["kind"] == "none", fix
    assert fix["needs_cold_boot"] and fix["verified"], fix
    assert fix["args"] == ["-machine", "pc-q35-7.2"], fix
    device = ["-device", "virtio-rng-pci"]
    stream = make_stream(tmp_path, "pc-q35-10.0", device, qemu=get_build("10.0"))
    refused = load_stream(stream, "pc-q35-10.0", device, qemu=get_build("7.2"))
    assert not refused.ok and not refused.started, refused.stderr
    booted = make_stream(tmp_path, "pc-q35-7.2", device, qemu=get_build("10.0"))
    assert load_stream(booted, "pc-q35-7.2", device, qemu=get_build("7.2")).ok


def test_an_explicit_destination_option_is_edited_not_outvoted(tmp_path: Path) -> None:
    """The destination's own ``num-queues=1`` would beat any -global: check edits that
    -device option instead, and real QEMU then loads what it refused before."""
    drive = ["-drive", "if=none,id=d0,file=null-co://,format=raw"]
    src_dev, dst_dev = ("virtio-blk-pci,id=fix0,drive=d0,num-queues=4",
                        "virtio-blk-pci,id=fix0,drive=d0,num-queues=1")
    fix = _fix(["10.0:pc-q35-7.2", "10.0", "--qemu-args", " ".join(drive),
                "--src-device", src_dev, "--dst-device", dst_dev])
    assert (fix["kind"], fix["verified"]) == ("device", True), fix
    assert fix["args"] == ["-device", src_dev], fix
    qemu = get_build("10.0")
    stream = make_stream(tmp_path, "pc-q35-7.2", [*drive, "-device", src_dev], qemu=qemu)
    plain = load_stream(stream, "pc-q35-7.2", [*drive, "-device", dst_dev], qemu=qemu)
    wanted = [(GPU, "num-queues")]  # the virtio backend's path, as for the GPU
    fixed = load_stream(stream, "pc-q35-7.2", [*drive, *fix["args"]], qom=wanted, qemu=qemu)
    assert not plain.ok and "virtio-blk" in plain.stderr, plain.stderr
    assert fixed.ok and fixed.qom == {wanted[0]: 4}, fixed.stderr
