"""Build small releases from dicts for model tests."""

from __future__ import annotations

from typing import Any

from migcompat.catalog.checker import Checker
from migcompat.catalog.release_loader import build_release
from migcompat.model.release import Release

BASE_TYPES: dict[str, Any] = {
    "device": {"abstract": True},
    "interface": {"abstract": True},
    "hotplug-iface": {"parent": "interface", "abstract": True},
    "bus-device": {"parent": "device", "abstract": True,
                   "properties": {"x-bus": {"kind": "bool", "default": True}}},
    "widget": {"parent": "bus-device", "interfaces": ["hotplug-iface"],
               "properties": {"level": {"kind": "uint32", "default": 1},
                              "mode": {"kind": "OnOffAuto", "default": "auto"}}},
    "widget-pro": {"parent": "widget",
                   "properties": {"turbo": {"kind": "bool", "default": False}}},
    "backend": {"parent": "device",
                "properties": {"queues": {"kind": "uint16", "default": 65535},
                               "depth": {"kind": "uint16", "default": 8}}},
    "proxy": {"parent": "bus-device", "child": {"name": "virtio-backend", "type": "backend"},
              "properties": {"vectors": {"kind": "uint32", "default": 4294967295}},
              "realize": [
                  {"property": "queues", "when": 65535, "op": "vcpus", "cap": 16},
                  {"property": "vectors", "when": 4294967295, "op": "property",
                   "source": "queues", "add": 1}]},
}


def make_release(types: dict[str, Any] | None = None, tables: dict[str, Any] | None = None,
                 machines: dict[str, Any] | None = None,
                 families: dict[str, Any] | None = None) -> Release:
    data: dict[str, Any] = {
        "id": "test",
        "types": types if types is not None else BASE_TYPES,
        "compat_tables": tables or {},
        "families": families or {"pc": {"defaults": []}},
        "machines": machines or {"pc-1.0": {"family": "pc", "version": "1.0",
                                            "compat": list((tables or {}).keys()),
                                            "default": True}},
    }
    chk = Checker("test.json")
    rel = build_release(data, chk)
    assert not chk.problems, [p.format() for p in chk.problems]
    assert rel is not None
    return rel


def entry(driver: str, prop: str, value: str, optional: bool = False) -> dict[str, Any]:
    return {"driver": driver, "property": prop, "value": value, "optional": optional}
