"""A device QEMU cannot migrate (nvme: a migration blocker) stops the source before any
state is sent; `check` says so from the captured state, in QEMU's words."""

from __future__ import annotations

import json
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
