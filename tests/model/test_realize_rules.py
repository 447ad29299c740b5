"""Realize-time rules: unset strings, property copies with a floor, machine class fields."""

from __future__ import annotations

from typing import Any

import pytest

from builders import BASE_TYPES, make_release
from migcompat.catalog.checker import Checker
from migcompat.catalog.release_loader import build_release
from migcompat.model.devspec import parse_device
from migcompat.model.vm import VMConfig, realize_vm

TYPES: dict[str, Any] = {
    **BASE_TYPES,
    "disk": {"parent": "bus-device",
             "properties": {"drive": {"kind": "str"}, "device_id": {"kind": "str"},
                            "ver": {"kind": "str"}, "romfile": {"kind": "str"},
                            "lbs": {"kind": "size", "default": 0},
                            "gran": {"kind": "size32", "default": 4294967295}},
             "realize": [
                 {"property": "device_id", "unset": True, "op": "property", "source": "drive"},
                 {"property": "ver", "unset": True, "op": "machine", "source": "hw_version",
                  "value": "2.5+"},
                 {"property": "romfile", "unset": True, "op": "constant", "value": "efi.rom"},
                 {"property": "gran", "when": 4294967295, "op": "property", "source": "lbs",
                  "floor": 4096}]},
}
MACHINES: dict[str, Any] = {
    "pc-2.5": {"family": "pc", "version": "2.5", "default": True},
    "pc-2.4": {"family": "pc", "version": "2.4", "fields": {"hw_version": "2.4.0"}},
    "pc-2.3": {"family": "pc", "version": "2.3"},
}


def disk(machine: str, spec: str = "disk,id=d,drive=d3") -> dict[str, Any]:
    rel = make_release(TYPES, machines=MACHINES)
    vm = realize_vm(VMConfig(rel, machine, [parse_device(spec)]))
    return {n: e.value for n, e in vm.devices[0].view().items()}


def test_unset_string_rules_copy_and_constant() -> None:
    got = disk("pc-2.5")
    assert got["device_id"] == "d3"
    assert got["romfile"] == "efi.rom"
    assert got["ver"] == "2.5+"


def test_unset_rule_leaves_an_explicit_empty_string() -> None:
    # pc_compat sets vmxnet3 romfile to "": realize keeps it (only NULL takes the class's).
    assert disk("pc-2.5", "disk,id=d,romfile=")["romfile"] == ""
    assert disk("pc-2.5", "disk,id=d,drive=x,device_id=y")["device_id"] == "y"


def test_unset_copy_of_an_unset_source_does_nothing() -> None:
    assert disk("pc-2.5", "disk,id=d")["device_id"] is None


def test_machine_field_is_inherited_along_the_chain() -> None:
    assert disk("pc-2.4")["ver"] == "2.4.0"
    assert disk("pc-2.3")["ver"] == "2.4.0"  # 2.3's options call 2.4's, which set it


def test_property_rule_with_floor() -> None:
    assert disk("pc-2.5")["gran"] == 4096
    assert disk("pc-2.5", "disk,id=d,lbs=8192")["gran"] == 8192


def test_provenance_detail_of_machine_rule() -> None:
    rel = make_release(TYPES, machines=MACHINES)
    vm = realize_vm(VMConfig(rel, "pc-2.3", [parse_device("disk,id=d")]))
    layer = vm.devices[0].view()["ver"].decided_by
    assert layer.source == "realize"
    assert layer.detail == "machine pc-2.3 hw_version"


@pytest.mark.parametrize("rule, code", [
    ({"property": "ver", "unset": True, "op": "machine"}, "bad-rule"),
    ({"property": "ver", "op": "constant", "value": "x"}, "missing-key"),
    ({"property": "ver", "unset": "yes", "op": "constant", "value": "x"}, "wrong-type"),
])
def test_bad_rules_are_reported(rule: dict[str, Any], code: str) -> None:
    types = {**BASE_TYPES, "disk": {"parent": "bus-device", "realize": [rule],
                                    "properties": {"ver": {"kind": "str"}}}}
    chk = Checker("t.json")
    build_release({"id": "t", "types": types, "families": {"pc": {}},
                   "machines": {"pc-1": {"family": "pc", "version": "1", "default": True}}},
                  chk)
    assert code in [p.code for p in chk.problems]


