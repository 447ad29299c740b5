"""Encode :class:`VMStateData` to VMState bytes, checking every value against its schema.

The data says which fields exist (the decoder, or the save side, already applied version
gating and ``needed`` rules); the encoder writes exactly those, in schema order, then the
subsections with their ``0x05`` + name + be32 version headers (reference §2.7). A value that
does not fit its field (out of range, wrong length, a count that disagrees with its count
field) raises :class:`EncodeError`, so bad state never becomes bytes.
"""

from __future__ import annotations

import struct

from migcompat.errors import EncodeError
from migcompat.vmstate.codec import SUBSECTION
from migcompat.vmstate.data import Value, VMStateData
from migcompat.vmstate.infos import Kind
from migcompat.vmstate.schema import Field, FromField, FromProperty

_BE32 = struct.Struct(">I")
_FORMATS = {1: "B", 2: "H", 4: "I", 8: "Q"}


def encode_state(data: VMStateData) -> bytes:
    """The bytes of ``data``: its fields then its subsections (no section header)."""
    out = bytearray()
    _encode(data, out)
    return bytes(out)


def encode_subsection(data: VMStateData, out: bytearray) -> None:
    """Append a subsection: ``0x05``, counted name, be32 version, then its state."""
    name = data.name.encode()
    out.append(SUBSECTION)
    out.append(len(name))
    out += name
    out += _BE32.pack(data.version_id)
    _encode(data, out)


def _encode(data: VMStateData, out: bytearray) -> None:
    fields = data.vmsd.fields
    index = 0
    known: dict[str, Value] = {}
    for name, value in data.values:
        while index < len(fields) and fields[index].name != name:
            index += 1
        if index == len(fields):
            raise EncodeError(
                f"'{data.name}' has no field '{name}' here (unknown, duplicated or out of order)"
            )
        f = fields[index]
        index += 1
        _encode_field(f, value, known, out, f"{data.name}:{f.name}")
        known[name] = value
    for sub in data.subsections:
        if data.vmsd.subsection(sub.name) is None:
            raise EncodeError(f"'{data.name}' has no subsection '{sub.name}'")
        encode_subsection(sub, out)


def _expect(amount: object, known: dict[str, Value], what: str, got: int, where: str) -> None:
    if isinstance(amount, int):
        want = amount
    elif isinstance(amount, FromField):
        raw = known.get(amount.field)
        if not isinstance(raw, int) or isinstance(raw, bool):
            raise EncodeError(f"{what} comes from field '{amount.field}', which is missing", where)
        want = raw * amount.multiply
    else:
        assert isinstance(amount, FromProperty)
        return  # property values are not part of the data: the save side resolved them
    if got != want:
        raise EncodeError(f"{what} is {got}, the schema says {want}", where)


def _encode_field(
    f: Field, value: Value, known: dict[str, Value], out: bytearray, where: str
) -> None:
    if f.count is None:
        items: tuple[Value, ...] = (value,)
    else:
        if not isinstance(value, tuple):
            raise EncodeError(f"an array field takes a tuple, not {type(value).__name__}", where)
        _expect(f.count, known, "the element count", len(value), where)
        items = value
    kind = f.spec.kind
    if kind is Kind.STRUCT:
        for item in items:
            if not isinstance(item, VMStateData) or f.struct is None:
                raise EncodeError("a struct field takes VMStateData", where)
            if item.name != f.struct.name:
                raise EncodeError(f"expected '{f.struct.name}' state, got '{item.name}'", where)
            _encode(item, out)
        return
    if kind in (Kind.BYTES, Kind.COUNTED):
        for item in items:
            if not isinstance(item, bytes):
                raise EncodeError(f"expected bytes, got {type(item).__name__}", where)
            if kind is Kind.COUNTED:
                if len(item) > 255:
                    raise EncodeError("a counted string is at most 255 bytes", where)
                out.append(len(item))
            else:
                _expect(f.size, known, "the byte length", len(item), where)
            out += item
        return
    if kind is Kind.BOOL:
        for item in items:
            if isinstance(item, bool):
                out.append(1 if item else 0)
            elif isinstance(item, int) and 0 <= item <= 255:  # a non-0/1 byte as it came
                out.append(item)
            else:
                raise EncodeError(f"expected a bool, got {type(item).__name__}", where)
        return
    width = f.spec.width
    lo, hi = (
        (-(1 << (8 * width - 1)), (1 << (8 * width - 1)) - 1)
        if f.spec.signed
        else (
            0,
            (1 << (8 * width)) - 1,
        )
    )
    for item in items:
        if not isinstance(item, int) or isinstance(item, bool) or not lo <= item <= hi:
            raise EncodeError(f"{item!r} does not fit {f.info}", where)
    code = _FORMATS[width]
    out += struct.pack(">" + str(len(items)) + (code.lower() if f.spec.signed else code), *items)
