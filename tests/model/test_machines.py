"""Versioned machine types: cumulative compat lists, aliases, default, bugfix versions."""

from __future__ import annotations

import pytest

from builders import entry, make_release
from migcompat.errors import MachineError
from migcompat.model.devspec import parse_device
from migcompat.model.machines import version_key
from migcompat.model.vm import VMConfig, realize_vm

TABLES = {
    "q35_defaults": {"entries": [entry("widget", "level", "39")]},
    "hw_compat_4_0": {"entries": [entry("widget", "level", "40")]},
    "hw_compat_4_1": {"entries": [entry("widget", "level", "41")]},
    "hw_compat_4_2": {"entries": [entry("widget", "mode", "off")]},
    "pc_compat_4_1": {"entries": [entry("widget", "level", "141")]},
}
MACHINES = {
    "pc-q35-5.0": {"family": "pc-q35", "version": "5.0", "alias": "q35"},
    "pc-q35-4.2": {"family": "pc-q35", "version": "4.2", "compat": ["hw_compat_4_2"]},
    "pc-q35-4.1": {"family": "pc-q35", "version": "4.1",
                   "compat": ["hw_compat_4_1", "pc_compat_4_1"]},
    "pc-q35-4.0.1": {"family": "pc-q35", "version": "4.0.1", "compat": ["hw_compat_4_0"]},
    "pc-q35-4.0": {"family": "pc-q35", "version": "4.0", "compat": [],
                   "deprecated": "old and unattended - use a newer version instead"},
    "pc-i440fx-5.0": {"family": "pc-i440fx", "version": "5.0", "alias": "pc",
                      "default": True},
}
FAMILIES = {"pc-q35": {"defaults": ["q35_defaults"]}, "pc-i440fx": {"defaults": []}}


def release():  # type: ignore[no-untyped-def]
    return make_release(tables=TABLES, machines=MACHINES, families=FAMILIES)


def test_version_key_orders_bugfix_between() -> None:
    versions = ["4.1", "10.0", "4.0.1", "4.0", "9.2", "2.12"]
    assert sorted(versions, key=version_key) == ["2.12", "4.0", "4.0.1", "4.1", "9.2", "10.0"]


def test_cumulative_order_newest_first_own_last() -> None:
    rel = release()
    ms = rel.machines
    assert ms.table_order(ms.resolve("pc-q35-5.0")) == ["q35_defaults"]
    assert ms.table_order(ms.resolve("pc-q35-4.1")) == [
        "q35_defaults", "hw_compat_4_2", "hw_compat_4_1", "pc_compat_4_1"]
    # The bugfix version sits in the chain: 4.0 gets 4.0.1's tables and adds none.
    assert ms.table_order(ms.resolve("pc-q35-4.0")) == [
        "q35_defaults", "hw_compat_4_2", "hw_compat_4_1", "pc_compat_4_1", "hw_compat_4_0"]
    assert ms.table_order(ms.resolve("pc-q35-4.0.1")) == ms.table_order(ms.resolve("pc-q35-4.0"))


def test_oldest_value_wins_on_old_machines() -> None:
    rel = release()

    def level(machine: str) -> object:
        vm = realize_vm(VMConfig(rel, machine, [parse_device("widget")]))
        return vm.devices[0].value("level")

    assert level("pc-q35-5.0") == 39  # family default over the class default 1
    assert level("pc-q35-4.2") == 39
    assert level("pc-q35-4.1") == 141  # pc_compat after hw_compat in the same version
    assert level("pc-q35-4.0") == 40
    assert level("pc-i440fx-5.0") == 1


def test_alias_and_default_resolution() -> None:
    ms = release().machines
    assert ms.resolve("q35").name == "pc-q35-5.0"
    assert ms.resolve("pc").name == "pc-i440fx-5.0"
    default = ms.default()
    assert default is not None and default.name == "pc-i440fx-5.0"
    assert ms.resolve("pc-q35-4.0").deprecated
    with pytest.raises(MachineError) as exc:
        ms.resolve("pc-q35-6.0", "rel")
    assert "unknown machine type 'pc-q35-6.0' in release rel" in str(exc.value)
    assert "pc-q35-4.0.1" in str(exc.value)


def test_compat_list_keeps_duplicates() -> None:
    ms = release().machines
    entries = ms.compat_list(ms.resolve("pc-q35-4.0"))
    assert [(e.table, e.value) for e in entries if e.property == "level"] == [
        ("q35_defaults", "39"), ("hw_compat_4_1", "41"), ("pc_compat_4_1", "141"),
        ("hw_compat_4_0", "40")]
