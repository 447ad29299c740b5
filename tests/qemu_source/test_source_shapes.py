"""Shapes met in real trees: comments between array elements, mixed plain and macro
elements, types declared by header macros, C-written enum tables, PCI devfn properties."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from migcompat.qemu.source import cpp

Imported = Callable[[str], dict[str, Any]]
CHIPS = "hw/misc/fixture-chips.c"


def test_blank_comments_keeps_newlines_and_literals() -> None:
    text = 'a /* x\n * "y" */ b "/* no */" // c\nd \'/\' /**/e'
    blanked = cpp.blank_comments(text)
    assert [len(line) for line in blanked.split("\n")] == [len(x) for x in text.split("\n")]
    assert blanked.split() == ["a", "b", '"/*', "no", '*/"', "d", "'/'", "e"]


def test_plain_elements_after_multiline_comments_mixed_with_macro_elements(
    imported: Imported,
) -> None:
    types = imported("gen1")["types"]
    base = types["fixture-chip"]
    assert (base["parent"], base["abstract"], base["line"]) == ("device", True, 67)
    gen8 = types["fixture8-chip"]
    assert (gen8["parent"], gen8["file"], gen8["line"]) == ("fixture-chip", CHIPS, 78)
    assert types["a_v1.0-fixture-chip"]["parent"] == "fixture8-chip"
    assert types["a_v1.0-fixture-chip"]["line"] == 82
    assert types["b_v2.1-fixture-chip"]["parent"] == "fixture8-chip"


def test_property_after_a_multiline_comment(imported: Imported) -> None:
    props = imported("gen1")["types"]["fixture-chip"]["properties"]
    assert list(props) == ["first", "after-comment", "addr", "wiring", "holes"]
    assert props["after-comment"] == {"kind": "uint32", "default": 7, "file": CHIPS, "line": 52}


def test_pci_devfn_kind_keeps_the_qapi_type(imported: Imported) -> None:
    addr = imported("gen1")["types"]["fixture-chip"]["properties"]["addr"]
    assert addr == {"kind": "pci-devfn", "qapi_type": "int32", "default": -1, "file": CHIPS,
                    "line": 53}  # fmt: skip


def test_enum_table_written_in_c(imported: Imported) -> None:
    catalog = imported("gen1")
    assert catalog["enums"]["FixtureWiring"] == ["none", "bus", "ring"]
    wiring = catalog["types"]["fixture-chip"]["properties"]["wiring"]
    assert (wiring["kind"], wiring["enum"], wiring["default"]) == ("enum", "FixtureWiring", "ring")


def test_enum_table_with_a_hole_is_not_guessed(imported: Imported) -> None:
    catalog = imported("gen1")
    holes = catalog["types"]["fixture-chip"]["properties"]["holes"]
    assert "FixtureHoles" not in catalog["enums"] and "default" not in holes
    assert holes["unresolved"] == (
        "enum FixtureHoles is neither in qapi/*.json nor a constant QEnumLookup"
    )


def test_type_declared_by_a_header_macro_in_a_file_without_typeinfo(imported: Imported) -> None:
    machine = imported("gen1")["types"]["fixture-none-machine"]
    assert (machine["parent"], machine["abstract"]) == ("machine", False)
    assert (machine["file"], machine["line"]) == ("hw/core/null-machine.c", 9)
