"""Types, properties and defaults from fixture C."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Imported = Callable[[str], dict[str, Any]]


def props(imported: Imported, type_name: str) -> dict[str, Any]:
    result: dict[str, Any] = imported("gen1")["types"][type_name]["properties"]
    return result


def test_typeinfo_fields(imported: Imported) -> None:
    types = imported("gen1")["types"]
    blk = types["virtio-blk-device"]
    assert (blk["parent"], blk["abstract"], blk["file"]) == (
        "virtio-device", False, "hw/block/fixture-blk.c",
    )  # fmt: skip
    assert types["old-style-device"]["interfaces"] == ["conventional-pci-device"]
    assert types["abstract-thing"]["abstract"] is True
    assert types["virtio-pci"]["abstract"] is True


def test_subsystem_macro_expands_to_bit_properties(imported: Imported) -> None:
    p = props(imported, "virtio-blk-device")
    assert p["indirect_desc"] == {
        "kind": "bit64", "word": "host_features", "bit": 28, "default": True,
        "file": "hw/block/fixture-blk.c", "line": 9,
    }  # fmt: skip
    assert p["event_idx"]["bit"] == 29


def test_defaults_through_macros_and_expressions(imported: Imported) -> None:
    p = props(imported, "virtio-blk-device")
    assert p["num-queues"] == {
        "kind": "uint16", "default": 65535, "file": "hw/block/fixture-blk.c", "line": 10,
    }  # fmt: skip
    assert p["segment"]["kind"] == "size" and p["segment"]["default"] == 262144
    assert p["shift"]["default"] == 1048576
    assert p["negative"] == {**p["negative"], "kind": "int32", "default": -1}
    assert p["scsi-bit"]["kind"] == "bit" and p["scsi-bit"]["default"] is False
    assert p["scsi-bit"]["word"] == "flags" and p["scsi-bit"]["bit"] == 5


def test_enum_and_on_off_auto_defaults(imported: Imported) -> None:
    catalog = imported("gen1")
    p = props(imported, "virtio-blk-device")
    assert p["write-cache"]["kind"] == "OnOffAuto" and p["write-cache"]["default"] == "auto"
    assert p["lost_tick_policy"]["kind"] == "enum"
    assert p["lost_tick_policy"]["enum"] == "LostTickPolicy"
    assert p["lost_tick_policy"]["default"] == "slew"
    assert catalog["enums"]["LostTickPolicy"] == ["discard", "delay", "slew"]
    assert catalog["enums"]["OnOffAuto"] == ["auto", "on", "off"]


def test_properties_without_a_static_default(imported: Imported) -> None:
    p = props(imported, "virtio-blk-device")
    assert p["serial"] == {"kind": "str", "qapi_type": "str", "file": "hw/block/fixture-blk.c",
                           "line": 19}  # fmt: skip
    assert p["iothread"]["kind"] == "link" and "default" not in p["iothread"]
    assert p["iothread"]["link_type"] == "iothread"
    assert p["no-default"]["kind"] == "uint32" and "default" not in p["no-default"]


def test_unresolvable_defaults_keep_a_reason(imported: Imported) -> None:
    p = props(imported, "virtio-blk-device")
    assert "default" not in p["runtime"]
    assert "fixture_runtime_value()" in p["runtime"]["unresolved"]
    assert "FIXTURE_NOT_DEFINED" in p["unknown-macro"]["unresolved"]
    assert "set_default_strangely" in p["strange"]["unresolved"]
    assert p["mac"]["kind"] == "str" and p["mac"]["qapi_type"] == "str"


def test_if_branches_in_property_arrays(imported: Imported) -> None:
    p = props(imported, "virtio-blk-device")
    assert "linux-only" in p and "not-linux" not in p


def test_old_style_props_assignment(imported: Imported) -> None:
    assert props(imported, "old-style-device")["old"]["default"] is True


def test_bit_number_defined_inside_an_enum_body(imported: Imported) -> None:
    assert props(imported, "virtio-pci")["x-multifunction"]["bit"] == 3


def test_virtio_pci_registration(imported: Imported) -> None:
    types = imported("gen1")["types"]
    child = {"name": "virtio-backend", "type": "virtio-blk-device"}
    base = types["virtio-blk-pci-base"]
    assert (base["parent"], base["abstract"], base["child"]) == ("virtio-pci", True, child)
    assert list(base["properties"]) == ["vectors"]
    assert base["properties"]["vectors"]["default"] == 4294967295
    generic = types["virtio-blk-pci"]
    assert generic["parent"] == "virtio-blk-pci-base"
    assert generic["interfaces"] == ["pci-express-device", "conventional-pci-device"]
    assert list(generic["properties"]) == ["disable-legacy", "disable-modern"]
    assert generic["child"] == child
    transitional = types["virtio-blk-pci-transitional"]
    assert transitional["interfaces"] == ["conventional-pci-device"]
    assert transitional["properties"] == {}
    assert types["virtio-blk-pci-non-transitional"]["parent"] == "virtio-blk-pci-base"


def test_virtio_pci_registration_without_a_base_name(imported: Imported) -> None:
    types = imported("gen1")["types"]
    base = types["virtio-fixture-pci-base-type"]
    assert base["abstract"] is True
    assert list(base["properties"]) == ["disable-legacy", "disable-modern"]
    assert types["virtio-fixture-pci"]["parent"] == "virtio-fixture-pci-base-type"
    assert list(types["virtio-fixture-pci"]["properties"]) == ["vectors"]


def test_types_registered_in_a_loop_with_class_data_conditions(imported: Imported) -> None:
    types = imported("gen1")["types"]
    assert types["variant-standalone"]["parent"] == "pci-device"
    assert list(types["variant-standalone"]["properties"]) == ["bandwidth"]
    assert list(types["variant-companion"]["properties"]) == ["masterbus"]


def test_qapi_enum_members_follow_if_conditions(imported: Imported) -> None:
    from pathlib import Path

    from migcompat.qemu.source.cond import X86_64_LINUX
    from migcompat.qemu.source.qapi import QapiEnums

    enums = QapiEnums(Path(__file__).parent / "fixtures" / "base", X86_64_LINUX)
    assert enums.members["OffAutoPCIBAR"] == ["off", "auto", "bar0"]
    assert enums.constants["OFF_AUTOPCIBAR_BAR0"] == 2  # QAPI's older spelling
    assert enums.constants["OFF_AUTO_PCIBAR_BAR0"] == 2  # and the newer one
