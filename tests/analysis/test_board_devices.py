"""The board's own devices in the model (model/vm.py ``VM.board``), from the build's
captured QOM tree: compat lists and the user's -global reach them."""

from __future__ import annotations

import pytest

from migcompat.analysis.check import check
from migcompat.catalog.load import open_catalog
from migcompat.errors import GlobalPropertyError
from migcompat.model.globals import parse_global
from migcompat.model.vm import VMConfig, realize_vm


def _vm(release: str, machine: str, *globals_: str) -> object:
    rel = open_catalog("qemu").release(release)
    return realize_vm(VMConfig(rel, machine, [], globals=[parse_global(g) for g in globals_]))


def test_the_board_devices_are_the_builds() -> None:
    vm = _vm("7.2", "pc-q35-7.2", "hpet.timers=3")  # built when a -global could reach them
    types = {obj.type for obj in vm.board}  # type: ignore[attr-defined]
    assert {"hpet", "mc146818rtc", "ICH9-LPC", "i8042"} <= types
    assert "PIIX4_PM" not in types  # i440fx's, not q35's
    i440fx = {obj.type for obj in
              _vm("7.2", "pc-i440fx-7.2", "hpet.timers=3").board}  # type: ignore[attr-defined]
    assert "PIIX4_PM" in i440fx and "ICH9-LPC" not in i440fx


def test_a_user_global_reaches_a_board_device() -> None:
    vm = _vm("10.0", "pc-q35-7.2", "hpet.timers=4")
    (hpet,) = [o for o in vm.board if o.type == "hpet"]  # type: ignore[attr-defined]
    assert hpet.props["timers"].value == 4
    assert hpet.props["timers"].decided_by.source == "global"


def test_an_unknown_property_of_a_board_device_is_qemus_error() -> None:
    with pytest.raises(GlobalPropertyError, match=r"Property 'hpet\.nosuchprop' not found"):
        _vm("7.2", "pc-q35-7.2", "hpet.nosuchprop=1")


def test_without_a_global_no_board_device_is_built() -> None:
    assert _vm("7.2", "pc-q35-7.2").board == []  # type: ignore[attr-defined]


def test_a_release_without_capture_has_no_board_devices() -> None:
    rel = open_catalog("tutorial").release("qemu-5.1")
    assert realize_vm(VMConfig(rel, "pc-5.1", [])).board == []


def test_both_sides_with_the_same_global_are_compatible() -> None:
    rel = open_catalog("qemu").release("7.2")
    g = [parse_global("hpet.timers=4")]
    res = check(VMConfig(rel, "pc-q35-7.2", [], globals=g),
                VMConfig(rel, "pc-q35-7.2", [], globals=g))
    assert res.compatible and not [r for r in res.reasons if r.code == "board-global-differs"]

