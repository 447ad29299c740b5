"""Schemas from a stream's own trailing JSON (the "vmdesc", reference §1.7).

The vmdesc describes exactly what one stream holds: every device section that was written,
each field that existed, with ``size`` bytes per element and ``array_len`` (a compressed
array) or ``index`` (one entry per element, e.g. arrays of structs with subsections). We turn
each device into a :class:`VMStateDescription` at the stream's version, so the stream decodes
with no other knowledge. Subsections listed for a struct array are merged over its elements.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from migcompat.errors import SchemaError, StreamError
from migcompat.vmstate.infos import Kind, lookup
from migcompat.vmstate.schema import Field, VMStateDescription

MAX_NESTING = 32


class _Bad(Exception):
    pass


def parse_vmdesc_json(raw: bytes, offset: int | None = None) -> dict[str, Any]:
    """Parse vmdesc bytes into a dict; hostile nesting or bad JSON is a StreamError."""
    try:
        parsed = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise StreamError(f"the vmdesc is not valid JSON: {exc}", offset=offset) from exc
    if not isinstance(parsed, dict):
        raise StreamError("the vmdesc is not a JSON object", offset=offset)
    return parsed


@dataclass(frozen=True)
class VMDescSchemas:
    """The per-section schemas of one stream; callable as a schema resolver."""

    page_size: int
    devices: Mapping[tuple[str, int], VMStateDescription]

    def __call__(self, idstr: str, instance_id: int, version_id: int) -> VMStateDescription | None:
        return self.devices.get((idstr, instance_id))


def schemas_from_vmdesc(
    vmdesc: Mapping[str, Any] | bytes, offset: int | None = None
) -> VMDescSchemas:
    """Build a resolver from a vmdesc (parsed dict or raw JSON bytes)."""
    data = parse_vmdesc_json(vmdesc, offset) if isinstance(vmdesc, bytes) else vmdesc
    try:
        page_size = data.get("page_size", 4096)
        devices_raw = data.get("devices")
        if not isinstance(devices_raw, list):
            raise _Bad("$.devices: expected a list")
        devices: dict[tuple[str, int], VMStateDescription] = {}
        for i, dev in enumerate(devices_raw):
            path = f"$.devices[{i}]"
            if not isinstance(dev, Mapping):
                raise _Bad(f"{path}: expected an object")
            idstr, instance = dev.get("name"), dev.get("instance_id")
            if not isinstance(idstr, str) or not _is_int(instance):
                raise _Bad(f"{path}: needs a string 'name' and an integer 'instance_id'")
            assert isinstance(instance, int)
            if "vmsd_name" not in dev and "fields" not in dev:
                # An old-style section (save_state handlers, e.g. slirp): QEMU lists it
                # without a layout, so it cannot be decoded, only named.
                continue
            devices[(idstr, instance)] = _vmsd(dev, path, 0)
        if not _is_int(page_size):
            raise _Bad("$.page_size: expected an integer")
    except _Bad as exc:
        raise StreamError(f"bad vmdesc: {exc}", offset=offset) from None
    except (SchemaError, RecursionError) as exc:
        raise StreamError(f"bad vmdesc: {exc}", offset=offset) from exc
    return VMDescSchemas(page_size, devices)


def vmsd_from_vmdesc(entry: Mapping[str, Any], path: str = "$") -> VMStateDescription:
    """One device (or subsection, or struct) object of a vmdesc as a description."""
    try:
        return _vmsd(entry, path, 0)
    except _Bad as exc:
        raise StreamError(f"bad vmdesc: {exc}") from None


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _vmsd(d: Mapping[str, Any], path: str, depth: int) -> VMStateDescription:
    if depth > MAX_NESTING:
        raise _Bad(f"{path}: nests deeper than {MAX_NESTING} levels")
    name, version = d.get("vmsd_name"), d.get("version")
    if (
        not isinstance(name, str)
        or not name
        or not isinstance(version, int)
        or not _is_int(version)
    ):
        raise _Bad(f"{path}: needs 'vmsd_name' and an integer 'version'")
    fields = _fields(d.get("fields", []), f"{path}.fields", depth)
    subs_raw = d.get("subsections", [])
    if not isinstance(subs_raw, list):
        raise _Bad(f"{path}.subsections: expected a list")
    subs = []
    for i, s in enumerate(subs_raw):
        if not isinstance(s, Mapping):
            raise _Bad(f"{path}.subsections[{i}]: expected an object")
        subs.append(_vmsd(s, f"{path}.subsections[{i}]", depth + 1))
    return VMStateDescription(name, version, 0, tuple(fields), tuple(subs))


def _fields(raw: object, path: str, depth: int) -> list[Field]:
    if not isinstance(raw, list):
        raise _Bad(f"{path}: expected a list")
    out: list[Field] = []
    i = 0
    while i < len(raw):
        entry = raw[i]
        if not isinstance(entry, Mapping):
            raise _Bad(f"{path}[{i}]: expected an object")
        if "index" in entry:
            # One entry per element: gather the run index 0, 1, 2, ... of the same name.
            run = [entry]
            while (
                i + len(run) < len(raw)
                and isinstance(raw[i + len(run)], Mapping)
                and raw[i + len(run)].get("name") == entry.get("name")
                and raw[i + len(run)].get("index") == len(run)
            ):
                run.append(raw[i + len(run)])
            out.append(_field(run, f"{path}[{i}]", depth, count=len(run)))
            i += len(run)
            continue
        count = entry.get("array_len")
        if count is not None and not _is_int(count):
            raise _Bad(f"{path}[{i}].array_len: expected an integer")
        out.append(_field([entry], f"{path}[{i}]", depth, count=count))
        i += 1
    return out


def _field(entries: Sequence[Mapping[str, Any]], path: str, depth: int, count: int | None) -> Field:
    first = entries[0]
    name, info = first.get("name"), first.get("type")
    if not isinstance(name, str) or not isinstance(info, str):
        raise _Bad(f"{path}: needs a string 'name' and 'type'")
    spec = lookup(info)
    if spec.kind is Kind.STRUCT:
        structs = []
        for k, e in enumerate(entries):
            # A VMSTATE_WITH_TMP field carries its description inline (reference §1.7).
            inner = e if info == "tmp" else e.get("struct")
            if not isinstance(inner, Mapping):
                raise _Bad(f"{path}: a '{info}' field needs its description")
            structs.append(_vmsd(inner, f"{path}.struct" if k == 0 else f"{path}[{k}]", depth + 1))
        vstruct = structs[0].version_id if info == "vstruct" else None
        return Field(name, info, count=count, struct=_merge(structs, path), struct_version=vstruct)
    size = first.get("size", 0)
    if not _is_int(size):
        raise _Bad(f"{path}.size: expected an integer")
    if spec.kind in (Kind.INT, Kind.BOOL) and size != spec.width:
        raise _Bad(f"{path}: a '{info}' field is {spec.width} byte(s), not {size}")
    if spec.kind is Kind.COUNTED:
        raise _Bad(f"{path}: '{info}' fields cannot be described by size")
    return Field(name, info, size=size, count=count)


def _merge(structs: list[VMStateDescription], path: str) -> VMStateDescription:
    """One description for all elements: same fields, the union of their subsections."""
    base = structs[0]
    subs = {s.name: s for s in base.subsections}
    for other in structs[1:]:
        if other.fields != base.fields or other.name != base.name:
            raise _Bad(f"{path}: the elements of one array differ")
        for s in other.subsections:
            subs.setdefault(s.name, s)
    return VMStateDescription(base.name, base.version_id, 0, base.fields, tuple(subs.values()))
