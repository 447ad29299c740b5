"""VMState schemas in catalog data: a plain dict/JSON shape (documented in docs/stream.md).

``vmsd_from_dict`` checks the whole tree and reports *every* problem with its path (in the
style of pydantic/cattrs, DESIGN.md), raising :class:`~migcompat.errors.CatalogError`.
``vmsd_to_dict`` is its inverse, so a schema learnt from a stream's vmdesc can be written
into a catalog.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from migcompat.errors import CatalogError, CatalogProblem, SchemaError
from migcompat.vmstate.infos import INFOS, Kind, lookup
from migcompat.vmstate.rules import ALWAYS, Rule, rule_from_data
from migcompat.vmstate.schema import Amount, Field, FromField, FromProperty, VMStateDescription

VMSD_KEYS = ("name", "version_id", "minimum_version_id", "fields", "subsections", "needed")
FIELD_KEYS = (
    "name",
    "type",
    "size",
    "count",
    "version_id",
    "exists",
    "struct",
    "struct_version",
    "local",
)
MAX_NESTING = 32


class _Problems:
    def __init__(self, file: str) -> None:
        self.file = file
        self.items: list[CatalogProblem] = []

    def add(self, path: str, code: str, message: str, value: object = None, hint: str = "") -> None:
        self.items.append(CatalogProblem(self.file, path, code, message, value, hint))


def vmsd_from_dict(d: object, path: str = "$", *, file: str = "") -> VMStateDescription:
    """Build a :class:`VMStateDescription` from catalog data; raise CatalogError listing all
    problems, each with its path below ``path``."""
    problems = _Problems(file)
    vmsd = _vmsd(d, path, problems, subsection_of=None, depth=0)
    if problems.items or vmsd is None:
        raise CatalogError(problems.items)
    return vmsd


def _unknown_keys(d: Mapping[str, Any], allowed: tuple[str, ...], path: str, p: _Problems) -> None:
    for key in d:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            p.add(
                f"{path}.{key}",
                "unknown-key",
                f"unknown key '{key}'",
                d[key],
                f"did you mean '{close[0]}'?" if close else "",
            )


def _int(d: Mapping[str, Any], key: str, path: str, p: _Problems, default: int | None) -> int:
    if key not in d:
        if default is None:
            p.add(f"{path}.{key}", "missing", f"'{key}' is required")
            return 0
        return default
    value = d[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        p.add(f"{path}.{key}", "type", "expected a non-negative integer", value)
        return 0
    return value


def _rule(data: object, path: str, p: _Problems) -> Rule:
    found: list[tuple[str, str, object]] = []
    rule = rule_from_data(data, path, found)
    for where, message, value in found:
        p.add(where, "rule", message, value)
    return rule


def _vmsd(
    d: object, path: str, p: _Problems, subsection_of: str | None, depth: int
) -> VMStateDescription | None:
    if depth > MAX_NESTING:
        p.add(path, "nesting", f"structs nest deeper than {MAX_NESTING} levels")
        return None
    if not isinstance(d, Mapping):
        p.add(path, "type", "expected an object (a VMState description)", d)
        return None
    allowed = VMSD_KEYS if subsection_of is not None else VMSD_KEYS[:-1]
    _unknown_keys(d, allowed, path, p)
    name = d.get("name")
    if not isinstance(name, str) or not name or len(name.encode()) > 255:
        p.add(f"{path}.name", "type", "expected a name of 1..255 bytes", name)
        name = "?"
    if subsection_of is not None and not (
        name.startswith(subsection_of) and len(name) > len(subsection_of)
    ):
        # QEMU only looks a subsection up when its name extends the parent's (reference §2.7).
        p.add(
            f"{path}.name",
            "subsection-name",
            f"subsection name must start with the parent's name '{subsection_of}'",
            name,
        )
    version = _int(d, "version_id", path, p, None)
    minimum = _int(d, "minimum_version_id", path, p, 0)
    if minimum > version:
        p.add(
            f"{path}.minimum_version_id",
            "version",
            f"minimum_version_id {minimum} is above version_id {version}",
            minimum,
        )
    fields = _fields(d.get("fields", []), f"{path}.fields", p, depth)
    subs: list[VMStateDescription] = []
    raw_subs = d.get("subsections", [])
    if not isinstance(raw_subs, list):
        p.add(f"{path}.subsections", "type", "expected a list", raw_subs)
        raw_subs = []
    seen: set[str] = set()
    for i, raw in enumerate(raw_subs):
        sub = _vmsd(raw, f"{path}.subsections[{i}]", p, name, depth + 1)
        if sub is not None:
            if sub.name in seen:
                p.add(
                    f"{path}.subsections[{i}].name",
                    "duplicate",
                    f"subsection '{sub.name}' is listed twice",
                    sub.name,
                )
            seen.add(sub.name)
            subs.append(sub)
    needed = _rule(d["needed"], f"{path}.needed", p) if "needed" in d else ALWAYS
    if p.items:
        return None
    return VMStateDescription(name, version, minimum, tuple(fields), tuple(subs), needed)


def _fields(raw: object, path: str, p: _Problems, depth: int) -> list[Field]:
    if not isinstance(raw, list):
        p.add(path, "type", "expected a list of fields", raw)
        return []
    out: list[Field] = []
    ints: set[str] = set()
    seen: set[str] = set()
    for i, item in enumerate(raw):
        f = _field(item, f"{path}[{i}]", p, depth, ints)
        if f is None:
            continue
        if f.name in seen:
            p.add(f"{path}[{i}].name", "duplicate", f"field '{f.name}' is listed twice", f.name)
        seen.add(f.name)
        if f.spec.kind is Kind.INT and f.count is None:
            ints.add(f.name)
        out.append(f)
    return out


def _amount(raw: object, path: str, p: _Problems, ints: set[str], what: str) -> Amount:
    if isinstance(raw, int) and not isinstance(raw, bool) and raw >= 0:
        return raw
    if isinstance(raw, Mapping):
        extra = set(raw) - {"field", "property", "multiply"}
        multiply = raw.get("multiply", 1)
        if isinstance(multiply, bool) or not isinstance(multiply, int) or multiply < 1:
            p.add(f"{path}.multiply", "type", "expected a positive integer", multiply)
            multiply = 1
        if not extra and isinstance(raw.get("field"), str) and "property" not in raw:
            if raw["field"] not in ints:
                p.add(
                    f"{path}.field",
                    "count-field",
                    f"the {what} must come from an earlier integer field of the same struct",
                    raw["field"],
                )
            return FromField(raw["field"], multiply)
        if not extra and isinstance(raw.get("property"), str) and "field" not in raw:
            return FromProperty(raw["property"], multiply)
    p.add(path, "type", f'a {what} is an integer, {{"field": NAME}} or {{"property": NAME}}', raw)
    return 0


def _field(d: object, path: str, p: _Problems, depth: int, ints: set[str]) -> Field | None:
    if not isinstance(d, Mapping):
        p.add(path, "type", "expected an object (a field)", d)
        return None
    before = len(p.items)
    _unknown_keys(d, FIELD_KEYS, path, p)
    name = d.get("name")
    if not isinstance(name, str) or not name:
        p.add(f"{path}.name", "type", "expected a field name", name)
        name = "?"
    info = d.get("type")
    if not isinstance(info, str) or not info:
        p.add(f"{path}.type", "type", "expected an info type name", info)
        return None
    spec = lookup(info)
    if info not in INFOS and "size" not in d:
        close = difflib.get_close_matches(info, list(INFOS), n=1)
        p.add(
            f"{path}.type",
            "unknown-type",
            f"unknown type '{info}': an opaque type needs a fixed 'size'",
            info,
            f"did you mean '{close[0]}'?" if close else "",
        )
    size: Amount = 0
    if "size" in d:
        size = _amount(d["size"], f"{path}.size", p, ints, "size")
    elif spec.kind is Kind.BYTES:
        p.add(f"{path}.size", "missing", f"a '{info}' field needs a 'size'")
    count = _amount(d["count"], f"{path}.count", p, ints, "count") if "count" in d else None
    struct = None
    if spec.kind is Kind.STRUCT:
        if "struct" not in d:
            p.add(f"{path}.struct", "missing", f"a '{info}' field needs a 'struct'")
        else:
            struct = _vmsd(d["struct"], f"{path}.struct", p, None, depth + 1)
    elif "struct" in d:
        p.add(f"{path}.struct", "type", f"a '{info}' field takes no 'struct'")
    struct_version = None
    if "struct_version" in d:
        struct_version = _int(d, "struct_version", path, p, None)
    exists = _rule(d["exists"], f"{path}.exists", p) if "exists" in d else None
    local: int | FromProperty | None = None
    if "local" in d:
        amount = _amount(d["local"], f"{path}.local", p, set(), "local value")
        if isinstance(amount, FromField):
            p.add(f"{path}.local", "type", "a local value is an integer or a property")
        else:
            local = amount
    if len(p.items) > before:
        return None
    try:
        return Field(
            name,
            info,
            size,
            count,
            _int(d, "version_id", path, p, 0),
            exists,
            struct,
            struct_version,
            local,
        )
    except SchemaError as exc:
        p.add(path, "field", str(exc))
        return None


def vmsd_to_dict(vmsd: VMStateDescription, *, subsection: bool = False) -> dict[str, Any]:
    """The catalog spelling of ``vmsd`` (inverse of :func:`vmsd_from_dict`)."""
    out: dict[str, Any] = {
        "name": vmsd.name,
        "version_id": vmsd.version_id,
        "minimum_version_id": vmsd.minimum_version_id,
        "fields": [_field_to_dict(f) for f in vmsd.fields],
    }
    if vmsd.subsections:
        out["subsections"] = [vmsd_to_dict(s, subsection=True) for s in vmsd.subsections]
    if subsection and vmsd.needed != ALWAYS:
        out["needed"] = vmsd.needed.to_data()
    return out


def _amount_to_data(a: Amount) -> object:
    if isinstance(a, int):
        return a
    key = "field" if isinstance(a, FromField) else "property"
    out: dict[str, object] = {key: a.field if isinstance(a, FromField) else a.property}
    if a.multiply != 1:
        out["multiply"] = a.multiply
    return out


def _field_to_dict(f: Field) -> dict[str, Any]:
    out: dict[str, Any] = {"name": f.name, "type": f.info}
    if f.spec.kind not in (Kind.INT, Kind.BOOL, Kind.STRUCT, Kind.COUNTED) or f.size != 0:
        out["size"] = _amount_to_data(f.size)
    if f.count is not None:
        out["count"] = _amount_to_data(f.count)
    if f.version_id:
        out["version_id"] = f.version_id
    if f.exists is not None:
        out["exists"] = f.exists.to_data()
    if f.struct is not None:
        out["struct"] = vmsd_to_dict(f.struct)
    if f.struct_version is not None:
        out["struct_version"] = f.struct_version
    if f.local is not None:
        out["local"] = _amount_to_data(f.local)
    return out
