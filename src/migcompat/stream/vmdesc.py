"""Find the trailing vmdesc of a whole stream held in memory, to decode it with its own schema.

The vmdesc is last: ``0x00`` (EOF), ``0x06``, be32 length, JSON to the end (reference §1.7).
JSON text never holds a raw 0x06 byte (control characters must be escaped), so the marker is
one of the last 0x06 bytes (the others can only be in its be32 length); we check that the
length points exactly at the end.
"""

from __future__ import annotations

from collections.abc import Callable

from migcompat.stream.events import VMDescription
from migcompat.vmstate.vmdesc import VMDescSchemas, schemas_from_vmdesc


def _marker(raw: bytes | memoryview) -> tuple[int, int] | None:
    """The 0x06 marker of a vmdesc that ends ``raw``: (position, JSON length), or None.

    JSON text holds no raw 0x06 (control bytes are escaped), so any 0x06 after the marker
    lies in its 4 length bytes: only the last five 0x06 bytes can be the marker. It must
    follow the EOF byte, and its be32 length must reach exactly the end."""
    data = bytes(raw)
    end = len(data)
    for _ in range(5):
        at = data.rfind(b"\x06", 0, end)
        if at < 0:
            return None
        length = int.from_bytes(data[at + 1 : at + 5], "big")
        if at >= 1 and data[at - 1] == 0 and at + 5 <= len(data) \
                and at + 5 + length == len(data):
            return at, length
        end = at
    return None


def find_vmdesc(data: bytes | memoryview) -> tuple[int, VMDescription] | None:
    """The offset of the 0x06 marker and the vmdesc, or None when the stream has none."""
    raw = bytes(data[-(1 << 26) :]) if len(data) > 1 << 26 else bytes(data)
    shift = len(data) - len(raw)
    found = _marker(raw)
    if found is None:
        return None
    at, _ = found
    return shift + at, VMDescription(raw[at + 5 :])


def stream_schemas(data: bytes | memoryview) -> VMDescSchemas | None:
    """A schema resolver built from the stream's own vmdesc, or None without one."""
    found = find_vmdesc(data)
    if found is None:
        return None
    offset, vmdesc = found
    return schemas_from_vmdesc(vmdesc.json_bytes, offset=offset + 5)


def locate_vmdesc(
    read_tail: Callable[[int], bytes | memoryview], total: int, limit: int = 64 << 20
) -> tuple[int, int] | None:
    """Find the vmdesc by reading backwards from the end of a stream of ``total`` bytes.

    ``read_tail(n)`` returns the last ``n`` bytes (the caller does the I/O). Returns the
    absolute offset of the 0x06 marker and the JSON length, or None when the stream does not
    end with a vmdesc. Only the last 0x06 can be the marker (JSON escapes control bytes); it
    must follow the EOF byte and its be32 length must reach exactly the end. At most
    ``limit`` + 6 bytes are read, so a missing marker costs a bounded read.
    """
    n = 1 << 16
    while True:
        n = min(n, total, limit + 6)
        tail = bytes(read_tail(n))
        found = _marker(tail)
        if found is not None:
            at, length = found
            return total - len(tail) + at, length
        if tail.find(b"\x06") >= 5 or n == total or n >= limit + 6:
            return None  # the marker would have been in this window
        n *= 8
