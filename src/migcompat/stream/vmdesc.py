"""Find the trailing vmdesc of a whole stream held in memory, to decode it with its own schema.

The vmdesc is last: ``0x00`` (EOF), ``0x06``, be32 length, JSON to the end (reference §1.7).
JSON text never holds a raw 0x06 byte (control characters must be escaped), so the marker is
the last 0x06 in the data; we still check that the length points exactly at the end.
"""

from __future__ import annotations

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
