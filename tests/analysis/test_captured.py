"""Captured device state (``<release>.state.json``): loading, planning and ``check``'s rules.

The captures here are small and hand-written in the shape the probe writes (a board of
``timer`` and per-vCPU ``cpu``, a virtio-blk-pci device, RAM blocks), on top of the
tutorial's releases with their own schemas removed, so each rule is shown by one change.
"""

from __future__ import annotations

import copy
import json
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from migcompat.analysis.check import check
from migcompat.catalog.load import DATA_DIR, open_catalog
from migcompat.errors import CatalogError
from migcompat.model.devspec import parse_device
from migcompat.model.vm import VMConfig, realize_vm
from migcompat.vm.live import build_empty, plan_sections

TUTORIAL = tomllib.loads((DATA_DIR / "tutorial.toml").read_text())
MIB = 1 << 20


def _field(name: str, type_: str, size: int) -> dict[str, Any]:
    return {"name": name, "type": type_, "size": size}


def capture() -> dict[str, Any]:
    blk = {"vmsd_name": "virtio-blk", "version": 2,
           "fields": [_field("virtio", "virtio", 1234)],
           "subsections": [{"vmsd_name": "virtio-blk/sent", "version": 1,
                            "fields": [_field("x", "uint32", 4)]}]}
    return {
        "format": 1, "release": "x", "build": "test",
        "versions": {
            "virtio-blk": {"version_id": 2, "minimum_version_id": 2,
                           "subsections": {"virtio-blk/sent": {"version_id": 1,
                                                               "minimum_version_id": 1},
                                           "virtio-blk/other": {"version_id": 1,
                                                                "minimum_version_id": 1}}},
            "cpu": {"version_id": 12, "minimum_version_id": 11, "subsections": {}},
        },
        "type_vmsd": {"virtio-blk-device": "virtio-blk"},
        "schemas": {
            "timer@2#0": {"vmsd_name": "timer", "version": 2,
                          "fields": [_field("cpu_ticks_offset", "int64", 8)]},
            "cpu@12#0": {"vmsd_name": "cpu", "version": 12,
                         "fields": [_field("regs", "uint64", 8)]},
            "virtio-blk@2#0": blk,
        },
        "machines": {"pc-5.1": {
            "board": [{"idstr": "timer", "instance_id": 0, "schema": "timer@2#0",
                       "per_cpu": False},
                      {"idstr": "cpu", "instance_id": 0, "schema": "cpu@12#0", "per_cpu": True},
                      {"idstr": "opaque", "instance_id": 0, "schema": None, "per_cpu": False}],
            "ram": [{"idstr": "pc.ram", "size": 64 * MIB, "mem": True},
                    {"idstr": "pc.bios", "size": 256 << 10, "mem": False},
                    {"idstr": "/rom@etc/acpi/tables", "size": 128 << 10, "mem": False}],
            "pci_first_slot": 3,
            "devices": {"virtio-blk-pci": {
                "sections": [{"suffix": "virtio-blk", "instance_id": 0,
                              "schema": "virtio-blk@2#0"}],
                "ram": []}},
            "skipped_devices": {"e1000": "no such device in this build"},
        }},
        "skipped": {"pc-1.0": "deprecated"},
    }


Change = Callable[[dict[str, Any]], None]
AP_SUB = {"vmsd_name": "cpu/ap", "version": 1, "fields": [_field("sipi", "uint32", 4)]}


def catalog(tmp_path: Path, change_new: Change | None = None,
            change_old: Change | None = None) -> Any:
    refs = {}
    for rid, base, change in (("old", "qemu-5.2", change_old), ("new", "qemu-5.2", change_new)):
        rel = copy.deepcopy(TUTORIAL["releases"][base])
        rel.pop("vmstate", None)
        rel.pop("board", None)
        (tmp_path / f"{rid}.json").write_text(json.dumps({"format": 1, "id": rid, **rel}))
        state = capture()
        if change is not None:
            change(state)
        (tmp_path / f"{rid}.state.json").write_text(json.dumps(state))
        refs[rid] = {"file": f"{rid}.json", "state": f"{rid}.state.json"}
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps({"format": 1, "name": "t", "releases": refs}))
    return open_catalog(str(path))


