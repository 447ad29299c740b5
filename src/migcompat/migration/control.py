"""The control channel: the frames of the handover, sent after the stream, outside QEMU's
stream bytes (which stay byte-for-byte QEMU's format).

Like QEMU's return path, it travels on the migration's own connection. A frame is ``MCRP``
+ be32 length + a JSON object ``{"kind", "migration", "error", "digest"}``. The kinds, in
the order of a handover (docs/migration.md "Handover", after libvirt's Begin / Prepare /
Perform / Finish / Confirm):

- ``loaded`` (destination → source): the whole stream loaded and its digest matched; the
  destination holds the VM but does not run it;
- ``failed`` (destination → source): the stream did not load, with QEMU's words;
- ``commit`` (source → destination): hand the VM over; from here the source does not run it;
- ``abort`` (source → destination): do not take it (the digests disagree);
- ``ack`` (destination → source): the destination runs the VM;
- ``bye`` (source → destination): the source has the ack; nobody is in doubt.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from typing import Literal

from migcompat.errors import StreamError, TransportError
from migcompat.migration.transport import Transport

MAGIC = b"MCRP"
MAX_FRAME = 1 << 16
Kind = Literal["loaded", "failed", "commit", "abort", "ack", "bye"]
KINDS: tuple[Kind, ...] = ("loaded", "failed", "commit", "abort", "ack", "bye")


@dataclass(frozen=True)
class Frame:
    kind: Kind
    migration: str = ""
    error: str | None = None
    digest: str | None = None

    def encode(self) -> bytes:
        body = json.dumps({"kind": self.kind, "migration": self.migration,
                           "error": self.error, "digest": self.digest}).encode()
        return MAGIC + struct.pack(">I", len(body)) + body


def _read_exact(transport: Transport, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = transport.read(n - len(data))
        if not chunk:
            break
        data += chunk
    return data


def read_frame(transport: Transport) -> Frame | None:
    """The next frame, or None if the peer closed before a whole one arrived. Raises
    StreamError when the bytes are not a frame."""
    head = _read_exact(transport, 8)
    if len(head) < 8:
        return None
    if head[:4] != MAGIC:
        raise StreamError("the peer's control channel sent garbage", offset=0)
    (length,) = struct.unpack(">I", head[4:])
    if length > MAX_FRAME:
        raise StreamError(f"a control frame of {length} bytes is too long", offset=4)
    body = _read_exact(transport, length)
    if len(body) < length:
        return None
    try:
        doc = json.loads(body)
        kind = doc["kind"]
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}")
        return Frame(kind, str(doc.get("migration") or ""), doc.get("error"),
                     doc.get("digest"))
    except (ValueError, KeyError, TypeError) as exc:
        raise StreamError(f"a control frame is not valid: {exc}", offset=8) from None


def try_read(transport: Transport) -> Frame | None:
    """:func:`read_frame`, with a lost connection, a time-out or garbage all meaning "no
    word from the peer" (which the handover treats alike)."""
    try:
        return read_frame(transport)
    except (StreamError, TransportError):
        return None


def try_send(transport: Transport, frame: Frame) -> bool:
    """Send ``frame``; False when the connection is gone (the peer cannot have it all)."""
    try:
        transport.write(frame.encode())
        return True
    except TransportError:
        return False
