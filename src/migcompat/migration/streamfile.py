"""Stream files on disk: the I/O side of ``analyze``, ``rewrite`` and ``validate``.

- A stream file is mapped read-only, so a 1 GiB stream is parsed in place, never copied.
  Piped input (``-``) is first copied to a temporary file (a pipe cannot be mapped, and the
  trailing description is found by reading from the end).
- The trailing description is located by reading backwards from the end of the file.
- ``--extract`` writes each RAMBlock as a sparse file (zero pages stay holes) with
  ``pwritev`` over runs of consecutive pages.
- Output streams are written to a temporary name in the target directory and renamed once
  complete, so a reader never sees half a file.

Foreign exceptions (OSError) become migcompat errors here, with ``raise ... from``.
"""

from __future__ import annotations

import contextlib
import gc
import mmap
import os
import shutil
import sys
import tempfile
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO

from migcompat.errors import SchemaFileError, UsageError
from migcompat.migration.atomic import AtomicFile
from migcompat.stream.constants import MAGIC
from migcompat.stream.vmdesc import locate_vmdesc
from migcompat.vmstate.layouts import SchemaSource, parse_schema_json, schema_from_vmdesc
from migcompat.vmstate.schema import SchemaResolver

MAX_SCHEMA_FILE = 512 << 20  # a -dump-vmstate is < 1 MiB; anything huge is not a schema
_MAGIC = MAGIC.to_bytes(4, "big")


class StreamFile:
    """A stream file mapped read-only; ``data`` is a memoryview of it (b"" when empty)."""

    def __init__(self, path: str) -> None:
        self.name = path
        self._temp: str | None = None
        self._map: mmap.mmap | None = None
        try:
            if path == "-":
                self._temp = _copy_stdin()
                path = self._temp
            with open(path, "rb") as f:
                self.size = os.fstat(f.fileno()).st_size
                if self.size:
                    # Page faults on first touch cost no more than MAP_POPULATE here, and
                    # pages nobody reads (--brief without --extract) are never mapped.
                    self._map = mmap.mmap(f.fileno(), 0, flags=mmap.MAP_SHARED,
                                          prot=mmap.PROT_READ)
        except OSError as exc:
            self.close()
            raise UsageError(f"{self.name}: {exc.strerror or exc}") from exc
        self.data: memoryview | bytes = memoryview(self._map) if self._map is not None else b""

    def read_tail(self, n: int) -> bytes:
        return bytes(self.data[self.size - n :])

    def vmdesc(self) -> tuple[int, bytes] | None:
        """The offset of the 0x06 marker and the JSON of the trailing description."""
        found = locate_vmdesc(self.read_tail, self.size)
        if found is None:
            return None
        at, length = found
        return at, bytes(self.data[at + 5 : at + 5 + length])

    def close(self) -> None:
        if isinstance(getattr(self, "data", None), memoryview):
            with contextlib.suppress(BufferError):
                self.data.release()  # type: ignore[union-attr]
        if self._map is not None:
            try:
                self._map.close()
            except BufferError:  # a view is still held somewhere in a reference cycle
                gc.collect()
                with contextlib.suppress(BufferError):  # still held: the GC closes it later
                    self._map.close()
            self._map = None
        if self._temp is not None:
            with contextlib.suppress(OSError):
                os.unlink(self._temp)
            self._temp = None

    def __enter__(self) -> StreamFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _copy_stdin() -> str:
    fd, name = tempfile.mkstemp(prefix="migcompat-stdin-", suffix=".mig")
    with os.fdopen(fd, "wb") as out:
        shutil.copyfileobj(sys.stdin.buffer, out, 1 << 20)
    return name


def load_schema(path: str) -> SchemaSource:
    """A --schema / --against file: a stream (its trailing description), a vmdesc JSON (e.g.
    ``desc.json`` from ``analyze --extract``) or a ``-dump-vmstate`` JSON."""
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError as exc:
        raise UsageError(f"{path}: {exc.strerror or exc}") from exc
    if head == _MAGIC:
        with StreamFile(path) as sf:
            found = sf.vmdesc()
            if found is None:
                raise SchemaFileError(f"{path}: the stream has no trailing description "
                                      "(saved with suppress-vmdesc=on?)")
            at, raw = found
            return schema_from_vmdesc(raw, f"{path} (its description at byte {at})", at + 5)
    try:
        if os.path.getsize(path) > MAX_SCHEMA_FILE:
            raise SchemaFileError(f"{path}: larger than {MAX_SCHEMA_FILE} bytes")
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"{path}: {exc.strerror or exc}") from exc
    return parse_schema_json(raw, path)


