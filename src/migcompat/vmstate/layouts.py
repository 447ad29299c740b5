"""Where the layout of a stream's device sections comes from (pure: bytes in, resolvers out).

A VMState section carries no length, so reading past one needs its description
(reference §1.7, §7). Three sources, in order of strength:

- ``vmdesc``: a stream's trailing JSON (its own, or one from a stream of the same build and
  configuration, e.g. the ``desc.json`` that ``analyze --extract`` writes). Exact.
- ``dump``: ``-dump-vmstate`` of a build. It has field sizes but no element counts, no info
  types and no non-qdev sections (``timer``, ``cpu``, ...), so it can size a section only when
  every field is one element of its C size; the section footer then confirms the guess (a
  wrong guess fails the footer check and the analysis stops there with a clear message).
- none: RAM and the framing are self-describing, device sections are not.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from migcompat.errors import DumpFormatError, SchemaFileError, StreamError
from migcompat.vmstate.dump import VMStateDump, schemas_from_dump
from migcompat.vmstate.rules import Unknown
from migcompat.vmstate.schema import Field, VMStateDescription
from migcompat.vmstate.vmdesc import VMDescSchemas, schemas_from_vmdesc

SchemaKind = Literal["vmdesc", "dump"]
OPAQUE = "buffer"  # how a field known only by its C size is decoded: raw bytes


@dataclass(frozen=True)
class DumpResolver:
    """Decode sections from a ``-dump-vmstate``: only those it can size (see module doc)."""

    dump: VMStateDump
    by_name: Mapping[str, list[VMStateDescription]] = field(default_factory=dict)

    def __call__(self, idstr: str, instance_id: int, version_id: int) -> VMStateDescription | None:
        found = self.by_name.get(idstr) or self.by_name.get(vmsd_name_of(idstr))
        if not found or len(found) > 1:
            return None  # unknown, or ambiguous: several descriptions share the name
        return _sized(found[0], version_id, 0)


@dataclass(frozen=True)
class SchemaSource:
    """A loaded schema file: ``resolver`` decodes sections; ``vmdesc``/``dump`` compare."""

    kind: SchemaKind
    origin: str
    vmdesc: VMDescSchemas | None = None
    dump: VMStateDump | None = None
    vmdesc_json: bytes | None = None

    @property
    def resolver(self) -> VMDescSchemas | DumpResolver:
        if self.vmdesc is not None:
            return self.vmdesc
        assert self.dump is not None
        return DumpResolver(self.dump, dump_index(self.dump))


def vmsd_name_of(idstr: str) -> str:
    """The vmsd name of a section: the idstr after the device path (reference §1.4)."""
    return idstr.rsplit("/", 1)[-1]


def dump_index(dump: VMStateDump) -> dict[str, list[VMStateDescription]]:
    """Descriptions of a dump by vmsd name (the dump is keyed by QOM type; a few distinct
    descriptions share a name, e.g. two ``serial`` ones)."""
    out: dict[str, list[VMStateDescription]] = {}
    for vmsd in dump.types.values():
        same = out.setdefault(vmsd.name, [])
        if vmsd not in same:
            same.append(vmsd)
    return out


def _sized(desc: VMStateDescription, version_id: int, depth: int) -> VMStateDescription | None:
    """A decodable copy of a dump description at ``version_id``, or None if it cannot size it."""
    if depth > 16:
        return None
    fields: list[Field] = []
    for f in desc.fields:
        if isinstance(f.exists, Unknown):
            return None  # a field_exists callback: presence unknown
        if f.version_id > version_id:
            continue
        if f.struct is not None:
            child = _sized(f.struct, f.struct.version_id, depth + 1)
            if child is None:
                return None
            fields.append(Field(f.name, "struct", struct=child))
        elif isinstance(f.size, int) and f.size > 0:
            fields.append(Field(f.name, OPAQUE, size=f.size))
        else:
            return None  # a variable-size field (VBUFFER, VARRAY): no size in the dump
    subs = []
    for sub in desc.subsections:
        sized = _sized(sub, sub.version_id, depth + 1)
        if sized is not None:
            subs.append(sized)
    return VMStateDescription(desc.name, version_id, 0, tuple(fields), tuple(subs))


def parse_schema_json(raw: bytes, origin: str) -> SchemaSource:
    """A vmdesc or a ``-dump-vmstate``, told apart by their keys."""
    try:
        doc: Any = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise SchemaFileError(f"{origin}: not JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise SchemaFileError(f"{origin}: expected a JSON object")
    if "devices" in doc:
        try:
            schemas = schemas_from_vmdesc(doc)
        except StreamError as exc:
            raise SchemaFileError(f"{origin}: {exc.message}") from None
        return SchemaSource("vmdesc", origin, vmdesc=schemas, vmdesc_json=raw)
    if "vmschkmachine" in doc:
        try:
            dump = schemas_from_dump(doc)
        except DumpFormatError as exc:
            raise SchemaFileError(f"{origin}: {exc}") from None
        return SchemaSource("dump", origin, dump=dump)
    raise SchemaFileError(
        f"{origin}: neither a stream description (no 'devices') nor a -dump-vmstate "
        "(no 'vmschkmachine')"
    )


def schema_from_vmdesc(json_bytes: bytes, origin: str, offset: int | None = None) -> SchemaSource:
    """The trailing description of a stream as a schema source."""
    try:
        schemas = schemas_from_vmdesc(json_bytes, offset=offset)
    except StreamError as exc:
        raise SchemaFileError(f"{origin}: {exc}") from None
    return SchemaSource("vmdesc", origin, vmdesc=schemas, vmdesc_json=json_bytes)
