"""``analyze --extract``'s block files follow the bytes that arrive, not the sizes claimed.

The writer keeps the stream's order (a page sent twice ends as the later copy, a zero
record over a written page makes it zero again), makes a file as long as the pages written
to it, and grows it to the block's size only when the stream covered the block. Hostile
claims (four 8 TiB blocks in a stream of a hundred-odd bytes, a block of 2^63 bytes, a page
beyond what a file can hold) give an exit code and one line, never a traceback, a
MemoryError or a huge file.
"""

from __future__ import annotations

import errno
import random
import re
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from ram_streams import PS, ram_stream

from migcompat.migration import ramfiles
from migcompat.migration.ramfiles import SparseRamWriter, block_file_name
from migcompat.stream import Page, ZeroPage
from migcompat.stream.ram import encode_record
from migcompat.stream.ram_runs import scan_runs

TIB = 1 << 40


def feed(w: SparseRamWriter, block: str, records: list[Page | ZeroPage]) -> None:
    """Hand ``records`` (CONTINUE records of ``block``) to the writer as the walk does:
    in runs where the scanner takes them, one by one where it stops."""
    data = b"".join(encode_record(r, PS, block)[0] for r in records)
    view, pos, i = memoryview(data), 0, 0
    while pos < len(data):
        runs, end = scan_runs(view, pos, PS, 1 << 62, 1 << 20)
        if runs:
            w.runs(block, view, runs)
            i += sum(count for _, _, count, _ in runs)
            pos = end
            continue
        rec = records[i]
        if isinstance(rec, ZeroPage):
            w.record(block, rec.offset, None, rec.fill)
            pos += 9
        else:
            w.record(block, rec.offset, memoryview(rec.data), 0)
            pos += 8 + PS
        i += 1


def pages_of(path: Path) -> list[int]:
    data = path.read_bytes()
    return [data[i] for i in range(0, len(data), PS)]


@pytest.mark.parametrize("background", [False, True])
def test_writer_keeps_stream_order(tmp_path: Path, background: bool) -> None:
    a, b, c = (bytes((x,)) * PS for x in (1, 2, 3))
    name = "/rom@etc/x"
    w = SparseRamWriter(tmp_path, background=background)
    w.block(name, 8 * PS)
    # Page 1 written, then a zero record for it (a later pass): it reads zero again; page
    # 6 is a zero record with fill byte 0x41; page 0 is sent twice (the later copy wins).
    feed(w, name, [Page(name, 0, a, True), Page(name, PS, b, True),
                   Page(name, 4 * PS, c, True), ZeroPage(name, PS, 0, True),
                   ZeroPage(name, 6 * PS, 0x41, True), Page(name, 7 * PS, a, True),
                   Page(name, 0, c, True)])
    w.record("unknown", 0, memoryview(a), 0)  # not in the MEM_SIZE list: ignored
    w.close()
    assert pages_of(tmp_path / block_file_name(name)) == [3, 0, 0, 0, 3, 0, 0x41, 1]
    assert w.files == {name: "%2From@etc%2Fx"}
    assert block_file_name("..") == "%2E."


def test_files_grow_with_pages_and_to_the_block_when_covered(tmp_path: Path) -> None:
    rng = random.Random(3)
    w = SparseRamWriter(tmp_path)
    for name in ("part", "whole", "zeros", "none"):
        w.block(name, 16 * PS)
    feed(w, "part", [Page("part", 2 * PS, rng.randbytes(PS), True),
                     ZeroPage("part", 3 * PS, 0, True)])
    feed(w, "whole", [ZeroPage("whole", i * PS, 0, True) for i in range(15)]
         + [Page("whole", 15 * PS, rng.randbytes(PS), True)])
    feed(w, "zeros", [ZeroPage("zeros", i * PS, 0, True) for i in range(16)])
    w.close()
    size = {name: (tmp_path / name).stat() for name in ("part", "whole", "zeros", "none")}
    assert size["part"].st_size == 3 * PS  # the extent: the zero page above it is a hole
    assert size["whole"].st_size == size["zeros"].st_size == 16 * PS  # covered
    assert size["zeros"].st_blocks == 0 and size["none"].st_size == 0


def test_zero_record_below_the_extent_is_a_hole(tmp_path: Path) -> None:
    rng = random.Random(4)
    w = SparseRamWriter(tmp_path)
    w.block("b", 64 * PS)
    feed(w, "b", [Page("b", i * PS, rng.randbytes(PS), True) for i in range(64)])
    feed(w, "b", [ZeroPage("b", i * PS, 0, True) for i in range(8, 40)])
    w.close()
    st = (tmp_path / "b").stat()
    data = (tmp_path / "b").read_bytes()
    assert st.st_size == 64 * PS and data[8 * PS : 40 * PS] == bytes(32 * PS)
    assert st.st_blocks * 512 <= 40 * PS  # punched: the zeros take no space