def stream_layout(sf: StreamFile, schema: str | None) -> tuple[SchemaResolver | None, str,
                                                             str | None]:
    """The resolver that sizes ``sf``'s device sections, where it came from (``vmdesc``,
    ``schema:vmdesc``, ``schema:dump`` or ``none``), and why the stream's own description
    could not be used, if that is why there is none."""
    if schema is not None:
        src = load_schema(schema)
        return src.resolver, f"schema:{src.kind}", None
    found = sf.vmdesc()
    if found is None:
        return None, "none", None
    at, raw = found
    try:
        return schema_from_vmdesc(raw, sf.name, at + 5).resolver, "vmdesc", None
    except SchemaFileError as exc:
        return None, "none", f"the trailing description cannot be used: {exc}"


def block_file_name(idstr: str) -> str:
    """A safe file name for a RAMBlock idstr (``/rom@etc/acpi/tables`` has slashes)."""
    safe = "".join(c if c.isalnum() or c in "._@-" else f"%{ord(c):02X}" for c in idstr)
    return "%2E" + safe[1:] if safe.startswith(".") else safe


class SparseRamWriter:
    """A :class:`~migcompat.analysis.stream_tools.walk.RamSink` writing sparse block files.

    Runs of consecutive pages go out with ``pwritev`` (up to IOV_MAX pages a call) on worker
    threads: the call releases the GIL, so the kernel copies pages while the decoder reads
    on. Zero pages are holes, except where an earlier record wrote the page: those wait for
    the writes in flight, to keep the stream's order.
    """

    def __init__(self, directory: Path, page_size: int = 4096, threads: int = 2) -> None:
        self.directory = directory
        self.page_size = page_size
        self.files: dict[str, str] = {}
        self._fds: dict[str, int] = {}
        self._written: dict[str, bytearray] = {}  # one byte per page: 1 = holds data
        self._pool = ThreadPoolExecutor(threads) if threads > 0 else None
        self._pending: deque[Future[None]] = deque()
        iov_max = os.sysconf("SC_IOV_MAX") if hasattr(os, "sysconf") else 1024
        self._iov_max = max(1, min(iov_max, 1024))

    def block(self, idstr: str, used_length: int) -> None:
        name = block_file_name(idstr)
        path = self.directory / name
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.ftruncate(fd, used_length)
        except OSError as exc:
            raise UsageError(f"{path}: {exc.strerror or exc}") from exc
        self._fds[idstr] = fd
        self._written[idstr] = bytearray(used_length // self.page_size + 1)
        self.files[idstr] = name

    def pages(self, block: str, runs: list[tuple[int, list[memoryview]]],
              zeros: list[tuple[int, int, int]]) -> None:
        fd = self._fds.get(block)
        if fd is None:
            return  # a block outside the MEM_SIZE list: counted, not extracted
        written, size = self._written[block], self.page_size
        done = 0
        for offset, fill, before in zeros:
            if before > done:
                self._runs(fd, runs[done:before], written)
                done = before
            index = offset // size
            if fill or written[index]:
                self._drain()  # the page's earlier contents must land first
                self._write(fd, [bytes((fill,)) * size], offset)
                written[index] = 1 if fill else 0
        self._runs(fd, runs[done:], written)

    def _runs(self, fd: int, runs: list[tuple[int, list[memoryview]]],
              written: bytearray) -> None:
        size, step = self.page_size, self._iov_max
        for start, views in runs:
            index = start // size
            written[index : index + len(views)] = b"\x01" * len(views)
            for i in range(0, len(views), step):
                iov, at = views[i : i + step], start + i * size
                if self._pool is None:
                    self._write(fd, iov, at)
                    continue
                while len(self._pending) >= 16:  # bound the work in flight
                    self._pending.popleft().result()
                self._pending.append(self._pool.submit(self._write, fd, iov, at))

    def _write(self, fd: int, iov: list[memoryview] | list[bytes], at: int) -> None:
        try:
            total = sum(len(v) for v in iov)
            done = os.pwritev(fd, iov, at)
            if done != total:  # a short write: finish it the slow way
                joined = b"".join(iov)
                while done < total:
                    done += os.pwrite(fd, joined[done:], at + done)
        except OSError as exc:
            raise UsageError(f"writing RAM to {self.directory}: {exc.strerror or exc}") \
                from exc

    def _drain(self) -> None:
        while self._pending:
            self._pending.popleft().result()

    def close(self) -> None:
        try:
            self._drain()
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True, cancel_futures=True)
            for fd in self._fds.values():
                os.close(fd)
            self._fds.clear()


@contextlib.contextmanager
def atomic_output(path: str) -> Iterator[BinaryIO]:
    """Write ``path`` whole or not at all (migration/atomic.py); ``-`` writes to stdout."""
    if path == "-":
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    try:
        part = AtomicFile(path)
    except OSError as exc:
        raise UsageError(f"{path}: {exc.strerror or exc}") from exc
    try:
        yield part.file
        part.commit()
    except BaseException as exc:
        part.discard()
        if isinstance(exc, OSError):
            raise UsageError(f"{path}: {exc.strerror or exc}") from exc
        raise
