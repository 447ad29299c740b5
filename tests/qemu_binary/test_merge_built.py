"""The probe merge marks the import's types the binary does not have (`built: false`) and
says that every other type is built (`built_default: true`)."""

from __future__ import annotations

import copy
from typing import Any

from migcompat.qemu.binary.merge import merge_probe, release_of


def release(types: dict[str, Any], origin: str) -> dict[str, Any]:
    base: dict[str, Any] = {"device": {"abstract": True}}
    out = {}
    for name, body in {**base, **types}.items():
        out[name] = {"parent": None, "interfaces": [], "abstract": False, "properties": {},
                     **body}
    return {"format": 1, "id": "7.2", "product": "qemu", "version": "7.2.0",
            "debian_version": "1:7.2+dfsg-1", "origin": origin, "enums": {},
            "types": out, "compat_tables": {}, "families": {"pc-i440fx": {"defaults": []}},
            "machines": {"pc-i440fx-7.2": {"family": "pc-i440fx", "version": "7.2",
                                           "compat": [], "default": True}}}


def source() -> dict[str, Any]:
    return release({
        "sys-bus-device": {"parent": "device", "abstract": True},
        "arm-gic-common": {"parent": "sys-bus-device", "abstract": True},  # abstract, ARM
        "arm-gic": {"parent": "arm-gic-common"},
        "pvpanic": {"parent": "device", "abstract": True},
        "pvpanic-isa": {"parent": "pvpanic"},
    }, "import-source")


def probe() -> dict[str, Any]:
    return release({
        "sys-bus-device": {"parent": "device", "abstract": True},
        "pvpanic": {"parent": "device", "abstract": True},
        "pvpanic-isa": {"parent": "pvpanic"},
        "qemu64-x86_64-cpu": {},  # only in the binary: not added
    }, "probe")


def test_types_only_in_the_import_are_marked_not_built() -> None:
    src, prb = source(), probe()
    before = copy.deepcopy((src, prb))
    merged, report = merge_probe(src, prb)
    assert (src, prb) == before
    marked = {n: t["built"] for n, t in merged["types"].items() if "built" in t}
    assert marked == {"arm-gic-common": False, "arm-gic": False}
    assert merged["built_default"] is True
    assert "qemu64-x86_64-cpu" not in merged["types"]
    assert report.not_merged["types only in the import"][0] == 2


def test_the_merged_release_loads_with_built_known() -> None:
    merged, _ = merge_probe(source(), probe())
    types = release_of(merged).types
    assert {n: types.built(n) for n in types.names()} == {
        "arm-gic": False, "arm-gic-common": False, "device": True, "pvpanic": True,
        "pvpanic-isa": True, "sys-bus-device": True}
    unmerged = release_of(source()).types
    assert {unmerged.built(n) for n in unmerged.names()} == {None}


def test_nothing_marked_when_the_binary_has_every_type() -> None:
    src = source()
    merged, report = merge_probe(src, release({n: t for n, t in src["types"].items()
                                               if n != "device"}, "probe"))
    assert not any("built" in t for t in merged["types"].values())
    assert merged["built_default"] is True
    assert "types only in the import" not in report.not_merged
