"""probe's pure parts on hand-made QMP replies (no QEMU): compat lists along the version
chain, machine families, property attribution and kinds."""

from __future__ import annotations

from typing import Any

from migcompat.catalog.checker import Checker
from migcompat.catalog.release_loader import build_release
from migcompat.qemu.binary.device_props import DeviceProps, enum_values, kind_of
from migcompat.qemu.binary.probe import _machines


class FakeSession:
    def __init__(self, replies: dict[str, Any]) -> None:
        self.replies = replies
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def cmd(self, name: str, **args: Any) -> Any:
        self.calls.append((name, args))
        return self.replies[name]


def entry(d: str, p: str, v: str) -> dict[str, str]:
    return {"qom-type": d, "property": p, "value": v}


DEFAULTS = [entry("pcie-root-port", "x-aw", "39")]
HW_5_2 = [entry("virtio-net-pci-base", "vectors", "3")]
HW_5_1 = [entry("virtio-blk-device", "num-queues", "1")]
MACHINES = [
    {"name": "pc-q35-6.0", "alias": "q35", "compat-props": DEFAULTS},
    {"name": "pc-q35-5.2", "compat-props": DEFAULTS + HW_5_2},
    {"name": "pc-q35-5.1", "deprecated": True, "compat-props": DEFAULTS + HW_5_2 + HW_5_1},
    {"name": "pc-i440fx-6.0", "is-default": True, "alias": "pc", "compat-props": []},
    {"name": "none", "compat-props": []},
]


def test_compat_lists_split_along_the_chain() -> None:
    session = FakeSession({"query-machines": MACHINES})
    warnings: list[str] = []
    out = _machines(session, (9, 1), None, warnings, None)  # type: ignore[arg-type]
    assert session.calls == [("query-machines", {"compat-props": True})]
    assert warnings == []
    assert out["families"]["pc-q35"] == {"defaults": ["pc-q35-defaults"]}
    assert out["compat_tables"]["pc-q35-5.1"]["entries"] == [
        {"driver": "virtio-blk-device", "property": "num-queues", "value": "1"}]
    m = out["machines"]
    assert m["pc-q35-5.1"]["compat"] == ["pc-q35-5.1"] and m["pc-q35-6.0"]["compat"] == []
    assert m["none"] == {"family": "none", "version": "0", "compat": []}
    assert m["pc-q35-5.1"]["deprecated"].startswith("deprecated")
    # The model rebuilds QEMU's cumulative lists from the split.
    chk = Checker("probe")
    rel = build_release({"id": "9.1", "types": {}, **out}, chk)
    assert chk.problems == [] and rel is not None
    got = [(e.driver, e.property, e.value)
           for e in rel.machines.compat_list(rel.machines.resolve("pc-q35-5.1"))]
    assert got == [(e["qom-type"], e["property"], e["value"])
                   for e in DEFAULTS + HW_5_2 + HW_5_1]


def test_old_qemu_has_no_compat_lists_and_filter_keeps_the_default() -> None:
    session = FakeSession({"query-machines": MACHINES})
    out = _machines(session, (7, 2), ["pc-q35-5.1"], [], None)  # type: ignore[arg-type]
    assert session.calls == [("query-machines", {})]
    assert set(out["machines"]) == {"pc-q35-5.1", "pc-i440fx-6.0"}
    assert out["compat_tables"] == {}


def test_kinds_and_enum_values() -> None:
    enums: dict[str, list[str]] = {}
    assert kind_of("uint16", None, enums) == {"kind": "uint16"}
    assert kind_of("link<iothread>", None, enums)["kind"] == "link"
    assert kind_of("int", None, enums) == {"kind": "int64", "qapi_type": "int"}
    werror = kind_of("BlockdevOnError", "Error handling policy, report/ignore/stop", enums)
    assert werror == {"kind": "enum", "enum": "BlockdevOnError"}
    assert enums == {"BlockdevOnError": ["report", "ignore", "stop"]}
    assert kind_of("QemuUUID", None, enums) == {"kind": "str", "qapi_type": "QemuUUID"}
    assert enum_values("1/2/4/8") == ["1", "2", "4", "8"]
    assert enum_values("Slot and optional function number, example: 06.0 or 06") is None


def test_attribution_defaults_overrides_and_aliases() -> None:
    parents = {"device": None, "base": "device", "a": "base", "b": "base", "proxy": "device",
               "backend": "device"}
    props = DeviceProps(parents, {"device", "base"})
    props.add("base", [{"name": "level", "type": "uint32"}, {"name": "type", "type": "string"}])
    props.add("a", [{"name": "level", "type": "uint32", "default-value": 1},
                    {"name": "bootindex", "type": "int32"}])
    props.add("b", [{"name": "level", "type": "uint32", "default-value": 2}])
    props.add("backend", [{"name": "queues", "type": "uint16", "default-value": 65535}])
    props.add("proxy", [{"name": "virtio-backend", "type": "child<backend>"},
                        {"name": "queues", "type": "uint16", "default-value": 65535},
                        {"name": "vectors", "type": "uint32", "default-value": 3}])
    children = props.children({"device", "base", "a", "b", "proxy", "backend"})
    assert children == {"proxy": {"name": "virtio-backend", "type": "backend"}}
    got = props.attribute(children)
    assert got["base"] == {"level": {"kind": "uint32", "default": 1}}
    assert got["b"] == {"level": {"kind": "uint32", "default": 2}}  # an override
    assert got["a"] == {"bootindex": {"kind": "int32"}}
    assert got["proxy"] == {"vectors": {"kind": "uint32", "default": 3}}  # queues is aliased
