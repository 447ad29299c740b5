"""Compat tables from fixture C: TYPE_ macros, concatenation, optional, macro entries."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Imported = Callable[[str], dict[str, Any]]


def entries(catalog: dict[str, Any], table: str) -> list[tuple[str, str, str]]:
    table_entries = catalog["compat_tables"][table]["entries"]
    return [(e["driver"], e["property"], e["value"]) for e in table_entries]


def test_catalog_header(imported: Imported) -> None:
    catalog = imported("gen1")
    assert list(catalog)[:6] == ["format", "id", "product", "version", "debian_version", "origin"]
    assert catalog["format"] == 1
    assert catalog["id"] == "7.2"
    assert catalog["version"] == "7.2.0"
    assert catalog["product"] == "qemu"
    assert catalog["origin"] == "import-source"
    assert catalog["debian_version"] == "1:0.0+fixture-1"


def test_type_macros_and_if_selection(imported: Imported) -> None:
    assert entries(imported("gen1"), "hw_compat_5_1") == [
        ("vhost-scsi", "num_queues", "1"),
        ("virtio-blk-device", "num-queues", "1"),
        ("pvpanic", "events", "1"),
        ("pci-device", "x-fixture", "off"),
    ]


def test_x86_cpu_type_and_string_concatenation(imported: Imported) -> None:
    catalog = imported("gen1")
    assert entries(catalog, "pc_compat_5_1")[1] == ("x86_64-cpu", "kvm-msi-ext-dest-id", "off")
    assert entries(catalog, "pc_compat_3_1") == [
        ("EPYC-x86_64-cpu", "npt", "off"),
        ("EPYC-IBPB-x86_64-cpu", "xlevel", "0x8000000a"),
        ("qemu32-x86_64-cpu", "model-id", "QEMU Virtual CPU version 3.1"),
        ("qemu64-x86_64-cpu", "model-id", "QEMU Virtual CPU version 3.1"),
    ]


def test_optional_entries_and_designated_form(imported: Imported) -> None:
    table = imported("gen1")["compat_tables"]["hw_compat_2_6"]
    assert [e.get("optional", False) for e in table["entries"]] == [False, True, True]
    assert table["entries"][2]["property"] == "disable-legacy"


def test_provenance_lines(imported: Imported) -> None:
    table = imported("gen1")["compat_tables"]["hw_compat_5_1"]
    assert table["file"] == "hw/core/machine.c"
    assert table["line"] == 17
    assert [e["line"] for e in table["entries"]] == [18, 19, 20, 24]
    assert all("file" not in e for e in table["entries"])


def test_empty_tables_are_kept(imported: Imported) -> None:
    assert imported("gen1")["compat_tables"]["pc_compat_7_1"]["entries"] == []


def test_function_local_table_with_macros_and_stringify(imported: Imported) -> None:
    catalog = imported("gen1")
    name = "pc_i440fx_1_3_machine_options.compat"
    assert catalog["machines"]["pc-1.3"]["compat"] == [name]
    assert entries(catalog, name) == [
        ("qemu32-x86_64-cpu", "model-id", "QEMU Virtual CPU version 1.3.0"),
        ("qemu64-x86_64-cpu", "model-id", "QEMU Virtual CPU version 1.3.0"),
        ("virtio-balloon-pci", "class", "0x0500"),
    ]
    assert catalog["compat_tables"][name]["file"] == "hw/i386/pc_piix.c"
