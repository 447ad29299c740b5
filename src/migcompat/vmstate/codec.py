"""Field codec: VMState bytes <-> :class:`VMStateData`, with QEMU's load semantics.

Pure functions over a contiguous buffer. Decoding never reads past the buffer: when the data
ends early it raises :class:`NeedData` with the position it needs, and the stream decoder
either waits for more input or, at end of input, reports a truncated stream. Load rules follow
``vmstate_load_state`` (reference §2.3, §2.6, §2.7): a field exists when its ``exists`` rule
holds, else when its version_id <= the stream's version; nested structs load with their local
version; subsections are found by peeking ``0x05`` + a name that starts with the parent's
name; an unknown subsection with that prefix is fatal; a missing one is fine.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass, field

from migcompat.errors import RuleError, StreamError
from migcompat.vmstate.data import Value, VMStateData
from migcompat.vmstate.infos import Check, Kind
from migcompat.vmstate.rules import RuleContext
from migcompat.vmstate.schema import (
    Amount,
    Field,
    FromField,
    VMStateDescription,
)

SUBSECTION = 0x05  # QEMU_VM_SUBSECTION, reference §1.3
MAX_DEPTH = 64  # nesting comes from schemas, not the stream; this only stops runaway schemas
MAX_COUNT = 1 << 24  # elements in one array: beyond this a count read from the stream is hostile
# Nested descriptions decoded for one section (struct elements and subsections). Empty structs
# take no bytes, so a hostile schema (array_len 2**24 of an empty struct, nested) would
# otherwise spin without reading anything.
MAX_NODES = 1 << 18

_BE32 = struct.Struct(">I")


class NeedData(Exception):
    """The buffer ends before position ``upto``; ``field`` names what was being read."""

    def __init__(self, upto: int, field: str | None = None) -> None:
        super().__init__(upto)
        self.upto = upto
        self.field = field


@dataclass
class DecodeContext:
    """Where the buffer sits in the stream and what the caller knows about the device."""

    properties: Mapping[str, object] = field(default_factory=dict)
    section: str | None = None
    instance_id: int = 0
    base: int = 0  # absolute stream offset of buf[0], for error offsets
    nodes: int = 0  # nested descriptions decoded so far (see MAX_NODES)
    # False when the schema is the stream's own description (analysis): subsection versions
    # are then read, not checked against a destination.
    check_versions: bool = True


def decode_section(
    vmsd: VMStateDescription,
    idstr: str,
    version_id: int,
    buf: bytes | memoryview,
    pos: int,
    ctx: DecodeContext,
) -> tuple[VMStateData, int]:
    """Decode a top-level section body after QEMU's version checks (reference §2.6)."""
    if not vmsd.complete:
        raise StreamError(
            f"the schema of '{vmsd.name}' has no info kinds or counts (from -dump-vmstate) "
            "and cannot decode a stream",
            offset=ctx.base + pos,
            section=idstr,
        )
    if version_id > vmsd.version_id:
        raise StreamError(
            f"savevm: unsupported version {version_id} for '{idstr}' v{vmsd.version_id}",
            offset=ctx.base + pos,
            section=idstr,
        )
    _check_minimum(vmsd, version_id, ctx, pos)
    return _decode(vmsd, version_id, buf, pos, ctx, 0)


def decode_state(
    vmsd: VMStateDescription,
    version_id: int,
    buf: bytes | memoryview,
    pos: int,
    ctx: DecodeContext,
) -> tuple[VMStateData, int]:
    """Decode fields + subsections of ``vmsd`` at ``version_id`` with no version checks."""
    return _decode(vmsd, version_id, buf, pos, ctx, 0)


def _check_minimum(vmsd: VMStateDescription, version_id: int, ctx: DecodeContext, pos: int) -> None:
    if version_id < vmsd.minimum_version_id:
        # Two spaces before the last number: QEMU's exact text (reference §2.6).
        raise StreamError(
            f"{vmsd.name}: incoming version_id {version_id} is too old for local minimum "
            f"version_id  {vmsd.minimum_version_id}",
            offset=ctx.base + pos,
            section=ctx.section,
        )


