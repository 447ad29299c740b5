"""The return channel: the destination's verdict, sent back outside QEMU's stream bytes.

Like QEMU's return path, it travels on the same connection in the other direction, so the
stream itself stays byte-for-byte QEMU's format. A verdict is ``MCRP`` + be32 length + a
JSON object ``{"ok": bool, "error": str | null, "digest": str | null}``.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass

from migcompat.errors import StreamError
from migcompat.migration.transport import Transport

MAGIC = b"MCRP"
MAX_VERDICT = 1 << 16


@dataclass(frozen=True)
class Verdict:
    ok: bool
    error: str | None = None
    digest: str | None = None

    def encode(self) -> bytes:
        body = json.dumps({"ok": self.ok, "error": self.error, "digest": self.digest}).encode()
        return MAGIC + struct.pack(">I", len(body)) + body


def _read_exact(transport: Transport, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = transport.read(n - len(data))
        if not chunk:
            break
        data += chunk
    return data


def read_verdict(transport: Transport) -> Verdict | None:
    """The destination's verdict, or None if it closed without sending one."""
    head = _read_exact(transport, 8)
    if len(head) < 8:
        return None
    if head[:4] != MAGIC:
        raise StreamError("the destination's return channel sent garbage", offset=0)
    (length,) = struct.unpack(">I", head[4:])
    if length > MAX_VERDICT:
        raise StreamError(f"the destination's verdict is too long ({length} bytes)", offset=4)
    body = _read_exact(transport, length)
    if len(body) < length:
        return None
    try:
        doc = json.loads(body)
        return Verdict(bool(doc["ok"]), doc.get("error"), doc.get("digest"))
    except (ValueError, KeyError, TypeError) as exc:
        raise StreamError(f"the destination's verdict is not valid JSON: {exc}",
                          offset=8) from None
