"""``props --format json`` gives each property as QOM reads it back (``qom``): every string
property of a few devices equals the real 7.2's qom-get, unset ones included ("")."""

from __future__ import annotations

import pytest

from cli_run import run
from migcompat.qemu.binary.qmp import QemuProcess
from qemu_helpers import require_qemu

pytestmark = pytest.mark.qemu

DEVICES = ("virtio-blk-pci,id=vb0,drive=d0", "e1000,id=nic0", "virtio-rng-pci,id=rng0")


def test_string_properties_read_as_qom_does(capsys: pytest.CaptureFixture[str]) -> None:
    res = run(capsys, "props", "--catalog", "qemu", "7.2", "pc-q35-7.2",
              *(x for d in DEVICES for x in ("--device", d)), "--format", "json")
    assert res.code == 0, res.err
    model = {d["path"]: d["properties"] for d in res.json()["devices"]}
    args = ["-M", "pc-q35-7.2", "-drive", "if=none,id=d0,file=null-co://,format=raw"]
    args += [x for d in DEVICES for x in ("-device", d)]
    compared = 0
    with QemuProcess(args, binary=require_qemu()) as vm:
        for dev in ("vb0", "nic0", "rng0"):
            for name, prop in model[dev].items():
                if prop["kind"] != "str" or name in ("mac", "drive"):
                    continue  # the drive reads as the backend's node name
                got = vm.cmd("qom-get", path=f"/machine/peripheral/{dev}", property=name)
                assert prop["qom"] == got, (dev, name, prop)
                compared += 1
    assert compared >= 8
    assert model["vb0"]["serial"]["value"] is None and model["vb0"]["serial"]["qom"] == ""
