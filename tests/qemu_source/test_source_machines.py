"""Machine types in the three macro generations (reference §3.2, §3.5)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from qemu_source_trees import build_tree

from migcompat.qemu.source import import_tree
from migcompat.qemu.source.machines import _expired

Imported = Callable[[str], dict[str, Any]]
DEPRECATED = "machines more than 3 years old are subject to deletion after 6 years"


def test_gen1_string_names_and_options_functions(imported: Imported) -> None:
    machines = imported("gen1")["machines"]
    assert [n for n in machines if n.startswith("pc-q35")] == [
        "pc-q35-7.2", "pc-q35-7.1", "pc-q35-5.1", "pc-q35-4.0.1", "pc-q35-4.0", "pc-q35-3.1",
    ]  # fmt: skip
    q35 = machines["pc-q35-7.2"]
    assert q35 == {
        "family": "pc-q35", "version": "7.2", "compat": [], "alias": "q35", "default": False,
        "deprecated": None, "file": "hw/i386/pc_q35.c", "line": 22,
    }  # fmt: skip
    assert machines["pc-q35-5.1"]["compat"] == ["hw_compat_5_1", "pc_compat_5_1"]
    assert machines["pc-q35-7.1"]["alias"] is None


def test_gen1_bugfix_machine_owns_the_tables(imported: Imported) -> None:
    machines = imported("gen1")["machines"]
    assert machines["pc-q35-4.0.1"]["compat"] == ["hw_compat_4_0", "pc_compat_4_0"]
    assert machines["pc-q35-4.0.1"]["version"] == "4.0.1"
    assert machines["pc-q35-4.0"]["compat"] == []


def test_gen1_default_alias_and_explicit_deprecation(imported: Imported) -> None:
    machines = imported("gen1")["machines"]
    assert machines["pc-i440fx-7.2"]["default"] is True  # CONFIG_MICROVM_DEFAULT is off
    assert machines["pc-i440fx-7.2"]["alias"] == "pc"
    assert machines["pc-i440fx-7.1"]["default"] is False
    assert machines["pc-1.3"]["family"] == "pc-i440fx"
    assert machines["pc-1.3"]["version"] == "1.3"
    assert machines["pc-1.3"]["deprecated"] == "use a newer machine type instead"
    families = imported("gen1")["families"]
    assert families["pc-q35"] == {"defaults": [], "file": "hw/i386/pc_q35.c", "line": 10}


def test_gen2_versions_deprecation_and_deletion(imported: Imported) -> None:
    machines = imported("gen2")["machines"]  # VERSION 9.1.0
    assert [n for n in machines if n.startswith("pc-q35")] == [
        "pc-q35-9.1",
        "pc-q35-9.0",
        "pc-q35-5.1",
    ]  # 3.1 is 6 years old: not registered
    assert machines["pc-q35-9.1"]["alias"] == "q35"
    assert machines["pc-q35-9.0"]["compat"] == ["hw_compat_9_0", "pc_compat_9_0"]
    assert machines["pc-q35-9.0"]["deprecated"] is None
    assert machines["pc-q35-5.1"]["deprecated"] == DEPRECATED
    assert machines["pc-i440fx-9.1"]["default"] is True
    assert machines["pc-i440fx-9.0"]["default"] is False


def test_gen3_macro_arguments_override_the_options_function(imported: Imported) -> None:
    catalog = imported("gen3")  # VERSION 10.2.50, a dev snapshot of 11.0
    machines = catalog["machines"]
    assert [n for n in machines if n.startswith("pc-q35")] == [
        "pc-q35-11.0",
        "pc-q35-10.1",
        "pc-q35-8.1",
        "pc-q35-8.0",
        "pc-q35-5.1",
    ]  # 5.0 and 4.0.1 are deleted
    assert machines["pc-q35-11.0"]["alias"] == "q35"
    assert machines["pc-q35-11.0"]["default"] is False
    assert machines["pc-i440fx-11.0"]["alias"] == "pc"
    assert machines["pc-i440fx-11.0"]["default"] is True  # LATEST_IS_DEFAULT under #ifdef
    assert machines["pc-i440fx-10.1"]["default"] is False
    assert machines["pc-q35-8.1"]["deprecated"] is None
    assert machines["pc-q35-8.0"]["deprecated"] == DEPRECATED
    assert machines["pc-q35-10.1"]["compat"] == ["hw_compat_10_1", "pc_compat_10_1"]


def test_gen3_family_defaults(imported: Imported) -> None:
    catalog = imported("gen3")
    assert catalog["families"]["pc-q35"]["defaults"] == ["pc_q35_compat_defaults"]
    assert catalog["families"]["pc-q35"]["file"] == "hw/i386/pc_q35.c"
    assert catalog["families"]["pc-i440fx"]["defaults"] == []
    table = catalog["compat_tables"]["pc_q35_compat_defaults"]
    assert table["entries"][0]["driver"] == "virtio-iommu-pci"
    assert catalog["machines"]["pc-q35-11.0"]["compat"] == []


def test_machine_types_are_types(imported: Imported) -> None:
    types = imported("gen3")["types"]
    assert types["pc-q35-11.0-machine"]["parent"] == "generic-pc-machine"
    assert "pc-q35-5.0-machine" not in types


@pytest.mark.parametrize(
    ("qemu", "cutoff", "machine", "expired"),
    [
        ((10, 0, 0), 3, (7, 0), True),
        ((10, 0, 0), 3, (7, 1), False),
        ((10, 2, 0), 6, (4, 2), True),
        ((10, 2, 0), 6, (5, 0), False),
        ((9, 0, 50), 3, (6, 1), True),  # dev snapshot of 9.1
        ((9, 0, 50), 3, (6, 2), False),
        ((10, 2, 50), 3, (8, 0), True),  # dev snapshot of 11.0
        ((10, 2, 90), 3, (8, 1), False),
    ],
)
def test_version_age_rule(
    qemu: tuple[int, int, int], cutoff: int, machine: tuple[int, int], expired: bool
) -> None:
    assert _expired(qemu, cutoff, *machine) is expired


GATED_DELETION = """
#define MACHINE_VER_DELETION(...) \\
    do { \\
        if (MACHINE_VER_SHOULD_DELETE(__VA_ARGS__)) { \\
            if (getenv("QEMU_DELETE_MACHINES") || \\
                QEMU_VERSION_MAJOR > 10 || (QEMU_VERSION_MAJOR == 10 && \\
                                            QEMU_VERSION_MINOR >= 1)) { \\
                return; \\
            } \\
        } \\
    } while (0)
"""


def test_deletion_gated_on_an_environment_variable(tmp_path: Path) -> None:
    """QEMU 10.0 deletes old machines only with QEMU_DELETE_MACHINES set (or >= 10.1)."""
    root = build_tree(tmp_path / "tree", "gen3")
    (root / "VERSION").write_text("10.0.0\n")
    boards = root / "include" / "hw" / "boards.h"
    boards.write_text(boards.read_text().replace("#endif", GATED_DELETION + "#endif"))
    machines = import_tree(root)["machines"]
    assert "pc-q35-4.0.1" in machines  # 6 years old, but the gate is closed
    assert machines["pc-q35-4.0.1"]["deprecated"] == DEPRECATED