def run_check(cat: Any, src_devices: tuple[str, ...] = ("virtio-blk-pci",),
              dst_devices: tuple[str, ...] | None = None) -> Any:
    dst_devices = src_devices if dst_devices is None else dst_devices
    src = VMConfig(cat.release("old"), "pc-5.1", [parse_device(d) for d in src_devices],
                   smp=2, mem=64 * MIB)
    dst = VMConfig(cat.release("new"), "pc-5.1", [parse_device(d) for d in dst_devices],
                   smp=2, mem=64 * MIB)
    return check(src, dst)


def codes(result: Any) -> list[str]:
    return [r.code for r in result.breaking()]


def test_plan_follows_the_capture(tmp_path: Path) -> None:
    cat = catalog(tmp_path)
    vm = realize_vm(VMConfig(cat.release("old"), "pc-5.1", [parse_device("virtio-blk-pci")],
                             smp=3, mem=64 * MIB))
    planned = [(s.idstr, s.instance_id) for s in plan_sections(vm)]
    # per-vCPU sections repeat; a section without a description is not planned; the device
    # takes the first free slot the capture saw.
    assert planned == [("timer", 0), ("cpu", 0), ("cpu", 1), ("cpu", 2),
                       ("0000:00:03.0/virtio-blk", 0)]
    blk = plan_sections(vm)[-1].vmsd
    assert blk.minimum_version_id == 2
    assert [s.name for s in blk.subsections] == ["virtio-blk/sent", "virtio-blk/other"]
    ram = build_empty(vm.config).destination().ram_blocks
    assert ram is not None
    assert [(b.idstr, b.used_length, b.max_length) for b in ram] == [
        ("pc.ram", 64 * MIB, None), ("pc.bios", 256 << 10, None),
        ("/rom@etc/acpi/tables", 128 << 10, 2 * MIB)]


def test_identical_captures_are_compatible(tmp_path: Path) -> None:
    result = run_check(catalog(tmp_path))
    assert result.compatible, [r.message for r in result.reasons]


def _schema(state: dict[str, Any], key: str) -> dict[str, Any]:
    return state["schemas"][key]  # type: ignore[no-any-return]


CASES: dict[str, tuple[Change | None, Change | None, list[str]]] = {
    # the destination accepts at most version 1 of the section
    "version too new": (lambda s: _schema(s, "virtio-blk@2#0").update(version=1), None,
                        ["section-version"]),
    "version too old": (lambda s: s["versions"]["cpu"].update(minimum_version_id=13), None,
                        ["section-version"]),
    # the destination has never heard of the subsection the source sends
    "unknown subsection": (
        lambda s: (_schema(s, "virtio-blk@2#0").update(subsections=[]),
                   s["versions"]["virtio-blk"]["subsections"].pop("virtio-blk/sent")),
        None, ["unknown-subsection"]),
    # known to the destination (from its dump) though its own VMs do not send it: fine
    "subsection known, not sent": (lambda s: _schema(s, "virtio-blk@2#0").update(
        subsections=[]), None, []),
    # the destination's build was seen sending it elsewhere (another vCPU, another machine)
    "subsection seen elsewhere": (
        lambda s: s["schemas"].update({"cpu@12#1": {**_schema(s, "cpu@12#0"),
                                                    "subsections": [AP_SUB]}}),
        lambda s: _schema(s, "cpu@12#0").update(subsections=[AP_SUB]), []),
    "subsection never seen": (None, lambda s: _schema(s, "cpu@12#0").update(
        subsections=[AP_SUB]), ["unknown-subsection"]),
    "layout": (lambda s: _schema(s, "virtio-blk@2#0")["fields"][0].update(size=99), None,
               ["layout-differs"]),
    "ram block size": (lambda s: s["machines"]["pc-5.1"]["ram"][1].update(size=128 << 10),
                       None, ["ramblock-size"]),
    "ram block unknown": (lambda s: s["machines"]["pc-5.1"]["ram"].pop(1), None,
                          ["unknown-ramblock"]),
    # ACPI tables are resizable up to 2 MiB on the destination
    "acpi tables grow": (None, lambda s: s["machines"]["pc-5.1"]["ram"][2].update(
        size=256 << 10), []),
    "acpi tables too big": (None, lambda s: s["machines"]["pc-5.1"]["ram"][2].update(
        size=4 * MIB), ["ramblock-size"]),
}


