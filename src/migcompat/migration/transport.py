"""Transports: the only place migration bytes touch sockets and files.

The contract is small, as httpx's ``BaseTransport`` is: :class:`Transport` has ``read(n)``,
``write(data)``, ``end_write()`` (no more bytes from this side: the peer reads the end of
the stream, and can still answer), ``close()``, and is a context manager that closes. A
transport that cannot do one of them says so with an error, never silently. Foreign
exceptions (OSError and friends) are translated here into the transport branch of
``migcompat.errors`` with ``raise ... from``; tests/migration/test_uri_transport.py checks
each mapping. An in-memory transport serves the tests.
"""

from __future__ import annotations

import contextlib
import socket
import time
from pathlib import Path
from types import TracebackType
from typing import Self

from migcompat.errors import (
    CannotConnect,
    CannotListen,
    CannotWrite,
    ConnectionLost,
    UsageError,
)
from migcompat.migration.atomic import AtomicFile
from migcompat.migration.uri import URI


class Transport:
    """One end of a byte stream. Subclasses implement what their medium can do."""

    def read(self, n: int) -> bytes:
        """Up to ``n`` bytes; ``b""`` at the end of the stream."""
        raise ConnectionLost(f"{type(self).__name__} cannot be read")

    def write(self, data: bytes | memoryview) -> None:
        raise ConnectionLost(f"{type(self).__name__} cannot be written")

    def end_write(self) -> None:
        """Say that this side has sent everything (the peer reads the end)."""

    def close(self) -> None:
        """Release the medium; safe to call more than once."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


class MemoryTransport(Transport):
    """A pipe in memory: what one end writes the other reads (for tests)."""

    def __init__(self, data: bytes = b"") -> None:
        self.buffer = bytearray(data)
        self.pos = 0
        self.write_ended = False
        self.closed = False

    def read(self, n: int) -> bytes:
        chunk = bytes(self.buffer[self.pos:self.pos + n])
        self.pos += len(chunk)
        return chunk

    def write(self, data: bytes | memoryview) -> None:
        if self.closed or self.write_ended:
            raise ConnectionLost("write on a closed transport")
        self.buffer += data

    def end_write(self) -> None:
        self.write_ended = True

    def close(self) -> None:
        self.closed = True


class SocketTransport(Transport):
    def __init__(self, sock: socket.socket, peer: str) -> None:
        self.sock = sock
        self.peer = peer

    def _lost(self, exc: OSError) -> ConnectionLost:
        return ConnectionLost(f"connection to {self.peer} lost: {exc.strerror or exc}",
                              self.peer)

    def read(self, n: int) -> bytes:
        try:
            return self.sock.recv(n)
        except OSError as exc:
            raise self._lost(exc) from exc

    def write(self, data: bytes | memoryview) -> None:
        try:
            self.sock.sendall(data)
        except OSError as exc:
            raise self._lost(exc) from exc

    def end_write(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_WR)

    def set_timeout(self, seconds: float | None) -> None:
        """How long a read or write may wait; past it the peer is as good as lost."""
        with contextlib.suppress(OSError):
            self.sock.settimeout(seconds)

    def drain(self, seconds: float, size: int = 1 << 20) -> None:
        """Read and drop what the peer still sends, for at most ``seconds``: a peer that is
        still writing then reads our answer rather than a connection reset."""
        deadline = time.monotonic() + seconds
        with contextlib.suppress(OSError):
            self.sock.settimeout(seconds)
            while time.monotonic() < deadline and self.sock.recv(size):
                pass

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


class Listener:
    """A bound, listening socket; ``uri`` is the address actually bound (port 0 resolved)."""

    def __init__(self, uri: URI) -> None:
        self.requested = uri
        self.path: Path | None = None
        try:
            if uri.scheme == "tcp":
                family = socket.AF_INET6 if ":" in uri.host else socket.AF_INET
                self.sock = socket.socket(family, socket.SOCK_STREAM)
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                self.sock.bind((uri.host, uri.port))
                port = self.sock.getsockname()[1]
                self.uri = URI("tcp", host=uri.host, port=port)
            else:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.path = Path(uri.path)
                self.sock.bind(uri.path)
                self.uri = uri
            self.sock.listen(1)
        except OSError as exc:
            raise CannotListen(f"cannot listen on {uri}: {exc.strerror or exc}",
                               str(uri)) from exc

    def accept(self, timeout: float | None = None) -> SocketTransport:
        self.sock.settimeout(timeout)
        try:
            conn, _ = self.sock.accept()
        except TimeoutError as exc:
            raise CannotConnect(f"no source connected to {self.uri} within {timeout}s",
                                str(self.uri)) from exc
        except OSError as exc:
            raise CannotConnect(f"accept on {self.uri} failed: {exc.strerror or exc}",
                                str(self.uri)) from exc
        conn.settimeout(None)
        _tune(conn)
        return SocketTransport(conn, str(self.uri))

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()
        if self.path is not None:
            with contextlib.suppress(OSError):
                self.path.unlink()

    def __enter__(self) -> Listener:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _tune(sock: socket.socket) -> None:
    # Large buffers: page records are 4 KiB each and we want few syscalls per MiB.
    for opt in (socket.SO_SNDBUF, socket.SO_RCVBUF):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, opt, 4 << 20)


def connect(uri: URI, retry_for: float = 5.0) -> SocketTransport:
    """Connect, retrying for ``retry_for`` seconds (the destination may still be starting)."""
    deadline = time.monotonic() + retry_for
    last: OSError | None = None
    while True:
        try:
            if uri.scheme == "tcp":
                sock = socket.create_connection((uri.host, uri.port), timeout=retry_for)
                sock.settimeout(None)
            else:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.connect(uri.path)
            _tune(sock)
            return SocketTransport(sock, str(uri))
        except OSError as exc:
            last = exc
            if time.monotonic() >= deadline:
                break
            time.sleep(0.05)
    reason = last.strerror if last is not None and last.strerror else str(last)
    raise CannotConnect(f"cannot connect to {uri}: {reason}", str(uri))


class FileWriter(Transport):
    """Writes the stream unnamed; ``end_write`` gives it its name, and closing before that
    leaves nothing (migration/atomic.py), so a reader never sees half a stream."""

    def __init__(self, path: str) -> None:
        self.target = Path(path)
        try:
            self.out = AtomicFile(path)
        except OSError as exc:
            raise CannotWrite(f"cannot write {path}: {exc.strerror or exc}", path) from exc

    def write(self, data: bytes | memoryview) -> None:
        try:
            self.out.file.write(data)
        except OSError as exc:
            self.close()
            raise CannotWrite(f"cannot write {self.target}: {exc.strerror or exc}",
                              str(self.target)) from exc

    def end_write(self) -> None:
        try:
            self.out.commit()
        except OSError as exc:
            self.close()
            raise CannotWrite(f"cannot write {self.target}: {exc.strerror or exc}",
                              str(self.target)) from exc

    def close(self) -> None:
        self.out.discard()


class FileReader(Transport):
    def __init__(self, path: str) -> None:
        try:
            self.file = open(path, "rb", buffering=0)  # noqa: SIM115 - closed by close()
        except OSError as exc:
            # A wrong path is bad input (exit 2), not an environment problem.
            raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from exc

    def read(self, n: int) -> bytes:
        return self.file.read(n)

    def close(self) -> None:
        self.file.close()
