"""Moving a live VM between processes: the source side and the destination side.

The source streams the VM and, on tcp/unix, waits for the destination's verdict on the
return channel. Its VM is never touched, so a failed migration can simply be retried. The
destination loads all or nothing; on failure it sends its verdict, stops writing, and drains
what the source still sends so that the verdict is not lost to a connection reset.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass

from migcompat.errors import ConnectionLost, MigcompatError, StreamError, TransportError
from migcompat.migration.returnpath import Verdict, read_verdict
from migcompat.migration.transport import (
    FileReader,
    FileWriter,
    Listener,
    SocketTransport,
    Transport,
    connect,
)
from migcompat.migration.uri import URI
from migcompat.vm.live import LiveVM
from migcompat.vm.loadvm import IncomingLoad, LoadResult
from migcompat.vm.savevm import Saver, live_digest

READ_SIZE = 4 << 20
DRAIN_SECONDS = 5.0


@dataclass
class SendResult:
    ok: bool | None  # None: no return channel (file:), so no verdict
    error: str | None
    digest: str
    bytes_sent: int
    seconds: float
    dest_digest: str | None = None


def send_stream(live: LiveVM, transport: Transport) -> tuple[int, str]:
    """Write the whole stream; returns (bytes, digest). Raises ConnectionLost on a drop."""
    saver = Saver(live)
    sent = 0
    for chunk in saver:
        transport.write(chunk)
        sent += len(chunk)
    return sent, saver.digest


def migrate(live: LiveVM, uri: URI, retry_for: float = 5.0) -> SendResult:
    """Send ``live`` to ``uri``. The VM is left intact whatever happens."""
    start = time.perf_counter()
    if uri.scheme == "file":
        with FileWriter(uri.path) as writer:  # closed before end_write: nothing is left
            sent, digest = send_stream(live, writer)
            writer.end_write()
        return SendResult(None, None, digest, sent, time.perf_counter() - start)
    with connect(uri, retry_for) as conn:
        try:
            sent, digest = send_stream(live, conn)
        except ConnectionLost as exc:
            # The destination may have failed early and said why before closing.
            verdict = _try_verdict(conn)
            error = verdict.error if verdict and verdict.error else str(exc)
            return SendResult(False, error, live_digest(live), 0,
                              time.perf_counter() - start)
        verdict = _try_verdict(conn)
        elapsed = time.perf_counter() - start
        if verdict is None:
            return SendResult(False, "the destination closed the connection without a verdict",
                              digest, sent, elapsed)
        return SendResult(verdict.ok, verdict.error, digest, sent, elapsed, verdict.digest)


def _try_verdict(conn: Transport) -> Verdict | None:
    try:
        return read_verdict(conn)
    except (StreamError, TransportError):
        return None


def receive(target: LiveVM, transport: Transport,
            on_progress: Callable[[int], None] | None = None) -> LoadResult:
    """Load from ``transport`` into a copy of ``target``; raises StreamError on failure."""
    incoming = IncomingLoad(target)
    total = 0
    while not incoming.done:
        # Each chunk is kept, not copied: the loaded pages are views into it.
        chunk = transport.read(READ_SIZE)
        if not chunk:
            break
        total += len(chunk)
        incoming.feed(chunk)
        if on_progress is not None:
            on_progress(total)
    return incoming.finish()


def serve_incoming(target: LiveVM, listener: Listener, accept_timeout: float | None = None
                   ) -> LoadResult:
    """Accept one source on ``listener``, load, and answer on the return channel."""
    with listener.accept(accept_timeout) as conn:
        try:
            result = receive(target, conn)
        except MigcompatError as exc:
            _fail(conn, str(exc))
            raise
        conn.write(Verdict(True, None, result.digest).encode())
        conn.end_write()
        return result


def _fail(conn: SocketTransport, message: str) -> None:
    with contextlib.suppress(MigcompatError):
        conn.write(Verdict(False, message).encode())
        conn.end_write()
        # Drain what the source still sends, so it reads our verdict rather than a reset.
        conn.drain(DRAIN_SECONDS, READ_SIZE)


def load_file(target: LiveVM, path: str) -> LoadResult:
    with FileReader(path) as reader:
        return receive(target, reader)
