"""A device QEMU cannot migrate (nvme: a migration blocker) stops the source before any
state is sent; `check` says so from the captured state, in QEMU's words."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from qemu.qmp import ExecuteError

from qemu_helpers import make_stream
from qemu_migrations.migration_cases import cli_json, get_build

pytestmark = pytest.mark.qemu
NVME = ["-drive", "if=none,id=n0,file=null-co://,format=raw",
        "-device", "nvme,drive=n0,serial=n0"]


@pytest.mark.parametrize("release", ["7.2", "10.0"])
def test_nvme_blocks_the_migration_as_check_says(tmp_path: Path, release: str) -> None:
    doc = cli_json(["check", "--catalog", "qemu", f"{release}:pc-q35-5.1",
                    f"{release}:pc-q35-5.1", "--device", "virtio-blk-pci", "--device", "nvme",
                    "--format", "json"])
    blocked = [r for r in doc["reasons"] if r["code"] == "migration-blocked"]
    assert doc["compatible"] is False and len(blocked) == 1
    words = "State blocked by non-migratable device '0000:00:02.0/nvme'"
    assert words in blocked[0]["message"]
    with pytest.raises(ExecuteError) as real:  # the source's QMP migrate command fails
        make_stream(tmp_path, "pc-q35-5.1",
                    ["-drive", "if=none,id=d0,file=null-co://,format=raw",
                     "-device", "virtio-blk-pci,drive=d0", *NVME], qemu=get_build(release))
    assert str(real.value) == words
    assert json.dumps(doc)  # the verdict is plain JSON


# Blockers the device probe found (every device type of each build, docs/probe-state.md):
# check says migration-blocked in QEMU's words, and the real source refuses with them.
USB = ["-device", "qemu-xhci,id=usb"]
MEMDEV = ["-object", "memory-backend-ram,id=shm,size=4M"]
BLOCKERS = [
    # (release, check's device options, QEMU's extra arguments, QEMU's words)
    ("7.2", ["qemu-xhci,id=usb", "usb-uas,bus=usb.0"],
     [*USB, "-device", "usb-uas,bus=usb.0"],
     "State blocked by non-migratable device '0000:00:01.0/1/usb-uas'"),
    ("10.0", ["rocker"], ["-device", "rocker"],
     "State blocked by non-migratable device '0000:00:01.0/rocker'"),
    ("10.0", ["amd-iommu"], ["-device", "amd-iommu"],
     "State blocked by non-migratable device 'amd-iommu'"),
    ("7.2", ["ivshmem-plain,memdev=shm"], [*MEMDEV, "-device", "ivshmem-plain,memdev=shm"],
     "Migration is disabled when using feature 'peer mode' in device 'ivshmem'"),
]


def _check(release: str, devices: list[str], extra: list[str]) -> dict[str, object]:
    argv = ["check", "--catalog", "qemu", f"{release}:pc-q35-7.2", release, "--format",
            "json", *extra]
    for d in devices:
        argv += ["--device", d]
    return cli_json(argv)


@pytest.mark.parametrize(("release", "devices", "args", "words"), BLOCKERS,
                         ids=[b[1][-1].split(",")[0] for b in BLOCKERS])
def test_a_probed_blocker_refuses_as_check_says(tmp_path: Path, release: str,
                                                devices: list[str], args: list[str],
                                                words: str) -> None:
    objects = ["--object", MEMDEV[1]] if "ivshmem" in devices[0] else []
    doc = _check(release, devices, objects)
    blocked = [r for r in doc["reasons"] if r["code"] == "migration-blocked"]
    assert doc["loads"] is False and len(blocked) == 1
    assert words in blocked[0]["message"]
    with pytest.raises(ExecuteError) as real:
        make_stream(tmp_path, "pc-q35-7.2", args, qemu=get_build(release))
    assert str(real.value) == words


def test_the_option_that_lifts_a_blocker_migrates(tmp_path: Path) -> None:
    # ivshmem-plain as the master peer migrates: the probe saw master=on lift the blocker
    doc = _check("7.2", ["ivshmem-plain,memdev=shm,master=on"], ["--object", MEMDEV[1]])
    assert not [r for r in doc["reasons"] if r["code"] == "migration-blocked"]
    stream = make_stream(tmp_path, "pc-q35-7.2",
                         [*MEMDEV, "-device", "ivshmem-plain,memdev=shm,master=on"],
                         qemu=get_build("7.2"))
    assert stream.stat().st_size > 0


def test_a_device_one_build_cannot_start_is_refused_as_check_says() -> None:
    # virtio-iommu-pci: 7.2 runs it on pc-q35, 5.2 refuses it (it wants -no-acpi)
    doc = cli_json(["check", "--catalog", "qemu", "7.2:pc-q35-5.2", "5.2", "--device",
                    "virtio-iommu-pci", "--format", "json"])
    (refused,) = [r for r in doc["reasons"] if r["code"] == "cannot-start"]
    assert doc["verdict"] == "refused" and "destination's QEMU 5.2" in refused["message"]
    words = "Check the guest is booted without FW or with -no-acpi"
    assert words in refused["message"]
    for release, starts in (("7.2", True), ("5.2", False)):
        b = get_build(release)
        run = subprocess.run([b.binary, *b.args(), "-M", "pc-q35-5.2", "-nodefaults",
                              "-display", "none", "-S", "-qmp", "stdio", "-device",
                              "virtio-iommu-pci"],
                             input='{"execute":"qmp_capabilities"}\n{"execute":"quit"}\n',
                             capture_output=True, text=True, env=b.env, timeout=60,
                             check=False)
        assert (run.returncode == 0) is starts, run.stderr
        if not starts:
            assert words in run.stderr


def test_a_second_balloon_is_refused_as_qemu_refuses_it() -> None:
    words = "Only one balloon device is supported"
    b = get_build("7.2")
    run = subprocess.run([b.binary, *b.args(), "-M", "pc-q35-7.2", "-nodefaults", "-display",
                          "none", "-S", "-device", "virtio-balloon-pci", "-device",
                          "virtio-balloon-pci-transitional"], capture_output=True, text=True,
                         env=b.env, timeout=60, check=False)
    assert run.returncode == 1 and words in run.stderr
    ours = subprocess.run([sys.executable, "-m", "migcompat", "check", "--catalog", "qemu",
                           "7.2:pc-q35-7.2", "10.0", "--device", "virtio-balloon-pci",
                           "--device", "virtio-balloon-pci-transitional"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert ours.returncode == 2 and words in ours.stderr and not ours.stdout
    # one side only: that side's QEMU refuses to start
    doc = cli_json(["check", "--catalog", "qemu", "7.2:pc-q35-7.2", "10.0", "--device",
                    "virtio-balloon-pci", "--dst-device", "virtio-balloon-pci-transitional",
                    "--format", "json"])
    assert doc["verdict"] == "refused"
    assert any(words in r["message"] for r in doc["reasons"] if r["code"] == "cannot-start")