def test_runs_are_allocated_as_written_and_no_more(tmp_path: Path) -> None:
    """Each run of full pages gets its blocks before it is written (fallocate): exactly the
    run, so the file takes the space of the pages that arrived, never of a claimed size."""
    rng = random.Random(5)
    w = SparseRamWriter(tmp_path)
    w.block("b", 1 << 40)
    pages = [Page("b", (1000 + i) * PS, rng.randbytes(PS), True) for i in range(300)]
    feed(w, "b", pages)
    w.close()
    st = (tmp_path / "b").stat()
    data = (tmp_path / "b").read_bytes()
    assert st.st_size == 1300 * PS and data[1000 * PS :] == b"".join(p.data for p in pages)
    assert st.st_blocks * 512 <= 300 * PS + (64 << 10)  # the run, give or take a block


@pytest.mark.parametrize("err", [errno.EOPNOTSUPP, None])
def test_without_fallocate_pages_are_just_written(tmp_path: Path, err: int | None,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A file system that refuses fallocate (or a libc without it) is asked once; the pages
    are written all the same."""
    asked: list[int] = []

    def refuse(fd: int, mode: int, at: int, length: int) -> int:
        asked.append(mode)
        return err or 0

    monkeypatch.setattr(ramfiles, "_libc_fallocate", lambda: refuse if err else None)
    rng = random.Random(6)
    w = SparseRamWriter(tmp_path, background=False)
    w.block("b", 600 * PS)
    first = [Page("b", i * PS, rng.randbytes(PS), True) for i in range(300)]
    second = [Page("b", i * PS, rng.randbytes(PS), True) for i in range(300, 600)]
    feed(w, "b", first)
    feed(w, "b", second)
    w.close()
    assert (tmp_path / "b").read_bytes() == b"".join(p.data for p in first + second)
    assert asked == ([0] if err else [])


def extract(tmp_path: Path, data: bytes) -> subprocess.CompletedProcess[str]:
    """``analyze --extract`` in a new process under a 1 GiB address-space limit."""
    path = tmp_path / "hostile.mig"
    path.write_bytes(data)

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    return subprocess.run([sys.executable, "-m", "migcompat", "analyze", str(path),
                           "--extract", str(tmp_path / "out"), "--brief"],
                          capture_output=True, text=True, timeout=60, preexec_fn=limit)


def files_are_small(out: Path) -> None:
    for f in (out / "ram").iterdir():
        st = f.stat()
        assert st.st_size <= 64 * PS and st.st_blocks * 512 <= 64 * PS, f


def test_four_8_tib_blocks(tmp_path: Path) -> None:
    blocks = [(f"ram{i}", 8 * TIB) for i in range(4)]
    data = ram_stream(blocks)
    assert len(data) < 200  # the brief's case had longer block names: 163 bytes
    proc = extract(tmp_path, data)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and "MemoryError" not in proc.stderr
    assert re.search(r"ram0 +0x80000000000 +0 +0  file ram/ram0", proc.stdout), proc.stdout
    files_are_small(tmp_path / "out")
    assert sorted(f.name for f in (tmp_path / "out/ram").iterdir()) == [
        "ram0", "ram1", "ram2", "ram3"]
    # with a page in each: files of one page, whatever the claim
    pages = [Page(name, PS, bytes((7,)) * PS, False) for name, _ in blocks]
    proc = extract(tmp_path, ram_stream(blocks, pages))
    assert proc.returncode == 0, proc.stderr
    assert all((tmp_path / "out/ram" / n).stat().st_size == 2 * PS for n, _ in blocks)


@pytest.mark.parametrize("size, offset", [(1 << 63, 0), (1 << 63, (1 << 63) - PS),
                                          ((1 << 64) - PS, 1 << 63)])
def test_block_beyond_any_file(tmp_path: Path, size: int, offset: int) -> None:
    """A block of 2^63 bytes (or 2^64 - 4096) is only a claim: a page at its start is
    extracted; one at an offset no file can have is one error line, exit 2."""
    data = ram_stream([("pc.ram", size)], [Page("pc.ram", offset, bytes((9,)) * PS, False)])
    proc = extract(tmp_path, data)
    assert "Traceback" not in proc.stderr and "Error" not in proc.stderr.replace(
        "error:", ""), proc.stderr
    files_are_small(tmp_path / "out")
    if offset == 0:
        assert proc.returncode == 0, proc.stderr
        assert (tmp_path / "out/ram/pc.ram").read_bytes() == bytes((9,)) * PS
        return
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("migcompat: error:")]
    assert len(lines) == 1 and "pc.ram: cannot write RAM at offset" in lines[0], proc.stderr
    assert f"0x{offset:x}" in lines[0]
