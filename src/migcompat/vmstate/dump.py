"""Schemas from QEMU's ``-dump-vmstate`` JSON (reference §5.2).

The dump lists, per QOM type, the description's name and versions and each field's name,
version_id, whether it has a ``field_exists`` callback and its ``size`` (the C element size,
or the C struct size for nested descriptions). It has no info kinds and no element counts, so
the schemas built here are marked ``complete=False``: they serve version and field-list
comparisons (what ``vmstate-static-checker.py`` does), not decoding. Fields become opaque
(info ``"dump"``) with that size; a ``field_exists`` callback becomes the ``unknown`` rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from migcompat.errors import DumpFormatError, SchemaError
from migcompat.vmstate.rules import ALWAYS, Unknown
from migcompat.vmstate.schema import Field, VMStateDescription

MAX_NESTING = 32
DUMP_INFO = "dump"  # the opaque info of a field known only by its C size


@dataclass(frozen=True)
class VMStateDump:
    """A parsed dump: the machine it came from and one description per QOM type."""

    machine: str
    types: Mapping[str, VMStateDescription]


def schemas_from_dump(data: Mapping[str, Any]) -> VMStateDump:
    """Parse a loaded ``-dump-vmstate`` JSON object."""
    machine = ""
    types: dict[str, VMStateDescription] = {}
    try:
        for key, value in data.items():
            if key == "vmschkmachine":
                if not isinstance(value, Mapping) or not isinstance(value.get("Name"), str):
                    raise DumpFormatError('$.vmschkmachine: expected {"Name": MACHINE}')
                machine = value["Name"]
                continue
            path = f"$[{key!r}]"
            if not isinstance(value, Mapping) or not isinstance(value.get("Description"), Mapping):
                raise DumpFormatError(f"{path}: expected an object with a 'Description'")
            types[key] = _vmsd(value["Description"], f"{path}.Description", 0)
    except (SchemaError, RecursionError) as exc:
        raise DumpFormatError(str(exc)) from exc
    return VMStateDump(machine, types)


def _int(d: Mapping[str, Any], key: str, path: str) -> int:
    value = d.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise DumpFormatError(f"{path}.{key}: expected a non-negative integer")
    return value


def _vmsd(
    d: Mapping[str, Any], path: str, depth: int, subsection: bool = False
) -> VMStateDescription:
    if depth > MAX_NESTING:
        raise DumpFormatError(f"{path}: nests deeper than {MAX_NESTING} levels")
    name = d.get("name")
    if not isinstance(name, str) or not name:
        raise DumpFormatError(f"{path}.name: expected a name")
    fields: list[Field] = []
    for i, f in enumerate(d.get("Fields", [])):
        fpath = f"{path}.Fields[{i}]"
        if not isinstance(f, Mapping) or not isinstance(f.get("field"), str):
            raise DumpFormatError(f"{fpath}: expected a field object")
        exists = Unknown() if f.get("field_exists") is True else None
        if isinstance(f.get("Description"), Mapping):
            child = _vmsd(f["Description"], f"{fpath}.Description", depth + 1)
            fields.append(
                Field(
                    f["field"],
                    "struct",
                    version_id=_int(f, "version_id", fpath),
                    exists=exists,
                    struct=child,
                )
            )
        else:
            fields.append(
                Field(
                    f["field"],
                    DUMP_INFO,
                    size=_int(f, "size", fpath),
                    version_id=_int(f, "version_id", fpath),
                    exists=exists,
                )
            )
    subs = [
        _vmsd(s, f"{path}.Subsections[{i}]", depth + 1, subsection=True)
        for i, s in enumerate(d.get("Subsections", []))
        if isinstance(s, Mapping) or _raise(f"{path}.Subsections[{i}]: expected an object")
    ]
    return VMStateDescription(
        name,
        _int(d, "version_id", path),
        _int(d, "minimum_version_id", path),
        tuple(fields),
        tuple(subs),
        # The dump does not say when a subsection is needed.
        needed=Unknown() if subsection else ALWAYS,
        complete=False,
    )


def _raise(message: str) -> bool:
    raise DumpFormatError(message)
