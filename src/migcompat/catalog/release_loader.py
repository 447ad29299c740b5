"""Turn one release's data (a dict from TOML or JSON) into a validated ``Release``.

Every problem is collected in the Checker with its path; nothing is half-built: the caller
raises CatalogError if any problem was found.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from migcompat.catalog.checker import Checker, did_you_mean, path_key
from migcompat.catalog.machine_loader import load_families, load_machines, load_tables
from migcompat.catalog.state_loader import load_board, load_vmstate
from migcompat.errors import PropertyValueError
from migcompat.model.machines import MachineSet
from migcompat.model.props import ALL_KINDS, ON_OFF_AUTO, Property, Value, parse_value
from migcompat.model.release import Release
from migcompat.model.types import Child, InitValue, RealizeRule, TypeInfo, TypeRegistry

RELEASE_KEYS = ("format", "id", "product", "version", "debian_version", "description",
                "origin", "extends", "enums", "types", "compat_tables", "families",
                "machines", "vmstate", "board", "probe", "built_default")
TYPE_KEYS = ("parent", "interfaces", "abstract", "properties", "child", "realize", "init",
             "guest_visible", "express_only", "guest_only", "vmsd", "built", "file", "line", "desc")
PROP_KEYS = ("kind", "default", "enum", "values", "word", "bit", "unresolved", "qapi_type",
             "link_type", "equivalent", "equivalent_why",
             "file", "line", "desc")
RULE_KEYS = ("property", "when", "unset", "always", "if", "bus", "op", "cap", "source", "add",
             "floor", "value", "otherwise", "file", "line")
RULE_OPS = ("vcpus", "property", "machine", "constant", "pcie-port")


def build_release(data: dict[str, Any], chk: Checker, path: str = "$",
                  release_id: str | None = None) -> Release | None:
    chk.keys(data, path, RELEASE_KEYS)
    rid = chk.typed(data, "id", path, (str,)) or release_id or ""
    if release_id is not None and rid != release_id:
        chk.add(path_key(path, "id"), "id-mismatch",
                f"release file has id '{rid}' but the catalog lists it as '{release_id}'", rid)
    enums = _enums(data, chk, path)
    types = _types(data, chk, path, enums)
    tables = load_tables(data, chk, path)
    families = load_families(data, chk, path, tables)
    machines = load_machines(data, chk, path, tables, families)
    registry = TypeRegistry(types.values())
    _check_types(registry, chk, path)
    vmstate = load_vmstate(data, chk, path)
    board = load_board(data, chk, path, vmstate)
    return Release(
        id=rid,
        types=registry,
        machines=MachineSet(machines, families, tables),
        product=chk.typed(data, "product", path, (str,), "qemu"),
        version=chk.typed(data, "version", path, (str,), ""),
        debian_version=chk.typed(data, "debian_version", path, (str,), ""),
        description=chk.typed(data, "description", path, (str,), ""),
        origin=chk.typed(data, "origin", path, (str,), ""),
        file=chk.file,
        enums=enums,
        vmstate=vmstate,
        board=board,
    )


def _enums(data: dict[str, Any], chk: Checker, path: str) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {"OnOffAuto": ON_OFF_AUTO}
    raw = chk.table(data.get("enums", {}), path_key(path, "enums")) or {}
    for name, values in raw.items():
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            chk.add(path_key(path_key(path, "enums"), name), "wrong-type",
                    "an enum must be a list of strings", values)
            continue
        out[name] = tuple(values)
    return out


def _types(data: dict[str, Any], chk: Checker, path: str,
           enums: dict[str, tuple[str, ...]]) -> dict[str, TypeInfo]:
    out: dict[str, TypeInfo] = {}
    # Whether the release's real build has a type: the type's own `built`, else the
    # release's `built_default`, else unknown (None).
    built_default = chk.typed(data, "built_default", path, (bool,))
    for name, p, body in chk.tables(data, path, "types"):
        chk.keys(body, p, TYPE_KEYS)
        props: dict[str, Property] = {}
        praw = chk.table(body.get("properties", {}), path_key(p, "properties")) or {}
        for pname, pbody in praw.items():
            prop = _property(pname, pbody, chk, path_key(path_key(p, "properties"), pname),
                             enums)
            if prop is not None:
                props[pname] = prop
        child = None
        if "child" in body:
            cp = path_key(p, "child")
            cbody = chk.table(body["child"], cp)
            if cbody is not None:
                chk.keys(cbody, cp, ("name", "type"), ("name", "type"))
                if isinstance(cbody.get("name"), str) and isinstance(cbody.get("type"), str):
                    child = Child(cbody["name"], cbody["type"])
        rules = _rules(body.get("realize", []), chk, path_key(p, "realize"))
        inits = _inits(body.get("init", []), chk, path_key(p, "init"))
        gv = body.get("guest_visible")
        eo = body.get("express_only")
        out[name] = TypeInfo(
            name=name,
            parent=chk.typed(body, "parent", p, (str, type(None))),
            interfaces=tuple(chk.str_list(body, "interfaces", p)),
            abstract=chk.typed(body, "abstract", p, (bool,), False),
            properties=props,
            child=child,
            realize=tuple(rules),
            init=tuple(inits),
            guest_visible=frozenset(chk.str_list(body, "guest_visible", p))
            if gv is not None else None,
            express_only=frozenset(chk.str_list(body, "express_only", p))
            if eo is not None else frozenset(),
            guest_only=frozenset(chk.str_list(body, "guest_only", p))
            if body.get("guest_only") is not None else frozenset(),
            vmsd=chk.typed(body, "vmsd", p, (str,)),
            built=chk.typed(body, "built", p, (bool,), built_default),
            file=chk.typed(body, "file", p, (str,), ""),
            line=chk.typed(body, "line", p, (int,), 0),
        )
    return out


def _property(name: str, body: Any, chk: Checker, p: str,
              enums: dict[str, tuple[str, ...]]) -> Property | None:
    body = chk.table(body, p)
    if body is None:
        return None
    chk.keys(body, p, PROP_KEYS, ("kind",))
    kind = chk.typed(body, "kind", p, (str,))
    if kind is None:
        return None
    if kind not in ALL_KINDS:
        chk.add(path_key(p, "kind"), "unknown-kind", f"unknown property kind '{kind}'", kind,
                did_you_mean(kind, sorted(ALL_KINDS)))
        return None
    values: tuple[str, ...] = ()
    enum_name = ""
    if kind == "enum":
        if "values" in body:
            values = tuple(chk.str_list(body, "values", p))
        else:
            enum_name = chk.typed(body, "enum", p, (str,), "")
            if enum_name not in enums:
                chk.add(path_key(p, "enum"), "unknown-enum",
                        f"enum '{enum_name}' is not defined in this release's enums",
                        enum_name, did_you_mean(enum_name, enums))
            values = enums.get(enum_name, ())
    elif kind == "OnOffAuto":
        values = ON_OFF_AUTO
    has_default = "default" in body
    default: Value = None
    if has_default:
        raw = body["default"]
        try:
            default = _typed_default(kind, name, raw, values)
        except PropertyValueError as exc:
            chk.add(path_key(p, "default"), "bad-default",
                    f"default {raw!r} is not a valid {kind}: {exc}", raw)
            return None
    return Property(
        name=name, kind=kind, default=default, has_default=has_default,
        enum_values=values, enum_name=enum_name,
        word=chk.typed(body, "word", p, (str,), ""),
        bit=_bit(chk, body, p),
        unresolved=chk.typed(body, "unresolved", p, (str,), ""),
        qapi_type=chk.typed(body, "qapi_type", p, (str,), ""),
        link_type=chk.typed(body, "link_type", p, (str,), ""),
        file=chk.typed(body, "file", p, (str,), ""),
        line=chk.typed(body, "line", p, (int,), 0),
        equivalent=_equivalent(kind, body, chk, p),
        equivalent_why=chk.typed(body, "equivalent_why", p, (str,), ""),
    )


def _equivalent(kind: str, body: dict[str, Any], chk: Checker,
                p: str) -> tuple[tuple[Value, ...], ...]:
    """``equivalent = [[1, -1], ...]``: groups of at least two values of the kind's JSON type
    (int, bool or str). The range is not checked: a group may name the value another release
    gives the property under another kind (rombar is uint32 up to 9.x, int32 from 10.0)."""
    raw = body.get("equivalent")
    if raw is None:
        return ()
    ep = path_key(p, "equivalent")
    if not isinstance(raw, list):
        chk.add(ep, "wrong-type", f"expected a list of value lists, got {type(raw).__name__}",
                raw)
        return ()
    want: tuple[type, ...] = (
        (bool,) if kind in ("bool", "bit", "bit64") else
        (str,) if kind in ("str", "link", "enum", "OnOffAuto") else (int,))
    groups: list[tuple[Value, ...]] = []
    for i, group in enumerate(raw):
        gp = f"{ep}[{i}]"
        if not isinstance(group, list) or len(group) < 2:
            chk.add(gp, "bad-equivalent", "an equivalence group is a list of at least two "
                    "values", group)
            continue
        bad = [v for v in group if not isinstance(v, want) or (
            want == (int,) and isinstance(v, bool))]
        if bad:
            chk.add(gp, "bad-equivalent", f"values {bad!r} are not of kind {kind}'s type "
                    f"({want[0].__name__})", group)
            continue
        groups.append(tuple(group))
    return tuple(groups)


def _bit(chk: Checker, body: dict[str, Any], p: str) -> int:
    # null: the bit number is not a constant the importer could see ("unresolved" says why)
    raw = chk.typed(body, "bit", p, (int, type(None)), None)
    return -1 if raw is None else int(raw)


def _typed_default(kind: str, name: str, raw: object, values: tuple[str, ...]) -> Value:
    """Defaults may be typed (JSON true, 65535) or QEMU text ("on", "0x10", "64M")."""
    if isinstance(raw, str):
        return parse_value(kind, name, raw, values)
    if isinstance(raw, bool):
        if kind in ("bool", "bit", "bit64"):
            return raw
    elif isinstance(raw, int):
        if kind == "array" and raw >= 0:
            return raw  # the array's length (QEMU's len-PROP counter, 0 by default)
        if kind not in ("bool", "bit", "bit64", "str", "link", "enum", "OnOffAuto"):
            return parse_value(kind, name, str(raw), values)
    elif raw is None and kind in ("str", "link", "array"):
        return None
    elif isinstance(raw, list) and kind == "array":
        return tuple(raw)  # list properties (QEMU >= 8.2) default to []
    raise PropertyValueError(f"wrong type {type(raw).__name__} for kind {kind}", name)


def _list_of_tables(raw: Any, chk: Checker, p: str, what: str
                    ) -> Iterator[tuple[str, dict[str, Any]]]:
    """The tables of a list, each with its path; anything else is reported."""
    if not isinstance(raw, list):
        chk.add(p, "wrong-type", f"{what} must be a list", raw)
        return
    for i, body in enumerate(raw):
        table = chk.table(body, f"{p}[{i}]")
        if table is not None:
            yield f"{p}[{i}]", table


def _rules(raw: Any, chk: Checker, p: str) -> list[RealizeRule]:
    rules = []
    for rp, body in _list_of_tables(raw, chk, p, "realize (rules)"):
        unset = chk.typed(body, "unset", rp, (bool,), False)
        always = chk.typed(body, "always", rp, (bool,), False)
        chk.keys(body, rp, RULE_KEYS,
                 ("property", "op") if unset or always else ("property", "when", "op"))
        op = body.get("op")
        if op not in RULE_OPS:
            chk.add(path_key(rp, "op"), "bad-rule", f"unknown realize op {op!r}", op,
                    did_you_mean(str(op), RULE_OPS))
            continue
        if op in ("property", "machine") and not isinstance(body.get("source"), str):
            chk.add(rp, "bad-rule", f"a '{op}' rule needs 'source' (a property or field name)")
            continue
        if op == "constant" and "value" not in body:
            chk.add(rp, "bad-rule", "a 'constant' rule needs 'value'")
            continue
        if op == "pcie-port" and not ("value" in body and "otherwise" in body):
            chk.add(rp, "bad-rule", "a 'pcie-port' rule needs 'value' and 'otherwise'")
            continue
        require = chk.table(body.get("if", {}), path_key(rp, "if")) or {}
        if not all(isinstance(v, bool | int | str) for v in require.values()):
            chk.add(path_key(rp, "if"), "bad-rule", "'if' values must be strings, integers "
                    "or booleans", require)
            continue
        rules.append(RealizeRule(
            prop=str(body.get("property", "")), when=body.get("when"), op=op,
            cap=chk.typed(body, "cap", rp, (int,), 0),
            source=chk.typed(body, "source", rp, (str,), ""),
            add=chk.typed(body, "add", rp, (int,), 0), value=body.get("value"),
            otherwise=body.get("otherwise"), unset=unset,
            always=always, require=tuple(require.items()),
            bus=chk.typed(body, "bus", rp, (str,), ""),
            floor=chk.typed(body, "floor", rp, (int,)),
            file=chk.typed(body, "file", rp, (str,), ""),
            line=chk.typed(body, "line", rp, (int,), 0)))
    return rules


def _inits(raw: Any, chk: Checker, p: str) -> list[InitValue]:
    out = []
    for ip, body in _list_of_tables(raw, chk, p, "init (of {property, value})"):
        chk.keys(body, ip, ("property", "value"), ("property", "value"))
        prop = chk.typed(body, "property", ip, (str,))
        value = chk.typed(body, "value", ip, (str, int, bool))
        if prop is not None and value is not None:
            out.append(InitValue(prop, value))
    return out


def _check_types(registry: TypeRegistry, chk: Checker, path: str) -> None:
    tpath = path_key(path, "types")
    names = registry.names()
    for name in names:
        info = registry[name]
        p = path_key(tpath, name)
        if info.parent is not None and info.parent not in registry:
            chk.add(path_key(p, "parent"), "unknown-type",
                    f"parent type '{info.parent}' is not defined", info.parent,
                    did_you_mean(info.parent, names))
        for i, iface in enumerate(info.interfaces):
            if iface not in registry:
                chk.add(f"{path_key(p, 'interfaces')}[{i}]", "unknown-type",
                        f"interface '{iface}' is not defined", iface,
                        did_you_mean(iface, names))
        if info.child is not None and info.child.type not in registry:
            chk.add(path_key(path_key(p, "child"), "type"), "unknown-type",
                    f"child type '{info.child.type}' is not defined", info.child.type,
                    did_you_mean(info.child.type, names))
        if name in registry.ancestors(name)[1:] or _cycles(registry, name):
            chk.add(path_key(p, "parent"), "parent-cycle", f"type '{name}' is its own ancestor")


def _cycles(registry: TypeRegistry, name: str) -> bool:
    seen: set[str] = set()
    current: str | None = name
    while current is not None:
        if current in seen:
            return current == name
        seen.add(current)
        info = registry.get(current)
        current = info.parent if info else None
    return False
