"""Find the trailing vmdesc of a whole stream held in memory, to decode it with its own schema.

The vmdesc is last: ``0x00`` (EOF), ``0x06``, be32 length, JSON to the end (reference §1.7).
JSON text never holds a raw 0x06 byte (control characters must be escaped), so the marker is
the last 0x06 in the data; we still check that the length points exactly at the end.
"""

from __future__ import annotations

from collections.abc import Callable

from migcompat.stream.events import VMDescription
from migcompat.vmstate.vmdesc import VMDescSchemas, schemas_from_vmdesc


def find_vmdesc(data: bytes | memoryview) -> tuple[int, VMDescription] | None:
    """The offset of the 0x06 marker and the vmdesc, or None when the stream has none."""
    raw = bytes(data[-(1 << 26) :]) if len(data) > 1 << 26 else bytes(data)
    shift = len(data) - len(raw)
    at = raw.rfind(b"\x06")
    if at < 1 or at + 5 > len(raw) or raw[at - 1] != 0:
        return None
    length = int.from_bytes(raw[at + 1 : at + 5], "big")
    if at + 5 + length != len(raw):
        return None
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
        at = tail.rfind(b"\x06")
        if at >= 1 or n == total or n >= limit + 6:
            break
        n *= 8
    if at < 1 or at + 5 > len(tail) or tail[at - 1] != 0:
        return None
    length = int.from_bytes(tail[at + 1 : at + 5], "big")
    if at + 5 + length != len(tail):
        return None
    return total - len(tail) + at, length
