"""Where each decoded value sits in the stream, and how to name and change one by its path.

A path names a value inside one section's state: field names joined by ``.``, ``[i]`` for an
array element (or one byte of a byte buffer), and subsection names as components
(``fw_cfg/dma.dma_addr``). Field names may themselves hold dots and brackets (``env.regs``,
``cur_offset[1]``), so each component is matched greedily against the names that exist at
that level: the longest name wins.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from migcompat.errors import UsageError
from migcompat.vmstate.data import Value, VMStateData
from migcompat.vmstate.infos import Kind
from migcompat.vmstate.schema import Field

SUBSECTION_HEADER = 6  # 0x05, name length, be32 version (plus the name), reference §2.7


@dataclass(frozen=True)
class Leaf:
    """One value (or a subsection header) with its absolute offset and size in bytes."""

    path: str
    info: str  # the VMState info name, or "subsection"
    offset: int
    size: int
    value: Value | None = None  # None for a subsection header
    version: int | None = None  # subsection version


def _value_size(f: Field, value: Value) -> int:
    items = value if f.count is not None and isinstance(value, tuple) else (value,)
    kind = f.spec.kind
    if kind in (Kind.INT, Kind.BOOL):
        return f.spec.width * len(items)
    total = 0
    for item in items:
        if isinstance(item, VMStateData):
            total += state_size(item)
        elif isinstance(item, bytes):
            total += len(item) + (1 if kind is Kind.COUNTED else 0)
    return total


def state_size(state: VMStateData) -> int:
    """Bytes of ``state`` on the wire (fields, then subsections with their headers)."""
    total = 0
    for name, value in state.values:
        f = state.vmsd.field_named(name)
        assert f is not None
        total += _value_size(f, value)
    for sub in state.subsections:
        total += SUBSECTION_HEADER + len(sub.name.encode()) + state_size(sub)
    return total


def leaves(state: VMStateData, base: int, prefix: str = "") -> list[Leaf]:
    """Every scalar/bytes/array value and subsection header of ``state`` in wire order."""
    out: list[Leaf] = []
    _walk(state, base, prefix, out)
    return out


def _walk(state: VMStateData, pos: int, prefix: str, out: list[Leaf]) -> int:
    for name, value in state.values:
        f = state.vmsd.field_named(name)
        assert f is not None
        path = prefix + name
        if f.spec.kind is Kind.STRUCT:
            if isinstance(value, VMStateData):
                pos = _walk(value, pos, path + ".", out)
            else:
                assert isinstance(value, tuple)
                for i, item in enumerate(value):
                    assert isinstance(item, VMStateData)
                    pos = _walk(item, pos, f"{path}[{i}].", out)
            continue
        size = _value_size(f, value)
        out.append(Leaf(path, f.info, pos, size, value))
        pos += size
    for sub in state.subsections:
        head = SUBSECTION_HEADER + len(sub.name.encode())
        size = head + state_size(sub)
        out.append(Leaf(prefix + sub.name, "subsection", pos, size, None, sub.version_id))
        pos = _walk(sub, pos + head, prefix + sub.name + ".", out)
    return pos


# -- changing a value by its path ----------------------------------------------------------


def _match(names: list[str], path: str, pos: int) -> str | None:
    best = None
    for name in names:
        end = pos + len(name)
        fits = path.startswith(name, pos) and (end == len(path) or path[end] in ".[")
        if fits and (best is None or len(name) > len(best)):
            best = name
    return best


def _parse_int(text: str, what: str) -> int:
    try:
        return int(text.replace("_", ""), 0)
    except ValueError:
        raise UsageError(f"{what}: '{text}' is not an integer") from None


def _parse_bytes(text: str, length: int, what: str) -> bytes:
    clean = text.removeprefix("hex:").replace(" ", "").replace(":", "")
    try:
        data = bytes.fromhex(clean)
    except ValueError:
        raise UsageError(f"{what}: '{text}' is not hex bytes") from None
    if len(data) != length:
        raise UsageError(f"{what}: {len(data)} bytes given, the field holds {length}")
    return data


def parse_scalar(text: str, old: Value, what: str) -> Value:
    """``text`` as a value of the same kind as ``old`` (the encoder checks its range)."""
    if isinstance(old, bool):
        low = text.lower()
        if low in ("1", "true", "on", "yes"):
            return True
        if low in ("0", "false", "off", "no"):
            return False
        raise UsageError(f"{what}: '{text}' is not a boolean")
    if isinstance(old, int):
        return _parse_int(text, what)
    if isinstance(old, bytes):
        return _parse_bytes(text, len(old), what)
    if isinstance(old, tuple) and not any(isinstance(o, VMStateData) for o in old):
        parts = [p for p in text.strip("[]").split(",") if p.strip()]
        if len(parts) != len(old):
            raise UsageError(f"{what}: {len(parts)} values given, the array has {len(old)}")
        return tuple(parse_scalar(p.strip(), o, what) for p, o in zip(parts, old, strict=True))
    raise UsageError(f"{what}: a struct cannot be set as a whole; name a field inside it")


def set_path(state: VMStateData, path: str, text: str) -> tuple[VMStateData, Value, Value]:
    """A copy of ``state`` with the value at ``path`` parsed from ``text``.

    Returns (new state, old value, new value)."""
    return _set(state, path, 0, text, path)


def _set(
    state: VMStateData, path: str, pos: int, text: str, full: str
) -> tuple[VMStateData, Value, Value]:
    names = [n for n, _ in state.values] + [s.name for s in state.subsections]
    name = _match(names, path, pos)
    if name is None:
        have = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
        raise UsageError(f"'{full}': no field or subsection '{path[pos:]}' in "
                         f"'{state.name}' (it has: {have})")
    pos += len(name)
    sub = state.subsection(name) if name not in state else None
    if sub is not None:
        if pos == len(path):
            raise UsageError(f"'{full}': a subsection cannot be set as a whole")
        new_sub, old, new = _set(sub, path, pos + 1, text, full)
        subs = tuple(new_sub if s is sub else s for s in state.subsections)
        return replace(state, subsections=subs), old, new
    value, old, new = _set_value(state[name], path, pos, text, full)
    values = tuple((k, value if k == name else v) for k, v in state.values)
    return replace(state, values=values), old, new


def _set_value(
    value: Value, path: str, pos: int, text: str, full: str
) -> tuple[Value, Value, Value]:
    if pos == len(path):
        new = parse_scalar(text, value, full)
        return new, value, new
    if path[pos] == ".":
        if not isinstance(value, VMStateData):
            raise UsageError(f"'{full}': '{path[:pos]}' is not a struct")
        return _set(value, path, pos + 1, text, full)
    close = path.find("]", pos)
    if close < 0:
        raise UsageError(f"'{full}': unclosed '['")
    index = _parse_int(path[pos + 1 : close], full)
    if isinstance(value, bytes):
        if close + 1 != len(path) or not 0 <= index < len(value):
            raise UsageError(f"'{full}': byte index {index} is out of range (0..{len(value) - 1})")
        byte = _parse_int(text, full)
        if not 0 <= byte <= 255:
            raise UsageError(f"'{full}': {byte} does not fit a byte")
        return value[:index] + bytes((byte,)) + value[index + 1 :], value[index], byte
    if not isinstance(value, tuple) or not 0 <= index < len(value):
        raise UsageError(f"'{full}': index {index} is out of range or not an array")
    item, old, new = _set_value(value[index], path, close + 1, text, full)
    return (*value[:index], item, *value[index + 1 :]), old, new
