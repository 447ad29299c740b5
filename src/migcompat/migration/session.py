"""Moving a live VM between processes, so that it is never lost and never runs twice.

The handover (docs/migration.md "Handover"), after libvirt's Begin / Prepare / Perform /
Finish / Confirm, on tcp and unix:

1. the source streams the VM (its description carries the digest and the migration id);
2. the destination loads it all or nothing, checks the digest, and answers ``loaded`` (or
   ``failed``): it now holds the VM but does not run it;
3. the source answers ``commit``: from here it does not run the VM either;
4. the destination runs the VM and answers ``ack``; the source has migrated, says ``bye``.

A side that hears nothing where it waits for a word treats a lost connection, a time-out
and garbage alike. The source that heard no ``loaded`` has ``failed`` (nothing was
committed: it keeps running the VM and can retry). A destination that loaded but heard no
commit, and a source that committed but heard no ack, are in doubt: their outcome is
``unknown`` (exit 4), they keep their copy at rest in the journal, and ``migcompat settle``
decides from both records (migration/journal.py). ``file:`` has no return channel: the
source keeps its VM (``saved``) and the end marker and digest prove the file complete.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from migcompat.errors import ConnectionLost, MigcompatError
from migcompat.migration.control import Frame, try_read, try_send
from migcompat.migration.journal import Outcome, Record, Role, held_path, write_record
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
from migcompat.vm.savevm import Saver

READ_SIZE = 4 << 20
DRAIN_SECONDS = 5.0
HANDOVER_SECONDS = 30.0  # how long a side waits for each word of the handover
BYE_SECONDS = 5.0


@dataclass
class Handover:
    """How far a side got, and where it wrote what settle needs."""

    migration: str
    journal: Path | None = None  # where records go; None: nowhere (library use, tests)
    timeout: float = HANDOVER_SECONDS

    def record(self, role: Role, outcome: Outcome, phase: str, peer: str,
               digest: str | None, held: LiveVM | None = None) -> Path | None:
        if self.journal is None:
            return None
        held_file = None
        if held is not None:
            held_file = held_path(self.journal, self.migration, role)
            self.journal.mkdir(parents=True, exist_ok=True)
            with FileWriter(str(held_file)) as out:
                for chunk in Saver(held, self.migration):
                    out.write(chunk)
                out.end_write()
        return write_record(self.journal, Record(self.migration, role, outcome, phase, peer,
                                                 digest, str(held_file) if held_file else None))


@dataclass
class SendResult:
    outcome: Outcome
    error: str | None
    digest: str
    bytes_sent: int
    seconds: float
    migration: str = ""
    dest_digest: str | None = None
    record: Path | None = None

    @property
    def ok(self) -> bool | None:
        """True: migrated; None: saved to a file (no verdict); False: failed or unknown."""
        return True if self.outcome == "migrated" else None if self.outcome == "saved" \
            else False


def send_stream(live: LiveVM, transport: Transport, migration: str = "") -> tuple[int, str]:
    """Write the whole stream; returns (bytes, digest). Raises ConnectionLost on a drop."""
    saver = Saver(live, migration)
    sent = 0
    for chunk in saver:
        transport.write(chunk)
        sent += len(chunk)
    return sent, saver.digest


def migrate(live: LiveVM, uri: URI, retry_for: float = 5.0,
            handover: Handover | None = None) -> SendResult:
    """Send ``live`` to ``uri`` and hand it over. The VM object is left intact whatever
    happens: on ``failed`` the caller still runs it and may retry."""
    start = time.perf_counter()
    plan = handover or Handover(uuid.uuid4().hex)
    if uri.scheme == "file":
        with FileWriter(uri.path) as writer:  # closed before end_write: nothing is left
            sent, digest = send_stream(live, writer, plan.migration)
            writer.end_write()
        return SendResult("saved", None, digest, sent, time.perf_counter() - start,
                          plan.migration)
    with connect(uri, retry_for) as conn:
        conn.set_timeout(plan.timeout)
        return _hand_over(live, conn, plan, str(uri), start)


def _hand_over(live: LiveVM, conn: SocketTransport, plan: Handover, peer: str,
               start: float) -> SendResult:
    def result(outcome: Outcome, error: str | None, sent: int, digest: str,
               theirs: str | None = None, record: Path | None = None) -> SendResult:
        return SendResult(outcome, error, digest, sent, time.perf_counter() - start,
                          plan.migration, theirs, record)

    try:
        sent, digest = send_stream(live, conn, plan.migration)
    except ConnectionLost as exc:
        # The destination may have failed early and said why before closing.
        word = try_read(conn)
        error = word.error if word is not None and word.error else str(exc)
        return result("failed", error, 0, "")
    word = try_read(conn)
    if word is None or word.kind != "loaded" or word.migration != plan.migration:
        if word is not None and word.kind == "failed":
            return result("failed", word.error, sent, digest)
        # No verdict: the destination may hold a loaded copy, in doubt; it never runs it
        # without our commit, which we do not send: the VM stays here.
        record = plan.record("source", "failed", "sent", peer, digest)
        return result("failed", "the destination sent no verdict", sent, digest,
                      record=record)
    if word.digest != digest:
        try_send(conn, Frame("abort", plan.migration, "digest mismatch"))
        return result("failed", f"the destination holds digest {word.digest}, not "
                      f"{digest}", sent, digest, word.digest)
    if try_send(conn, Frame("commit", plan.migration)):
        ack = try_read(conn)
        if ack is not None and ack.kind == "ack" and ack.migration == plan.migration:
            try_send(conn, Frame("bye", plan.migration))
            return result("migrated", None, sent, digest, word.digest)
    # The commit may or may not have arrived: the VM may run there; it must not run here.
    record = plan.record("source", "unknown", "committed", peer, digest, held=live)
    return result("unknown", "the destination did not acknowledge the commit", sent, digest,
                  word.digest, record)


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


@dataclass
class ReceiveResult:
    """``migrated``: the VM runs here (``load.live``); ``unknown``: it is held at rest in
    the journal (``record``) until ``settle``."""

    outcome: Outcome
    load: LoadResult
    migration: str
    error: str | None = None
    record: Path | None = None


def serve_incoming(target: LiveVM, listener: Listener, accept_timeout: float | None = None,
                   journal: Path | None = None, timeout: float = HANDOVER_SECONDS
                   ) -> ReceiveResult:
    """Accept one source on ``listener``, load, and take the VM over; raises StreamError
    (after telling the source) when the stream does not load."""
    with listener.accept(accept_timeout) as conn:
        conn.set_timeout(timeout)  # a source silent that long is as good as gone
        try:
            loaded = receive(target, conn)
        except MigcompatError as exc:
            _fail(conn, str(exc), min(timeout, DRAIN_SECONDS))
            raise
        plan = Handover(loaded.migration or uuid.uuid4().hex, journal, timeout)
        peer = str(listener.uri)
        if not try_send(conn, Frame("loaded", plan.migration, digest=loaded.digest)):
            # The source cannot have our whole verdict, so it cannot commit: not taken.
            return ReceiveResult("failed", loaded, plan.migration,
                                 "the source went away before the verdict")
        word = try_read(conn)
        if word is not None and word.kind == "abort":
            return ReceiveResult("failed", loaded, plan.migration, word.error)
        if word is None or word.kind != "commit" or word.migration != plan.migration:
            record = plan.record("destination", "unknown", "loaded", peer, loaded.digest,
                                 held=loaded.live)
            return ReceiveResult("unknown", loaded, plan.migration,
                                 "the source neither committed nor aborted", record)
        # Committed: the VM runs here from now on, whatever happens to the ack.
        try_send(conn, Frame("ack", plan.migration))
        conn.set_timeout(min(timeout, BYE_SECONDS))
        bye = try_read(conn)
        record = None
        if bye is None or bye.kind != "bye":
            record = plan.record("destination", "migrated", "running", peer, loaded.digest)
        return ReceiveResult("migrated", loaded, plan.migration, None, record)


def _fail(conn: SocketTransport, message: str, drain: float) -> None:
    with contextlib.suppress(MigcompatError):
        conn.write(Frame("failed", error=message).encode())
        conn.end_write()
        # Drain what the source still sends, so it reads our verdict rather than a reset.
        conn.drain(drain, READ_SIZE)


def load_file(target: LiveVM, path: str) -> LoadResult:
    with FileReader(path) as reader:
        return receive(target, reader)

