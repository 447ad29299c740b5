"""``migrate``'s memory options as QEMU reads them, and one-line errors for what cannot be."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli_run import run
from migcompat.cli.options import parse_mem


def test_m_reads_as_qemu_reads_it() -> None:
    assert parse_mem("64") == 64 << 20  # MiB without a suffix
    assert parse_mem("0") == 128 << 20  # QEMU keeps "-m 0" as the default size
    assert parse_mem("1000k") == 1024000  # rounded up to 8 KiB, as QEMU rounds it
    assert parse_mem("1001k") == 1032192


def test_a_guest_larger_than_the_host_can_map_is_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    got = run(capsys, "migrate", "qemu-5.2", "pc-5.2", "-m", "1P", "--to",
              f"file:{tmp_path / 'vm.mig'}")
    assert got.code == 3 and got.err.count("\n") == 1, got.err
    assert "cannot set up guest memory 'pc.ram'" in got.err
    assert list(tmp_path.iterdir()) == []


def test_ram_data_that_does_not_fit_is_refused_not_capped(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    got = run(capsys, "migrate", "qemu-5.2", "pc-5.2", "-m", "1M", "--ram-data", "8M",
              "--to", f"file:{tmp_path / 'vm.mig'}")
    assert got.code == 2 and "--ram-data: 8388608 bytes do not fit" in got.err, got.err
    assert list(tmp_path.iterdir()) == []
