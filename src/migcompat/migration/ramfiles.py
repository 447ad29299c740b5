"""``analyze --extract``: one sparse file per RAMBlock, written as the pages arrive.

Memory and files follow the bytes that arrive, never the sizes a stream claims: a 163-byte
stream can claim four 8 TiB blocks (MEM_SIZE, reference §3.2), or one of 2^63 bytes. So
there is no state per page, a block's file is created when the stream ends (or when its
first page arrives), and each file is as long as the pages written to it (its *extent*),
grown to the block's size only when the stream really covered the block: at least as many
page records as the block has pages, as QEMU's first pass over RAM sends.

- Full pages go out with ``pwritev`` (up to IOV_MAX pages a call) straight from the input
  (slices of the mapped stream, or of a bounded read buffer), on one writer thread: the
  call releases the GIL, so the kernel copies pages while the decoder reads on, and one
  thread runs the writes in the stream's order (a page sent twice ends as the later copy).
- Each run of full pages first gets its disk space in one call (``fallocate``, mode 0:
  exactly the bytes about to be written, so nothing the stream only claims): ext4's
  delayed allocation then has nothing to do page by page, and the writes take a third
  less time (docs/analyze.md). Where the file system refuses, the pages are just written.
- Zero pages (zero-page records, and full-page records of zeros) above the extent are
  holes already: nothing is written. Below it the page may hold an earlier copy (a later
  pass of an iterative migration re-sends a page that became zero), so the range is made
  a hole again (``fallocate(PUNCH_HOLE)``, zeros where that is not supported): no disk
  space for zeros, whatever the stream says.
- A zero-page record with a fill byte that is not 0 (QEMU >= 2.x never sends one; the
  loader memsets the page, §3.3) is written as a page of that byte.

Measured against ``copy_file_range``/``sendfile`` from the stream file and against slice
assignment into a mapped output file, pwritev from the input wins (docs/analyze.md).
"""

from __future__ import annotations

import errno
import os
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from migcompat.errors import UsageError
from migcompat.stream.ram_runs import RUN_PAGES, Run

_MAX_OPEN = 64  # block files open at once (a MEM_SIZE list may name 4096 blocks)
_ZEROS = bytes(1 << 20)


def block_file_name(idstr: str) -> str:
    """A safe file name for a RAMBlock idstr (``/rom@etc/acpi/tables`` has slashes)."""
    safe = "".join(c if c.isalnum() or c in "._@-" else f"%{ord(c):02X}" for c in idstr)
    return "%2E" + safe[1:] if safe.startswith(".") else safe


@dataclass
class _BlockFile:
    idstr: str
    path: Path
    used_length: int
    fd: int = -1
    created: bool = False  # the file exists (reopened without O_TRUNC)
    extent: int = 0  # pages may have been written below this offset; above it: holes
    records: int = 0  # page records seen (full and zero)


