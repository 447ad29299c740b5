"""Stream files of 1 GB and 8 GB: memory stays bounded, and a file that changes while it is
read never kills the process (SIGBUS), whatever another process does to it.

Memory is the process's anonymous memory (``RssAnon`` in /proc/PID/status, sampled every
few milliseconds while it runs): a mapped stream's pages are the page cache's, not the
process's, and a file read with pread goes through bounded buffers. The bound (100 MB) does
not depend on the machine's load; no test here asserts a duration.

The streams are dense page records cut from a repeating buffer (tests/streamfile/
ram_streams.py), written to the test's temporary directory ($MIGCOMPAT_BIG_TMP to put them
elsewhere) and deleted after. Writing 8 GB costs what the disk's writeback allows (~25 s
here); the free space is checked first: without it the test skips with the reason, and
fails under CI=true.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from ram_streams import PS, write_dense_stream

GB = 1 << 30
RSS_ANON_LIMIT = 100 << 20
PATTERN = random.Random(12).randbytes(256 * PS)  # a 1 MiB repeating buffer of pages
MIG = [sys.executable, "-m", "migcompat"]


@dataclass
class Sampled:
    code: int
    peak_rss_anon: int  # bytes
    out: str
    err: str


def sampled(args: list[str], until: Path | None = None,
            during: Callable[[int], None] | None = None) -> Sampled:
    """Run the CLI, sampling its RssAnon; ``during(pid)`` is called once ``until`` (a file)
    is open in it (mapped, or held by a descriptor)."""
    proc = subprocess.Popen([*MIG, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    peak, called = 0, during is None
    while proc.poll() is None:
        try:
            status = Path(f"/proc/{proc.pid}/status").read_text()
            peak = max(peak, int(status.split("RssAnon:")[1].split()[0]) << 10)
        except (OSError, IndexError, ValueError):
            pass
        if not called and until is not None and holds(proc.pid, until):
            assert during is not None
            during(proc.pid)
            called = True
        time.sleep(0.002)
    out, err = proc.communicate()
    return Sampled(proc.returncode, peak, out, err)


def holds(pid: int, path: Path) -> bool:
    """Whether process ``pid`` has ``path`` open or mapped."""
    try:
        if str(path) in Path(f"/proc/{pid}/maps").read_text():
            return True
        return any(os.readlink(f"/proc/{pid}/fd/{fd}") == str(path)
                   for fd in os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return False


def big_dir(tmp_path: Path, need: int) -> Path:
    base = Path(os.environ.get("MIGCOMPAT_BIG_TMP") or tmp_path)
    free = shutil.disk_usage(base).free
    if free < need + GB:
        reason = (f"{base} has {free >> 20} MiB free; this test writes {need >> 20} MiB "
                  "(set MIGCOMPAT_BIG_TMP to a roomier place)")
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason} (CI=true: the memory bound must be tested)")
        pytest.skip(reason)
    return Path(tempfile.mkdtemp(prefix="migcompat-big-", dir=base))


@pytest.fixture
def room(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Path]:
    need = getattr(request, "param", 3 * GB)
    where = big_dir(tmp_path, need)
    yield where
    shutil.rmtree(where, ignore_errors=True)


def dense(where: Path, size: int, name: str = "dense.mig") -> Path:
    path = where / name
    write_dense_stream(path, size // PS, PATTERN)
    return path


def assert_bounded(res: Sampled) -> None:
    assert res.code == 0, res.err
    assert 0 < res.peak_rss_anon < RSS_ANON_LIMIT, f"RssAnon peaked at {res.peak_rss_anon}"


@pytest.mark.parametrize("room", [3 * GB], indirect=True)
def test_1_gb_analyze_extract_validate(room: Path) -> None:
    stream = dense(room, GB)
    assert_bounded(sampled(["analyze", str(stream), "--format", "json"]))
    res = sampled(["analyze", str(stream), "--brief", "--extract", str(room / "x")])
    assert_bounded(res)
    ram = room / "x/ram/pc.ram"
    assert ram.stat().st_size == GB
    with ram.open("rb") as f:
        f.seek(GB - PS)
        last = GB // PS - 1  # the first page is pattern[0]; then batches of 1024
        at = ((last - 1) % 1024) * PS % len(PATTERN)
        assert f.read(PS) == PATTERN[at : at + PS]
    shutil.rmtree(room / "x")
    assert_bounded(sampled(["validate", str(stream), "--against", str(stream)]))
    # A file open for writing elsewhere is read with pread, in bounded buffers.
    with stream.open("ab"):
        assert_bounded(sampled(["analyze", str(stream), "--format", "json"]))


@pytest.mark.parametrize("room", [8 * GB + GB // 2], indirect=True)
def test_8_gb_analyze(room: Path) -> None:
    stream = dense(room, 8 * GB)
    res = sampled(["analyze", str(stream), "--format", "json"])
    assert_bounded(res)
    assert '"full_pages": 2097152' in res.out and '"complete": true' in res.out


def no_signal(res: Sampled, *why: str) -> None:
    """The process finished, or stopped with one error line (saying one of ``why``) and exit
    2: it never died."""
    assert res.code >= 0, f"killed by signal {-res.code}: {res.err}"
    if res.code == 0:
        return
    lines = [ln for ln in res.err.splitlines() if ln.startswith("migcompat: error:")]
    assert res.code == 2 and len(lines) == 1 and any(w in lines[0] for w in why), res.err
    assert "Traceback" not in res.err


@pytest.mark.parametrize("room", [2 * GB], indirect=True)
def test_truncated_by_another_process_while_mapped(room: Path) -> None:
    """truncate(2) from another process while analyze --extract reads the mapped file: the
    lease makes it wait until analyze has let go of the mapping. (coreutils' truncate
    opens with O_NONBLOCK: it would get EAGAIN and give up, which breaks the lease too.)"""
    stream = dense(room, GB // 2)
    cut: list[subprocess.Popen[bytes]] = []

    def truncate(pid: int) -> None:
        cut.append(subprocess.Popen([sys.executable, "-c",
                                     "import os, sys; os.truncate(sys.argv[1], 4096)",
                                     str(stream)]))

    res = sampled(["analyze", str(stream), "--extract", str(room / "x"), "--brief"],
                  until=stream, during=truncate)
    assert cut and cut[0].wait(timeout=60) == 0
    assert stream.stat().st_size == 4096
    no_signal(res, "another process opened the file for writing or truncated it")


@pytest.mark.parametrize("room", [2 * GB], indirect=True)
def test_open_for_writing_and_cut_by_its_writer(room: Path) -> None:
    """A stream still open for writing (as when it is still being written) is read with
    pread; its writer cutting it short is a clean error, never a signal."""
    stream = dense(room, GB // 2)
    with stream.open("r+b") as writer:
        res = sampled(["analyze", str(stream), "--extract", str(room / "x"), "--brief"],
                      until=stream, during=lambda pid: writer.truncate(4096))
    # Cut while it reads: "shrank to"; on a busy machine the cut can come before it first
    # reads past 4096 bytes, and the file is then just a truncated stream.
    no_signal(res, "shrank to", "truncated stream: the input ends")
