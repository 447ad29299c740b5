"""Stream files on disk: the I/O side of ``analyze``, ``rewrite`` and ``validate``.

- A stream file is mapped read-only under a read lease, so a 1 GiB stream is parsed in
  place, never copied, and cannot shrink while mapped; a file that may still change is read
  with pread in bounded buffers (:class:`StreamFile`). Piped input (``-``) is first copied
  to a temporary file (a pipe cannot be mapped, and the trailing description is found by
  reading from the end).
- The trailing description is located by reading backwards from the end of the file.
- ``--extract`` writes each RAMBlock as a sparse file (migration/ramfiles.py).
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
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from migcompat.errors import InputChanged, SchemaFileError, UsageError
from migcompat.migration.atomic import AtomicFile
from migcompat.migration.lease import lease_held, release_lease, take_read_lease
from migcompat.stream.constants import MAGIC
from migcompat.stream.vmdesc import locate_vmdesc
from migcompat.vmstate.layouts import SchemaSource, parse_schema_json, schema_from_vmdesc
from migcompat.vmstate.schema import SchemaResolver

MAX_SCHEMA_FILE = 512 << 20  # a -dump-vmstate is < 1 MiB; anything huge is not a schema
_MAGIC = MAGIC.to_bytes(4, "big")


# Slices of a mapped file: the lease is checked between two (each costs one fcntl), so
# another process's truncate waits at most the time it takes to read one.
MAP_SLICE = 64 << 20
# Buffers of a file read with pread (one that may still change): bounded memory.
READ_SLICE = 8 << 20


class StreamFile:
    """A stream file, read in place when it can be mapped safely, else in bounded buffers.

    Mapped (``mapped``): read-only, under a read lease (migration/lease.py), so a 1 GiB
    stream is parsed in the page cache, never copied, and no other process can shrink it
    while it is mapped (which would kill this one with SIGBUS). A file that may still
    change (open for writing elsewhere: a stream being written; or no lease to be had)
    is read with ``pread`` in ``READ_SLICE`` buffers instead. Either way it is a
    :class:`~migcompat.analysis.stream_tools.source.ChunkedInput`: ``chunks()`` gives its
    bytes in order and raises InputChanged when the file shrank or another process wants
    to write or truncate it (then the caller stops, and ``close`` lets that process go).
    """

    def __init__(self, path: str, *, mapped: bool = True) -> None:
        self.name = path
        self.size = 0
        self._temp: str | None = None
        self._fd = -1
        self._leased = False
        self._map: mmap.mmap | None = None
        self._view: memoryview | None = None
        try:
            if path == "-":
                self._temp = _copy_stdin()
                path = self._temp
            self._fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            if not stat.S_ISREG(os.fstat(self._fd).st_mode):
                raise UsageError(f"{self.name}: not a regular file (give '-' to read a pipe)")
            self._leased = mapped and take_read_lease(self._fd)
            self.size = os.fstat(self._fd).st_size  # after the lease: it cannot shrink now
            if self._leased and self.size:
                # Page faults on first touch cost no more than MAP_POPULATE here, and
                # pages nobody reads (--brief without --extract) are never mapped.
                self._map = mmap.mmap(self._fd, self.size, flags=mmap.MAP_SHARED,
                                      prot=mmap.PROT_READ)
                self._view = memoryview(self._map)
        except OSError as exc:
            self.close()
            raise UsageError(f"{self.name}: {exc.strerror or exc}") from exc
        except BaseException:
            self.close()
            raise

    @property
    def mapped(self) -> bool:
        return self._view is not None

    def chunks(self) -> Iterator[bytes | memoryview]:
        """The file's bytes in order: slices of the mapping, or pread buffers."""
        step = MAP_SLICE if self._view is not None else READ_SLICE
        for at in range(0, self.size, step):
            yield self.read(at, min(step, self.size - at))

    def read(self, at: int, n: int) -> bytes | memoryview:
        """``n`` bytes from ``at`` (a view of the mapping when mapped)."""
        if self._view is not None:
            if self._leased and not lease_held(self._fd):
                raise InputChanged(f"{self.name}: another process opened the file for "
                                   "writing or truncated it while it was read", offset=at)
            return self._view[at : at + n]
        try:
            data = os.pread(self._fd, n, at)
        except OSError as exc:
            raise UsageError(f"{self.name}: {exc.strerror or exc}") from exc
        if len(data) < n:
            raise InputChanged(f"{self.name}: the file shrank to {at + len(data)} bytes "
                               f"while it was read (it had {self.size} when opened)",
                               offset=at + len(data))
        return data

    def read_tail(self, n: int) -> bytes:
        return bytes(self.read(self.size - n, n))

    def vmdesc(self) -> tuple[int, bytes] | None:
        """The offset of the 0x06 marker and the JSON of the trailing description."""
        found = locate_vmdesc(self.read_tail, self.size)
        if found is None:
            return None
        at, length = found
        return at, bytes(self.read(at + 5, length))

    def close(self) -> None:
        # The mapping goes first, the lease after: then the writer waiting for the lease
        # cannot shrink a file that is still mapped.
        if self._view is not None:
            with contextlib.suppress(BufferError):
                self._view.release()
            self._view = None
        if self._map is not None:
            try:
                self._map.close()
            except BufferError:  # a view is still held somewhere in a reference cycle
                gc.collect()
                with contextlib.suppress(BufferError):  # still held: the GC closes it later
                    self._map.close()
            self._map = None
        if self._fd >= 0:
            if self._leased:
                release_lease(self._fd)
                self._leased = False
            os.close(self._fd)
            self._fd = -1
        if self._temp is not None:
            with contextlib.suppress(OSError):
                os.unlink(self._temp)
            self._temp = None

    def __enter__(self) -> StreamFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _copy_stdin() -> str:
    import tempfile  # only for stdin: a file needs none

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
