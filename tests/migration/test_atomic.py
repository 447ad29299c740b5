"""Output files appear whole or not at all, with one mode rule (migration/atomic.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from migcompat.migration.atomic import AtomicFile


def _write(path: Path, data: bytes, commit: bool) -> None:
    part = AtomicFile(path)
    part.file.write(data)
    if commit:
        part.commit()
    part.discard()


@pytest.mark.parametrize("tmpfile", [True, False], ids=["O_TMPFILE", "part-file"])
def test_a_file_appears_only_when_committed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            tmpfile: bool) -> None:
    if not tmpfile:
        monkeypatch.delattr(os, "O_TMPFILE")
    (tmp_path / "old").write_bytes(b"old")
    _write(tmp_path / "old", b"never", commit=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old"]
    assert (tmp_path / "old").read_bytes() == b"old"
    _write(tmp_path / "old", b"new", commit=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old"]
    assert (tmp_path / "old").read_bytes() == b"new"


@pytest.mark.parametrize("umask,mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_the_mode_is_0666_less_the_umask(tmp_path: Path, umask: int, mode: int) -> None:
    old = os.umask(umask)
    try:
        _write(tmp_path / "f", b"x", commit=True)
    finally:
        os.umask(old)
    assert (tmp_path / "f").stat().st_mode & 0o777 == mode


def test_migrate_to_a_directory_is_one_line_and_leaves_nothing(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    proc = subprocess.run([sys.executable, "-m", "migcompat", "migrate", "qemu-5.2", "pc-5.2",
                           "--to", f"file:{tmp_path / 'd'}"], capture_output=True, text=True,
                          cwd=tmp_path)
    assert proc.returncode == 3 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.count("\n") == 1 and "Is a directory" in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d"]
    assert list((tmp_path / "d").iterdir()) == []


def test_a_writer_killed_with_sigkill_leaves_nothing(tmp_path: Path) -> None:
    """The file being written has no name until it is complete: kill -9 mid-write."""
    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.Popen([sys.executable, "-m", "migcompat", "migrate", "qemu-5.2",
                             "pc-5.2", "-m", "2G", "--ram-data", "1536M", "--to",
                             f"file:{out / 'vm.mig'}"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    writing = False
    while time.monotonic() < deadline and proc.poll() is None and not writing:
        fds = Path(f"/proc/{proc.pid}/fd")
        with_names = []
        for fd in fds.iterdir() if fds.exists() else ():
            try:
                with_names.append(os.readlink(fd))
            except OSError:
                continue
        writing = any(name.startswith(str(out)) for name in with_names)
        time.sleep(0.005)
    assert writing, "the writer never opened its output"
    time.sleep(0.05)  # some bytes in
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL  # killed mid-write, not finished
    assert list(out.iterdir()) == []
