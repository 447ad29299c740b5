"""Transports: the only place migration bytes touch sockets and files.

The contract is tiny (httpx's habit): ``read(n)``, ``write(data)``, ``close()``. Foreign
exceptions (OSError and friends) are translated here into migcompat errors with
``raise ... from``; tests/migration/test_transport.py checks each mapping. An in-memory
transport serves the tests.
"""

from __future__ import annotations

import contextlib
import os
import socket
import tempfile
import time
from pathlib import Path
from typing import Protocol

from migcompat.errors import EnvironmentProblem, StreamError, UsageError
from migcompat.migration.uri import URI


class TransportClosed(StreamError):
    """The peer went away in the middle of the stream."""


class Transport(Protocol):
    def read(self, n: int) -> bytes: ...
    def write(self, data: bytes | memoryview) -> None: ...
    def close(self) -> None: ...


class MemoryTransport:
    """A pipe in memory: what one end writes the other reads (for tests)."""

    def __init__(self, data: bytes = b"") -> None:
        self.buffer = bytearray(data)
        self.pos = 0
        self.closed = False

    def read(self, n: int) -> bytes:
        chunk = bytes(self.buffer[self.pos:self.pos + n])
        self.pos += len(chunk)
        return chunk

    def write(self, data: bytes | memoryview) -> None:
        if self.closed:
            raise TransportClosed("write on a closed transport")
        self.buffer += data

    def close(self) -> None:
        self.closed = True


class SocketTransport:
    def __init__(self, sock: socket.socket, peer: str) -> None:
        self.sock = sock
        self.peer = peer

    def read(self, n: int) -> bytes:
        try:
            return self.sock.recv(n)
        except OSError as exc:
            raise TransportClosed(f"connection to {self.peer} lost: {exc.strerror or exc}") \
                from exc

    def write(self, data: bytes | memoryview) -> None:
        try:
            self.sock.sendall(data)
        except OSError as exc:
            raise TransportClosed(f"connection to {self.peer} lost: {exc.strerror or exc}") \
                from exc

    def shutdown_write(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_WR)

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
            raise EnvironmentProblem(f"cannot listen on {uri}: {exc.strerror or exc}") from exc

    def accept(self, timeout: float | None = None) -> SocketTransport:
        self.sock.settimeout(timeout)
        try:
            conn, _ = self.sock.accept()
        except TimeoutError as exc:
            raise EnvironmentProblem(f"no source connected to {self.uri} within {timeout}s") \
                from exc
        except OSError as exc:
            raise EnvironmentProblem(f"accept on {self.uri} failed: {exc.strerror or exc}") \
                from exc
        conn.settimeout(None)
        _tune(conn)
        return SocketTransport(conn, str(self.uri))

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()
        if self.path is not None:
            with contextlib.suppress(OSError):
                self.path.unlink()


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
    raise EnvironmentProblem(f"cannot connect to {uri}: {reason}")


class FileWriter:
    """Writes to a temporary name beside the target and renames it when complete."""

    def __init__(self, path: str) -> None:
        self.target = Path(path)
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{self.target.name}.", suffix=".part",
                                       dir=self.target.parent if str(self.target.parent) else ".")
        except OSError as exc:
            raise EnvironmentProblem(f"cannot write {path}: {exc.strerror or exc}") from exc
        self.tmp = Path(tmp)
        self.file = os.fdopen(fd, "wb", buffering=1 << 20)

    def read(self, n: int) -> bytes:  # pragma: no cover - protocol completeness
        return b""

    def write(self, data: bytes | memoryview) -> None:
        try:
            self.file.write(data)
        except OSError as exc:
            self.abort()
            raise EnvironmentProblem(f"cannot write {self.target}: {exc.strerror or exc}") \
                from exc

    def commit(self) -> None:
        self.file.close()
        os.replace(self.tmp, self.target)

    def abort(self) -> None:
        with contextlib.suppress(OSError):
            self.file.close()
        with contextlib.suppress(OSError):
            self.tmp.unlink()

    def close(self) -> None:
        self.abort()


class FileReader:
    def __init__(self, path: str) -> None:
        try:
            self.file = open(path, "rb", buffering=0)  # noqa: SIM115 - closed by close()
        except OSError as exc:
            # A wrong path is bad input (exit 2), not an environment problem.
            raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from exc

    def read(self, n: int) -> bytes:
        return self.file.read(n)

    def write(self, data: bytes | memoryview) -> None:  # pragma: no cover
        raise TransportClosed("file transport is read-only")

    def close(self) -> None:
        self.file.close()
