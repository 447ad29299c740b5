"""compare_machine on hand-made observations (no QEMU): statuses, exclusions, causes."""

from __future__ import annotations

from typing import Any

from builders import make_release
from migcompat.model.devspec import parse_device
from migcompat.model.vm import VMConfig, realize_vm
from migcompat.qemu.binary.crosscheck.qom import Observed, compare_machine, model_objects

TYPES: dict[str, Any] = {
    "device": {"abstract": True},
    "nic": {"parent": "device", "properties": {
        "mac": {"kind": "str"}, "netdev": {"kind": "str"},
        "romsize": {"kind": "uint32", "default": 4294967295},
        "speed": {"kind": "int32", "default": -1}, "mq": {"kind": "bool", "default": False},
        "romfile": {"kind": "str"}, "only-model": {"kind": "bool", "default": True}}},
}


def test_statuses_and_exclusions() -> None:
    rel = make_release(TYPES)
    predicted = model_objects(realize_vm(VMConfig(rel, "pc-1.0", [parse_device("nic,id=n")])))
    observed = {"n": {
        "type": Observed("string", "nic"), "mac": Observed("str", "52:54:00:12:34:56"),
        "romsize": Observed("uint32", 262144), "speed": Observed("int32", -1),
        "mq": Observed("bool", True), "romfile": Observed("str", ""),
        "only-qemu": Observed("uint8", 3), "legacy-x": Observed("str", error="not readable")}}
    skipped: dict[str, str] = {}
    got = {c.prop: c for c in compare_machine("pc-1.0", observed, predicted, skipped,
                                               rel.types.is_a)}
    assert got["speed"].status == "agree"
    assert got["mac"].status == "agree"  # the model gives the first NIC QEMU's default MAC
    assert got["romfile"].status == "agree"  # unset string reads ""
    assert got["mq"].status == "differ"
    assert got["mq"].cause == "the model's value comes from the class default"
    assert got["only-qemu"].status == "missing-in-model"
    assert got["only-model"].status == "missing-in-qemu"
    assert set(skipped) == {"n.type", "n.romsize", "n.legacy-x"}
    assert "ROM file" in skipped["n.romsize"]


def test_absent_objects() -> None:
    rel = make_release(TYPES)
    predicted = model_objects(realize_vm(VMConfig(rel, "pc-1.0", [parse_device("nic,id=n")])))
    got = compare_machine("m", {"x": {"a": Observed("bool", True)}}, predicted, {},
                          rel.types.is_a)
    assert {(c.path, c.status) for c in got} == {("n", "missing-in-qemu"),
                                                 ("x", "missing-in-model")}