def _decode(
    vmsd: VMStateDescription,
    version_id: int,
    buf: bytes | memoryview,
    pos: int,
    ctx: DecodeContext,
    depth: int,
) -> tuple[VMStateData, int]:
    ctx.nodes += 1
    if ctx.nodes > MAX_NODES:
        raise StreamError(
            f"more than {MAX_NODES} nested descriptions in one section: the schema is hostile",
            offset=ctx.base + pos,
            section=ctx.section,
        )
    if depth > MAX_DEPTH:
        raise StreamError(
            f"'{vmsd.name}' nests deeper than {MAX_DEPTH} levels",
            offset=ctx.base + pos,
            section=ctx.section,
        )
    values: list[tuple[str, Value]] = []
    known: dict[str, Value] = {}
    for f in vmsd.fields:
        if not _exists(f, version_id, vmsd, ctx, known, pos):
            continue
        value, pos = _decode_field(f, vmsd, buf, pos, ctx, known, depth)
        values.append((f.name, value))
        known[f.name] = value
    subs: list[VMStateData] = []
    pos = _decode_subsections(vmsd, buf, pos, ctx, subs, depth)
    return VMStateData(vmsd, version_id, tuple(values), tuple(subs)), pos


def _where(vmsd: VMStateDescription, f: Field) -> str:
    # QEMU's per-field failure names "vmsd:field" ("Failed to load virtio-blk:virtio").
    return f"{vmsd.name}:{f.name}"


def _exists(
    f: Field,
    version_id: int,
    vmsd: VMStateDescription,
    ctx: DecodeContext,
    known: Mapping[str, Value],
    pos: int,
) -> bool:
    if f.exists is None:
        return f.version_id <= version_id
    try:
        return f.exists.evaluate(RuleContext(ctx.properties, known))
    except RuleError as exc:
        raise StreamError(
            f"field_exists: {exc}",
            offset=ctx.base + pos,
            section=ctx.section,
            field=_where(vmsd, f),
        ) from exc


def resolve_amount(
    amount: Amount, properties: Mapping[str, object], known: Mapping[str, Value]
) -> int:
    """The number an :data:`Amount` stands for; raises RuleError when it cannot be known."""
    if isinstance(amount, int):
        return amount
    if isinstance(amount, FromField):
        raw: object = known.get(amount.field)
        if raw is None:
            raise RuleError(f"field '{amount.field}' has not been read before this one")
    else:
        if amount.property not in properties:
            raise RuleError(f"property '{amount.property}' is not set")
        raw = properties[amount.property]
    if isinstance(raw, str):
        try:
            raw = int(raw, 0)
        except ValueError as exc:
            raise RuleError(f"'{raw}' is not a number") from exc
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise RuleError(f"{amount} does not hold a number: {raw!r}")
    return raw * amount.multiply


def _decode_field(
    f: Field,
    vmsd: VMStateDescription,
    buf: bytes | memoryview,
    pos: int,
    ctx: DecodeContext,
    known: Mapping[str, Value],
    depth: int,
) -> tuple[Value, int]:
    where = _where(vmsd, f)
    try:
        n = 1 if f.count is None else resolve_amount(f.count, ctx.properties, known)
        size = resolve_amount(f.element_size(), ctx.properties, known)
    except RuleError as exc:
        raise StreamError(
            str(exc), offset=ctx.base + pos, section=ctx.section, field=where
        ) from exc
    if n < 0 or n > MAX_COUNT or size < 0:
        raise StreamError(
            f"element count {n} x size {size} is out of range",
            offset=ctx.base + pos,
            section=ctx.section,
            field=where,
        )
    spec = f.spec
    kind = spec.kind
    end = len(buf)
    start = pos
    if kind is Kind.STRUCT:
        assert f.struct is not None
        child_version = f.struct_version if f.struct_version is not None else f.struct.version_id
        items: list[Value] = []
        for _ in range(n):
            data, pos = _decode(f.struct, child_version, buf, pos, ctx, depth + 1)
            items.append(data)
        return (items[0] if f.count is None else tuple(items)), pos
    if kind is Kind.COUNTED:
        strings: list[Value] = []
        for _ in range(n):
            if pos + 1 > end:
                raise NeedData(pos + 1, where)
            stop = pos + 1 + buf[pos]
            if stop > end:
                raise NeedData(stop, where)
            strings.append(bytes(buf[pos + 1 : stop]))
            pos = stop
        return (strings[0] if f.count is None else tuple(strings)), pos
    total = n * size
    if start + total > end:
        raise NeedData(start + total, where)
    if kind is Kind.BYTES:
        if f.count is None:
            return bytes(buf[start : start + size]), start + size
        return tuple(bytes(buf[start + i * size : start + (i + 1) * size]) for i in range(n)), (
            start + total
        )
    if kind is Kind.BOOL:
        # QEMU reads any non-zero byte as true; a byte other than 0 or 1 stays that int
        # (true all the same), so that re-encoding writes the byte that came.
        flags = tuple(_BOOLS[b] if b < 2 else b for b in bytes(buf[start : start + n]))
        return (flags[0] if f.count is None else flags), start + total
    fmt = ">" + str(n) + _FORMATS[(spec.width, spec.signed)]
    ints = struct.unpack_from(fmt, buf, start)
    if spec.check is not Check.NONE:
        _check_values(f, ints, vmsd, ctx, start)
    return (ints[0] if f.count is None else ints), start + total


