"""The overlay merge and the bundled overlay.toml (no QEMU needed)."""

from __future__ import annotations

from typing import Any

import pytest

from migcompat.catalog.checker import Checker
from migcompat.catalog.load import open_catalog, read_data
from migcompat.catalog.release_loader import build_release
from migcompat.errors import UsageError
from migcompat.qemu.binary.crosscheck.qom import same_value
from migcompat.qemu.overlay import OVERLAY_PATH, apply_overlay, load_overlay

RELEASE: dict[str, Any] = {
    "id": "7.2",
    "types": {
        "device": {"abstract": True},
        "blk": {"parent": "device", "properties": {"q": {"kind": "uint16", "default": 65535}},
                "realize": [{"property": "q", "when": 1, "op": "constant", "value": 2}]},
    },
    "families": {"pc": {}},
    "machines": {"pc-1.0": {"family": "pc", "version": "1.0", "default": True}},
}


def test_merge_is_deep_lists_replace_and_absent_things_are_skipped() -> None:
    overlay = {
        "format": 1,
        "types": {
            "blk": {"realize": [{"property": "q", "when": 65535, "op": "vcpus", "cap": 8}],
                    "properties": {"bootindex": {"kind": "int32", "default": -1}}},
            "absent-in-this-release": {"properties": {"x": {"kind": "bool"}}},
        },
        "machines": {"pc-1.0": {"fields": {"hw_version": "1.0.0"}}, "pc-9.9": {}},
        "releases": {"7.2": {"types": {"blk": {"guest_visible": ["q"]}}},
                     "5.2": {"types": {"blk": {"abstract": True}}}},
    }
    out = apply_overlay(RELEASE, overlay)
    blk = out["types"]["blk"]
    assert blk["realize"] == [{"property": "q", "when": 65535, "op": "vcpus", "cap": 8}]
    assert set(blk["properties"]) == {"q", "bootindex"}
    assert blk["guest_visible"] == ["q"]
    assert "abstract" not in blk  # the 5.2 part is not for 7.2
    assert "absent-in-this-release" not in out["types"]
    assert set(out["machines"]) == {"pc-1.0"}
    assert out["machines"]["pc-1.0"]["fields"] == {"hw_version": "1.0.0"}
    assert "format" not in out and "releases" not in out
    assert RELEASE["types"]["blk"]["realize"][0]["when"] == 1  # the input is not changed


def test_bundled_overlay_loads_and_merges_into_a_valid_release() -> None:
    overlay = load_overlay()
    assert overlay["format"] == 1
    # Every type the overlay names, as an empty shell, so that everything merges.
    types: dict[str, Any] = {"device": {"abstract": True}}
    for name, body in overlay.get("types", {}).items():
        types.setdefault(name, {"parent": "device"})
        # a property the overlay only adds keys to (rombar's equivalent) exists in releases
        extended = {p: {"kind": "int32"} for p, entry in body.get("properties", {}).items()
                    if "kind" not in entry}
        if extended:
            types[name]["properties"] = extended
    for body in overlay.get("types", {}).values():
        if "child" in body:
            types.setdefault(body["child"]["type"], {"parent": "device"})
    # the unversioned machines (isapc, microvm, none) are their own family, version "0"
    shape = {m: (m.rsplit("-", 1) if "-" in m else [m, "0"]) for m in overlay.get("machines", {})}
    data = {"id": "7.2", "types": types,
            "families": {family: {} for family, _ in shape.values()},
            "machines": {m: {"family": family, "version": version,
                             "default": m == "pc-i440fx-1.4"}
                         for m, (family, version) in shape.items()}}
    merged = apply_overlay(data, overlay)
    chk = Checker(str(OVERLAY_PATH))
    build_release(merged, chk)
    # Properties a rule names may be missing from these shells; nothing else may fail.
    assert [p.format() for p in chk.problems] == []


def test_unknown_overlay_format(tmp_path: Any) -> None:
    path = tmp_path / "o.toml"
    path.write_text("format = 2\n")
    with pytest.raises(UsageError):
        load_overlay(path)


@pytest.mark.parametrize("model, kind, qemu, same", [
    (True, "bool", True, True), (True, "bit", False, False),
    ("on", "str", True, True), (None, "str", "", True), ("", "str", "", True),
    (16, "uint32", 16, True), ("0x10", "str", 16, True), (True, "bool", "on", True),
    (False, "bool", "true", False), (4096, "size", 4096, True), (1, "bool", True, False),
    ("auto", "OnOffAuto", "auto", True), ("off", "OnOffAuto", "auto", False),
    ((), "array", [], True), (("a:b",), "array", ["a:b"], True), ((), "array", ["x"], False),
    (None, "array", [], True),
])
def test_spelling_normalisation(model: Any, kind: str, qemu: Any, same: bool) -> None:
    assert same_value(model, kind, qemu) is same


@pytest.mark.parametrize("rid", ["5.2", "7.2", "10.0", "10.2"])
def test_bundled_catalogs_include_the_overlay(rid: str) -> None:
    """Built by tools/build_catalogs.py with the current overlay.toml (merging it again
    changes nothing)."""
    cat = open_catalog("qemu")
    data = read_data(cat.refs[rid].file)
    assert "overlay" in str(data.get("origin")), (
        f"{rid}.json was built without overlay.toml (origin {data.get('origin')!r}): "
        "run tools/build_catalogs.py")
    assert apply_overlay(data, load_overlay()) == data, (
        f"{rid}.json predates the current overlay.toml: run tools/build_catalogs.py")