def test_bad_machine_field() -> None:
    chk = Checker("t.json")
    build_release({"id": "t", "types": BASE_TYPES, "families": {"pc": {}},
                   "machines": {"pc-1": {"family": "pc", "version": "1", "default": True,
                                         "fields": {"hw_version": [1]}}}}, chk)
    assert [p.code for p in chk.problems] == ["wrong-type"]


def test_always_rule_overrides_compat_and_options() -> None:
    types = {**BASE_TYPES, "gpu": {"parent": "bus-device", "properties": {
        "legacy": {"kind": "OnOffAuto", "default": "auto"}},
        "realize": [{"property": "legacy", "always": True, "op": "constant", "value": "on"}]}}
    rel = make_release(types, tables={"t": {"entries": [
        {"driver": "gpu", "property": "legacy", "value": "off"}]}})
    vm = realize_vm(VMConfig(rel, "pc-1.0", [parse_device("gpu,id=g,legacy=off")]))
    eff = vm.devices[0].view()["legacy"]
    assert eff.value == "on"
    assert [layer.source for layer in eff.provenance] == ["default", "compat", "device",
                                                          "realize"]


def test_constant_text_is_parsed_by_kind() -> None:
    types = {**BASE_TYPES, "gpu": {"parent": "bus-device", "properties": {
        "modern": {"kind": "bool", "default": False}},
        "realize": [{"property": "modern", "always": True, "op": "constant", "value": "on"}]}}
    vm = realize_vm(VMConfig(make_release(types), "pc-1.0", [parse_device("gpu,id=g")]))
    assert vm.devices[0].value("modern") is True


def test_instance_init_writes_through_an_alias_after_the_childs_compat() -> None:
    # nec-usb-xhci's instance_init copies its own flags word over the core's, so the
    # core's "streams" bit ends up off, whatever the core's compat entries said.
    types = {**BASE_TYPES,
             "core": {"parent": "device", "properties": {
                 "streams": {"kind": "bit", "word": "flags", "bit": 1, "default": True}}},
             "hcd": {"parent": "bus-device", "child": {"name": "core", "type": "core"}},
             "nec": {"parent": "hcd", "init": [{"property": "streams", "value": "off"}]}}
    rel = make_release(types, tables={"t": {"entries": [
        {"driver": "core", "property": "streams", "value": "on"},
        {"driver": "nec", "property": "streams", "value": "on"}]}})
    vm = realize_vm(VMConfig(rel, "pc-1.0", [parse_device("nec,id=n"), parse_device("hcd,id=h")]))
    nec, hcd = vm.devices
    assert [(la.source, la.value, la.detail) for la in nec.view()["streams"].provenance] == [
        ("default", True, ""), ("compat", True, ""),
        ("default", False, "instance_init of nec"), ("compat", True, "")]
    assert hcd.value("streams") is True
    vm = realize_vm(VMConfig(make_release(types), "pc-1.0", [parse_device("nec,id=n")]))
    assert vm.devices[0].value("streams") is False
    assert vm.devices[0].child is not None and vm.devices[0].child.value("streams") is False


def test_bad_init_is_reported() -> None:
    types = {**BASE_TYPES, "x": {"parent": "device", "init": [{"property": "p"}]}}
    chk = Checker("t.json")
    build_release({"id": "t", "types": types, "families": {"pc": {}},
                   "machines": {"pc-1": {"family": "pc", "version": "1", "default": True}}},
                  chk)
    assert [p.code for p in chk.problems] == ["missing-key"]


def test_if_condition_on_another_property() -> None:
    types = {**BASE_TYPES, "bridge": {"parent": "bus-device", "properties": {
        "shpc": {"kind": "bool", "default": True},
        "msi": {"kind": "OnOffAuto", "default": "auto"}},
        "realize": [{"property": "msi", "always": True, "if": {"shpc": "off"},
                     "op": "constant", "value": "off"}]}}
    rel = make_release(types)
    vm = realize_vm(VMConfig(rel, "pc-1.0", [parse_device("bridge,id=a"),
                                             parse_device("bridge,id=b,shpc=off")]))
    assert [d.value("msi") for d in vm.devices] == ["auto", "off"]