_BOOLS = (False, True)
_FORMATS = {
    (1, False): "B",
    (1, True): "b",
    (2, False): "H",
    (2, True): "h",
    (4, False): "I",
    (4, True): "i",
    (8, False): "Q",
    (8, True): "q",
}


def _check_values(
    f: Field, ints: tuple[int, ...], vmsd: VMStateDescription, ctx: DecodeContext, pos: int
) -> None:
    if f.local is None:
        return  # the schema does not say what the destination holds: nothing to compare
    try:
        local = resolve_amount(f.local, ctx.properties, {})
    except RuleError as exc:
        raise StreamError(
            str(exc), offset=ctx.base + pos, section=ctx.section, field=_where(vmsd, f)
        ) from exc
    for i, got in enumerate(ints):
        at = ctx.base + pos + i * f.spec.width
        if f.spec.check is Check.EQUAL and got != local:
            mask = (1 << (8 * f.spec.width)) - 1
            # QEMU prints the local value first, in hex (vmstate-types.c "equal" infos).
            raise StreamError(
                f"{local & mask:x} != {got & mask:x}",
                offset=at,
                section=ctx.section,
                field=_where(vmsd, f),
            )
        if f.spec.check is Check.LE and not 0 <= got <= local:
            raise StreamError(
                f"Invalid value {got} expecting positive value <= {local}",
                offset=at,
                section=ctx.section,
                field=_where(vmsd, f),
            )


def _decode_subsections(
    vmsd: VMStateDescription,
    buf: bytes | memoryview,
    pos: int,
    ctx: DecodeContext,
    out: list[VMStateData],
    depth: int,
) -> int:
    end = len(buf)
    prefix = vmsd.name.encode()
    while True:
        if pos + 1 > end:
            raise NeedData(pos + 1, f"{vmsd.name} (subsections)")
        if buf[pos] != SUBSECTION:
            return pos
        if pos + 2 > end:
            raise NeedData(pos + 2, f"{vmsd.name} (subsections)")
        length = buf[pos + 1]
        if length < len(prefix) + 1:
            # QEMU checks the length before it peeks the name (reference §2.7): not ours.
            return pos
        if pos + 2 + length > end:
            raise NeedData(pos + 2 + length, f"{vmsd.name} (subsections)")
        name = bytes(buf[pos + 2 : pos + 2 + length])
        if not name.startswith(prefix):
            # Not ours: QEMU leaves the bytes for the caller (they fail later, reference §2.7).
            return pos
        text = name.decode("utf-8", errors="replace")
        sub = vmsd.subsection(text)
        if sub is None:
            # QEMU fails with -ENOENT and no message of its own (reference §2.7, §4).
            raise StreamError(
                f"error while loading state for instance 0x{ctx.instance_id:x} of device "
                f"'{ctx.section}': unknown subsection '{text}' (No such file or directory)",
                offset=ctx.base + pos,
                section=ctx.section,
                field=text,
            )
        vpos = pos + 2 + length
        if vpos + 4 > end:
            raise NeedData(vpos + 4, text)
        (version,) = _BE32.unpack_from(buf, vpos)
        if ctx.check_versions:
            if version > sub.version_id:
                raise StreamError(
                    f"{sub.name}: incoming version_id {version} is too new for local "
                    f"version_id {sub.version_id}",
                    offset=ctx.base + vpos,
                    section=ctx.section,
                    field=text,
                )
            _check_minimum(sub, version, ctx, vpos)
        data, pos = _decode(sub, version, buf, vpos + 4, ctx, depth + 1)
        out.append(data)
