"""Equivalent property values (``equivalent`` in docs/catalog-format.md): a difference between
values the catalog declares equivalent is reported by `check` but never breaks."""

from __future__ import annotations

import json
from typing import Any

import pytest

from builders import BASE_TYPES, make_release
from migcompat.analysis.check import check
from migcompat.catalog.checker import Checker
from migcompat.catalog.load import open_catalog
from migcompat.catalog.release_loader import build_release
from migcompat.model.devspec import parse_device
from migcompat.model.vm import VMConfig

WHY = "QEMU tests it for zero only"


def types(level: dict[str, Any], visible: list[str] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(json.dumps(BASE_TYPES))
    out["widget"]["properties"]["level"] = level
    if visible is not None:
        out["widget"]["guest_visible"] = visible
    return out


def run(old_level: dict[str, Any], new_level: dict[str, Any], *opts: str,
        visible: list[str] | None = None) -> Any:
    old = make_release(types=types(old_level, visible))
    new = make_release(types=types(new_level, visible))
    src = [parse_device(",".join(("widget,id=w", *opts)))]
    # the builder's releases have no device-state schemas: the property rules alone
    return check(VMConfig(old, "pc-1.0", src), VMConfig(new, "pc-1.0", src), section_rules=())


OLD = {"kind": "uint32", "default": 1, "equivalent": [[1, -1]], "equivalent_why": WHY}
NEW = {"kind": "int32", "default": -1, "equivalent": [[1, -1]], "equivalent_why": WHY}


@pytest.mark.parametrize("visible", [None, ["level"]])
def test_a_difference_within_a_group_is_reported_but_not_breaking(
        visible: list[str] | None) -> None:
    res = run(OLD, NEW, visible=visible)
    assert res.compatible
    [r] = res.reasons
    assert (r.code, r.property, r.breaking) == ("property-differs", "level", False)
    assert r.message.endswith(f"equivalent values ({WHY})")
    assert r.detail["equivalent"] == {"values": [1, -1], "why": WHY}
    assert r.to_json()["equivalent"]["why"] == WHY


def test_one_side_declaring_the_group_is_enough() -> None:
    bare = {"kind": "uint32", "default": 1}
    assert run(bare, NEW).compatible
    assert run(OLD, {"kind": "int32", "default": -1}).compatible


def test_values_outside_the_group_still_break() -> None:
    res = run(OLD, NEW, "level=0")  # the same option on both sides: equal
    assert res.compatible and res.reasons == []
    old = make_release(types=types(OLD))
    new = make_release(types=types(NEW))
    res = check(VMConfig(old, "pc-1.0", [parse_device("widget,id=w,level=0")]),
                VMConfig(new, "pc-1.0", [parse_device("widget,id=w")]))
    [r] = res.breaking()
    assert (r.code, r.property) == ("property-differs", "level")
    assert "equivalent" not in r.detail


@pytest.mark.parametrize(("equivalent", "why"), [
    ([[1]], "at least two values"),
    ([1, -1], "at least two values"),
    ("1,-1", "expected a list"),
    ([[1, "x"]], "not of kind uint32's type"),
    ([[True, 1]], "not of kind uint32's type"),
])
def test_bad_groups_are_catalog_problems(equivalent: Any, why: str) -> None:
    data = {"id": "t", "types": types({"kind": "uint32", "default": 1,
                                        "equivalent": equivalent}),
            "compat_tables": {}, "families": {"pc": {"defaults": []}},
            "machines": {"pc-1.0": {"family": "pc", "version": "1.0", "compat": [],
                                    "default": True}}}
    chk = Checker("t.json")
    build_release(data, chk)
    assert {p.code for p in chk.problems} in ({"bad-equivalent"}, {"wrong-type"})
    assert why in chk.problems[0].message


def test_bool_values_are_not_ints() -> None:
    rel = make_release(types=types({"kind": "uint32", "default": 1, "equivalent": [[1, 2]]}))
    prop = rel.types.properties("widget")["level"]
    assert prop.equivalent_group(1, 2) == (1, 2)
    assert prop.equivalent_group(True, 2) is None


def test_real_catalog_rombar_1_and_auto_are_the_same_e1000() -> None:
    cat = open_catalog("qemu")
    dev = [parse_device("e1000,id=n")]
    res = check(VMConfig(cat.release("7.2"), "pc-q35-5.1", dev),
                VMConfig(cat.release("10.0"), "pc-q35-5.1", dev))
    [rombar] = [r for r in res.reasons if r.property == "rombar"]
    assert not rombar.breaking and rombar.detail["equivalent"]["values"] == [1, -1]
    assert all(r.code != "property-differs" or not r.breaking for r in res.reasons)
    for rid in ("5.2", "7.2", "10.0", "10.2"):
        prop = cat.release(rid).types.properties("e1000")["rombar"]
        assert prop.equivalent == ((1, -1),), rid
