"""props, matrix and validate --dest take the VM as check does: a QEMU command line (and a
libvirt XML or a running VM, through the same options, cli/vm_inputs.py)."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from cli_run import run
from qemu_helpers import BASE_ARGS, VIRTIO_BLK_ARGS, _command, make_stream

DATA = Path(__file__).parent.parent / "data" / "libvirt"


def test_props_takes_the_machine_and_devices_from_a_command_line(
        capsys: pytest.CaptureFixture[str]) -> None:
    args = "-M pc-q35-7.2,vmport=off -smp 4 -device virtio-blk-pci,id=vb0,num-queues=2"
    res = run(capsys, "props", "--catalog", "qemu", "7.2", "--qemu-args", args,
              "--format", "json")
    assert res.code == 0, res.err
    doc = res.json()
    assert doc["machine"] == "pc-q35-7.2"
    vb0 = next(d for d in doc["devices"] if d["path"] == "vb0")
    assert vb0["properties"]["num-queues"]["value"] == 2


def test_props_without_a_machine_says_how_to_give_one(
        capsys: pytest.CaptureFixture[str]) -> None:
    res = run(capsys, "props", "--catalog", "qemu", "7.2")
    assert res.code == 2 and "no machine type" in res.err


def test_props_of_a_libvirt_domain(capsys: pytest.CaptureFixture[str]) -> None:
    res = run(capsys, "props", "--catalog", "qemu", "7.2", "--libvirt-xml",
              DATA / "scsi-q35.xml", "--format", "json")
    assert res.code == 0, res.err
    paths = {d["path"] for d in res.json()["devices"]}
    assert {"scsi0", "scsi0-0-0-0", "scsi0-0-0-1", "net0"} <= paths


def test_matrix_with_a_command_line_is_matrix_with_its_devices(
        capsys: pytest.CaptureFixture[str]) -> None:
    base = ["matrix", "--catalog", "qemu", "7.2", "10.0", "--machines", "pc-q35-7.*",
            "--format", "json"]
    with_line = run(capsys, *base, "--qemu-args", "-device pvpanic -device nec-usb-xhci")
    with_options = run(capsys, *base, "--device", "pvpanic", "--device", "nec-usb-xhci")
    assert with_line.code == with_options.code == 1
    assert with_line.json()["machines"] == with_options.json()["machines"]


@pytest.mark.qemu
def test_validate_dest_takes_the_command_line_qemu_ran(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    stream = make_stream(tmp_path, "pc-q35-7.2", VIRTIO_BLK_ARGS, smp=2)
    # the command line the QEMU that wrote the stream ran, as ps shows it
    line = shlex.join(_command("pc-q35-7.2", VIRTIO_BLK_ARGS, 2, 64, tmp_path / "q.sock"))
    base = ["validate", stream, "--catalog", "qemu", "--dest", "7.2"]
    res = run(capsys, *base, "--qemu-args", line)
    assert res.code == 0, res.out + res.err
    no_disk = shlex.join([*BASE_ARGS, "-M", "pc-q35-7.2", "-smp", "2", "-m", "64"])
    res = run(capsys, *base, "--qemu-args", no_disk)
    assert res.code == 1 and "virtio-blk" in res.out
    res = run(capsys, "validate", stream, "--qemu-args", line)
    assert res.code == 2 and "give --dest" in res.err