class SparseRamWriter:
    """A :class:`~migcompat.analysis.stream_tools.walk.RamSink` writing sparse block files
    into ``directory`` (``files``: the file name of each block of the MEM_SIZE list)."""

    def __init__(self, directory: Path, page_size: int = 4096, background: bool = True,
                 max_pending: int = 4) -> None:
        self.directory = directory
        # writes in flight: each holds up to IOV_MAX pages of the input (a view each)
        self.max_pending = max_pending
        self.page_size = page_size
        self.files: dict[str, str] = {}
        self._blocks: dict[str, _BlockFile] = {}
        self._open_files: deque[_BlockFile] = deque()
        self._pool = ThreadPoolExecutor(1, "migcompat-ram") if background else None
        self._pending: deque[Future[None]] = deque()
        iov_max = os.sysconf("SC_IOV_MAX") if hasattr(os, "sysconf") else 1024
        self._iov_max = max(1, min(iov_max, 1024))
        self._punch: Callable[[int, int, int], bool] | None = None
        self._allocate = True  # until the file system refuses fallocate

    def block(self, idstr: str, used_length: int) -> None:
        name = block_file_name(idstr)
        self.files[idstr] = name
        self._blocks[idstr] = _BlockFile(idstr, self.directory / name, used_length)

    def runs(self, block: str, view: memoryview, runs: list[Run]) -> None:
        bf = self._blocks.get(block)
        if bf is None:
            return  # a block outside the MEM_SIZE list: counted, not extracted
        size, step = self.page_size, self._iov_max
        rec = size + 8
        for kind, offset, count, pos in runs:
            bf.records += count
            if kind != RUN_PAGES:  # zero records, or full pages of zeros
                self._zero(bf, offset, offset + count * size)
                continue
            fd = self._open(bf)
            for i in range(0, count, step):
                first = pos + 8 + i * rec
                stop = first + min(step, count - i) * rec
                self._submit(fd, [view[p : p + size] for p in range(first, stop, rec)],
                             offset + i * size, bf)
            bf.extent = max(bf.extent, offset + count * size)

    def record(self, block: str, offset: int, data: memoryview | None, fill: int) -> None:
        bf = self._blocks.get(block)
        if bf is None:
            return
        bf.records += 1
        if data is None and not fill:
            self._zero(bf, offset, offset + self.page_size)
            return
        page = data if data is not None else memoryview(bytes((fill,)) * self.page_size)
        self._submit(self._open(bf), [page], offset, bf)
        bf.extent = max(bf.extent, offset + self.page_size)

    def close(self) -> None:
        """Finish every write, then give each block's file its length (see the module)."""
        try:
            self._drain()
            for bf in self._blocks.values():
                self._finish(bf)
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True, cancel_futures=True)
            for bf in self._blocks.values():
                self._close(bf)
            self._open_files.clear()

    # -- helpers ---------------------------------------------------------------------------
    def _open(self, bf: _BlockFile) -> int:
        if bf.fd >= 0:
            return bf.fd
        if len(self._open_files) >= _MAX_OPEN:
            self._drain()  # its writes may be in flight
            self._close(self._open_files.popleft())
        flags = os.O_WRONLY | os.O_CREAT | (0 if bf.created else os.O_TRUNC)
        try:
            bf.fd = os.open(bf.path, flags, 0o644)
        except OSError as exc:
            raise UsageError(f"{bf.path}: {exc.strerror or exc}") from exc
        bf.created = True
        self._open_files.append(bf)
        return bf.fd

    def _close(self, bf: _BlockFile) -> None:
        if bf.fd >= 0:
            os.close(bf.fd)
            bf.fd = -1

    def _finish(self, bf: _BlockFile) -> None:
        covered = bf.records * self.page_size >= bf.used_length
        length = max(bf.extent, bf.used_length if covered else 0)
        fd = self._open(bf)  # a block no page arrived for: an empty file (or one hole)
        try:
            if length > os.fstat(fd).st_size:
                os.ftruncate(fd, length)
        except (OSError, OverflowError) as exc:
            raise UsageError(f"{bf.path}: cannot make it {length} bytes long: "
                             f"{getattr(exc, 'strerror', None) or exc}") from exc
        finally:
            self._close(bf)

    def _zero(self, bf: _BlockFile, start: int, stop: int) -> None:
        stop = min(stop, bf.extent)
        if start < stop:  # the range may hold earlier pages: make it a hole again
            self._submit(self._open(bf), None, start, bf, stop - start)

    def _submit(self, fd: int, iov: Sequence[memoryview] | None, at: int, bf: _BlockFile,
                hole: int = 0) -> None:
        if self._pool is None:
            self._io(fd, iov, at, bf, hole)
            return
        while len(self._pending) >= self.max_pending:  # bound the input held by writes
            self._pending.popleft().result()
        self._pending.append(self._pool.submit(self._io, fd, iov, at, bf, hole))

    def _io(self, fd: int, iov: Sequence[memoryview] | None, at: int, bf: _BlockFile,
            hole: int) -> None:
        try:
            if iov is None:
                self._make_hole(fd, at, hole)
                return
            total = sum(len(v) for v in iov)
            if total > 1 << 16 and self._allocate:
                self._allocate = _allocate(fd, at, total)
            done = os.pwritev(fd, iov, at)
            if done != total:  # a short write: finish it the slow way
                joined = b"".join(iov)
                while done < total:
                    done += os.pwrite(fd, joined[done:], at + done)
        except (OSError, OverflowError) as exc:  # OverflowError: an offset beyond off_t
            raise UsageError(f"{bf.path}: cannot write RAM at offset 0x{at:x}: "
                             f"{getattr(exc, 'strerror', None) or exc}") from exc

    def _make_hole(self, fd: int, at: int, length: int) -> None:
        if self._punch is None:
            self._punch = _hole_puncher()
        if self._punch(fd, at, length):
            return
        while length > 0:  # no hole punching here: zeros, a MiB at a time
            n = os.pwrite(fd, _ZEROS[: min(length, len(_ZEROS))], at)
            at, length = at + n, length - n

    def _drain(self) -> None:
        while self._pending:
            self._pending.popleft().result()


@cache
def _libc_fallocate() -> Callable[[int, int, int, int], int] | None:
    """``fallocate(fd, mode, at, length)`` through libc (the os module has none; its
    posix_fallocate writes zeros where the file system refuses), returning 0 or an errno;
    None where libc lacks it."""
    try:
        import ctypes  # only here: ctypes costs start-up to commands that never write RAM

        libc = ctypes.CDLL(None, use_errno=True)
        call = libc.fallocate
        call.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
        call.restype = ctypes.c_int
    except (OSError, AttributeError):
        return None

    def fallocate(fd: int, mode: int, at: int, length: int) -> int:
        return 0 if call(fd, mode, at, length) == 0 else ctypes.get_errno()

    return fallocate


_UNSUPPORTED = (errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL)


def _allocate(fd: int, at: int, length: int) -> bool:
    """Give ``fd`` its blocks for ``[at, at + length)``; False when this file system (or
    libc) has no fallocate, so that the caller stops asking. A full disk is left for the
    write to report."""
    fallocate = _libc_fallocate()
    return fallocate is not None and fallocate(fd, 0, at, length) not in _UNSUPPORTED


def _hole_puncher() -> Callable[[int, int, int], bool]:
    """``fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, at, length)``; a function
    that says False where it is missing or refused by the file system."""
    fallocate = _libc_fallocate()
    if fallocate is None:
        return lambda fd, at, length: False
    punch_keep = 0x02 | 0x01  # FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE (linux/falloc.h)

    def punch(fd: int, at: int, length: int) -> bool:
        err = fallocate(fd, punch_keep, at, length)
        if err == 0:
            return True
        if err in _UNSUPPORTED:
            return False
        raise OSError(err, os.strerror(err))

    return punch