@pytest.mark.parametrize("name", CASES)
def test_rules(tmp_path: Path, name: str) -> None:
    change_new, change_old, expected = CASES[name]
    result = run_check(catalog(tmp_path, change_new, change_old))
    # (a per-vCPU section breaks once per vCPU: the set of codes is what counts)
    assert sorted(set(codes(result))) == expected, [r.message for r in result.reasons]


def test_uncaptured_device_is_a_note_not_a_guess(tmp_path: Path) -> None:
    result = run_check(catalog(tmp_path), ("virtio-blk-pci", "e1000"))
    notes = [r for r in result.reasons if r.code == "state-not-captured"]
    assert notes and all(not r.breaking for r in notes)
    assert "e1000 (no such device in this build)" in notes[0].message
    assert result.compatible


def test_missing_device_is_an_unknown_section(tmp_path: Path) -> None:
    result = run_check(catalog(tmp_path), ("virtio-blk-pci",), ())
    assert "unknown-section" in codes(result)
    unknown = next(r for r in result.reasons if r.code == "unknown-section")
    assert "'0000:00:03.0/virtio-blk' 0" in unknown.message


def test_bad_state_file_names_file_and_path(tmp_path: Path) -> None:
    def bad(state: dict[str, Any]) -> None:
        state["machines"]["pc-5.1"]["board"][0]["schema"] = "nope"
    cat = catalog(tmp_path, bad)
    with pytest.raises(CatalogError) as err:
        run_check(cat)
    text = str(err.value)
    assert "new.state.json" in text and "$.machines['pc-5.1'].board[0]" in text
    assert "unknown schema 'nope'" in text


def test_missing_state_file_is_a_catalog_error(tmp_path: Path) -> None:
    catalog(tmp_path)
    (tmp_path / "new.state.json").unlink()
    with pytest.raises(CatalogError) as err:
        open_catalog(str(tmp_path / "catalog.json"))
    assert "captured state file not found" in str(err.value)


def test_release_without_state_is_not_compared(tmp_path: Path) -> None:
    # a source-only import (no schemas, no capture) must not make every section unknown
    cat = catalog(tmp_path)
    rel = copy.deepcopy(TUTORIAL["releases"]["qemu-5.2"])
    rel.pop("vmstate", None)
    rel.pop("board", None)
    (tmp_path / "bare.json").write_text(json.dumps({"format": 1, "id": "bare", **rel}))
    data = json.loads((tmp_path / "catalog.json").read_text())
    data["releases"]["bare"] = {"file": "bare.json"}
    (tmp_path / "catalog.json").write_text(json.dumps(data))
    cat = open_catalog(str(tmp_path / "catalog.json"))
    devs = [parse_device("virtio-blk-pci")]
    for a, b in (("old", "bare"), ("bare", "old")):
        result = check(VMConfig(cat.release(a), "pc-5.1", devs, smp=2, mem=64 * MIB),
                       VMConfig(cat.release(b), "pc-5.1", devs, smp=2, mem=64 * MIB))
        assert result.compatible, [r.message for r in result.breaking()]
        note = next(r for r in result.reasons if r.code == "state-not-compared")
        assert "release bare has no device-state schemas" in note.message


def test_unmigratable_device_blocks_the_migration(tmp_path: Path) -> None:
    def block(state: dict[str, Any]) -> None:
        state["machines"]["pc-5.1"]["unmigratable"] = {
            "e1000": "State blocked by non-migratable device '0000:00:01.0/e1000'"}
    cat = catalog(tmp_path, change_old=block)
    result = run_check(cat, ("virtio-blk-pci", "e1000"))
    blocked = [r for r in result.breaking() if r.code == "migration-blocked"]
    # QEMU's words, with the device's own address (slot 3 + 1: it comes second)
    assert [r.message for r in blocked] == [
        "e1000#1: State blocked by non-migratable device '0000:00:04.0/e1000'"]
    # the blocker stops the source; an unmigratable device the destination alone has
    # (an extra device, sent nothing) is not a blocker of this migration
    extra = run_check(catalog(tmp_path, change_new=block), ("virtio-blk-pci",),
                      ("virtio-blk-pci", "e1000"))
    assert not any(r.code == "migration-blocked" for r in extra.reasons)
