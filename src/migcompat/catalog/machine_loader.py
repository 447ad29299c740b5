"""The machine-type parts of a release: compat tables, families and machine types."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from migcompat.catalog.checker import Checker, did_you_mean, path_key
from migcompat.model.globals import GlobalProperty
from migcompat.model.machines import CompatTable, Family, MachineType, version_key

TABLE_KEYS = ("file", "line", "entries")
ENTRY_KEYS = ("driver", "property", "value", "optional", "file", "line")
FAMILY_KEYS = ("defaults", "sugar", "file", "line", "desc")
MACHINE_KEYS = ("family", "version", "compat", "alias", "default", "deprecated", "desc",
                "file", "line", "fields")


def _entry(body: Any, chk: Checker, p: str, table: str, index: int,
           tfile: str) -> GlobalProperty | None:
    body = chk.table(body, p)
    if body is None:
        return None
    chk.keys(body, p, ENTRY_KEYS, ("driver", "property", "value"))
    driver = chk.typed(body, "driver", p, (str,))
    prop = chk.typed(body, "property", p, (str,))
    value = chk.typed(body, "value", p, (str,))
    if driver is None or prop is None or value is None:
        return None
    return GlobalProperty(driver, prop, value,
                          optional=chk.typed(body, "optional", p, (bool,), False),
                          source="compat", table=table, index=index,
                          file=chk.typed(body, "file", p, (str,), tfile),
                          line=chk.typed(body, "line", p, (int,), 0))


def load_tables(data: dict[str, Any], chk: Checker, path: str) -> dict[str, CompatTable]:
    out: dict[str, CompatTable] = {}
    for name, p, body in chk.tables(data, path, "compat_tables"):
        chk.keys(body, p, TABLE_KEYS, ("entries",))
        tfile = chk.typed(body, "file", p, (str,), "")
        entries_raw = chk.typed(body, "entries", p, (list,), [])
        entries = [e for i, b in enumerate(entries_raw)
                   if (e := _entry(b, chk, f"{path_key(p, 'entries')}[{i}]", name, i, tfile))]
        out[name] = CompatTable(name, tuple(entries), tfile,
                                chk.typed(body, "line", p, (int,), 0))
    return out


def load_families(data: dict[str, Any], chk: Checker, path: str,
              tables: dict[str, CompatTable]) -> dict[str, Family]:
    out: dict[str, Family] = {}
    for name, p, body in chk.tables(data, path, "families"):
        chk.keys(body, p, FAMILY_KEYS)
        defaults = chk.str_list(body, "defaults", p)
        for i, t in enumerate(defaults):
            if t not in tables:
                chk.add(f"{path_key(p, 'defaults')}[{i}]", "unknown-table",
                        f"unknown compat table '{t}'", t, did_you_mean(t, tables))
        sugar_raw = chk.typed(body, "sugar", p, (list,), [])
        sugar = []
        for i, b in enumerate(sugar_raw):
            e = _entry(b, chk, f"{path_key(p, 'sugar')}[{i}]", "", -1, "")
            if e is not None:
                sugar.append(replace(e, source="sugar", table="", index=-1))
        out[name] = Family(name, tuple(defaults), tuple(sugar),
                           chk.typed(body, "file", p, (str,), ""),
                           chk.typed(body, "line", p, (int,), 0))
    return out


def load_machines(data: dict[str, Any], chk: Checker, path: str, tables: dict[str, CompatTable],
              families: dict[str, Family]) -> list[MachineType]:
    out: list[MachineType] = []
    mpath = path_key(path, "machines")
    for name, p, body in chk.tables(data, path, "machines"):
        chk.keys(body, p, MACHINE_KEYS, ("family", "version"))
        family = chk.typed(body, "family", p, (str,), "")
        if family and family not in families:
            chk.add(path_key(p, "family"), "unknown-family", f"unknown family '{family}'",
                    family, did_you_mean(family, families))
        version = chk.typed(body, "version", p, (str,), "")
        if version and not version_key(version):
            chk.add(path_key(p, "version"), "bad-version",
                    f"version '{version}' is not dotted numbers", version)
        compat = chk.str_list(body, "compat", p)
        for i, t in enumerate(compat):
            if t not in tables:
                chk.add(f"{path_key(p, 'compat')}[{i}]", "unknown-table",
                        f"unknown compat table '{t}'", t, did_you_mean(t, tables))
        out.append(MachineType(
            name=name, family=family, version=version, compat=tuple(compat),
            alias=chk.typed(body, "alias", p, (str, type(None))),
            is_default=chk.typed(body, "default", p, (bool,), False),
            deprecated=chk.typed(body, "deprecated", p, (str, type(None))),
            desc=chk.typed(body, "desc", p, (str,), ""),
            file=chk.typed(body, "file", p, (str,), ""),
            line=chk.typed(body, "line", p, (int,), 0),
            fields=_fields(body, chk, p)))
    names = {m.name for m in out}
    aliases: dict[str, str] = {}
    for m in out:
        if m.alias is None:
            continue
        if m.alias in names or m.alias in aliases:
            chk.add(path_key(path_key(mpath, m.name), "alias"), "duplicate-alias",
                    f"alias '{m.alias}' is already used", m.alias)
        aliases[m.alias] = m.name
    defaults = [m.name for m in out if m.is_default]
    if out and len(defaults) != 1:
        chk.add(mpath, "default-count",
                f"exactly one machine type must be the default, found {len(defaults)}"
                + (f": {', '.join(defaults)}" if defaults else ""), defaults)
    return out


def _fields(body: dict[str, Any], chk: Checker, p: str) -> dict[str, bool | int | str]:
    raw = chk.table(body.get("fields", {}), path_key(p, "fields")) or {}
    out: dict[str, bool | int | str] = {}
    for name, value in raw.items():
        if isinstance(value, bool | int | str):
            out[name] = value
        else:
            chk.add(path_key(path_key(p, "fields"), name), "wrong-type",
                    "a machine field must be a string, integer or boolean", value)
    return out
