"""compare_schemas on hand-built schema pairs: one pair per finding kind, each asserting the
exact findings, and the direction (a stream saved by OLD, loaded by NEW)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from migcompat.errors import SchemaError
from migcompat.vmstate.compare import (
    KINDS,
    VmstateFinding,
    compare_dumps,
    compare_schemas,
)
from migcompat.vmstate.dump import VMStateDump, schemas_from_dump
from migcompat.vmstate.findings import FindingKind, finding
from migcompat.vmstate.rules import ALWAYS, NEVER, Rule, Unknown
from migcompat.vmstate.schema import Field, VMStateDescription

DOC = Path(__file__).resolve().parents[2] / "docs" / "lint-vmstate.md"

Short = tuple[str, str, str, object, object, str]


def leaf(name: str, size: int = 4, version: int = 0, exists: bool = False) -> Field:
    """A field as -dump-vmstate gives it: a name, a C size, a version, maybe a callback."""
    return Field(name, "dump", size=size, version_id=version, exists=Unknown() if exists else None)


def struct(name: str, desc: VMStateDescription, version: int = 0) -> Field:
    return Field(name, "struct", version_id=version, struct=desc)


def vmsd(name: str, *fields: Field, version: int = 1, minimum: int = 1,
         subs: tuple[VMStateDescription, ...] = (), needed: Rule = ALWAYS) -> VMStateDescription:
    return VMStateDescription(name, version, minimum, fields, subs, needed=needed,
                              complete=False)


def sub(name: str, *fields: Field, version: int = 1, minimum: int = 1,
        needed: Rule | None = None) -> VMStateDescription:
    return vmsd(name, *fields, version=version, minimum=minimum,
                needed=Unknown() if needed is None else needed)


def short(findings: list[VmstateFinding]) -> list[Short]:
    for f in findings:  # every finding is a registered kind with one plain sentence
        assert f.kind in KINDS and f.message.endswith(".") and "\n" not in f.message
    return [(f.kind, f.section, f.field, f.old, f.new, f.severity) for f in findings]


def diff(old: VMStateDescription, new: VMStateDescription) -> list[Short]:
    return short(compare_schemas({"dev": old}, {"dev": new}))


BASE = vmsd("dev", leaf("a"), leaf("b", 2), leaf("c", 1),
            subs=(sub("dev/extra", leaf("x", 8)),))


# -- no change ------------------------------------------------------------------------------

def test_the_same_schemas_give_no_findings() -> None:
    assert compare_schemas({"dev": BASE, "other": vmsd("o")},
                           {"other": vmsd("o"), "dev": BASE}) == []


DUMP = {
    "vmschkmachine": {"Name": "pc-i440fx-7.2"},
    "dev": {"Name": "dev", "version_id": 2, "minimum_version_id": 1, "Description": {
        "name": "dev", "version_id": 2, "minimum_version_id": 1,
        "Fields": [{"field": "a", "version_id": 0, "field_exists": False, "size": 4},
                   {"field": "parent_obj", "version_id": 0, "field_exists": False,
                    "size": 2608, "Description": {
                        "name": "PCIDevice", "version_id": 2, "minimum_version_id": 1,
                        "Fields": [{"field": "config", "version_id": 0,
                                    "field_exists": True, "size": 256}]}}],
        "Subsections": [{"name": "dev/s", "version_id": 1, "minimum_version_id": 1,
                         "Fields": [{"field": "x", "version_id": 0, "field_exists": False,
                                     "size": 8}]}]}},
}


def test_a_parsed_dump_against_itself_gives_no_findings() -> None:
    dump = schemas_from_dump(DUMP)
    assert compare_dumps(dump, dump) == []


def test_machine_differs() -> None:
    dump = schemas_from_dump(DUMP)
    other = VMStateDump("pc-i440fx-10.0", dump.types)
    assert short(compare_dumps(dump, other)) == [
        ("vmstate-machine-differs", "", "", "pc-i440fx-7.2", "pc-i440fx-10.0", "warning")]


# -- sections -------------------------------------------------------------------------------

def test_section_removed_and_added() -> None:
    found = short(compare_schemas({"gone": vmsd("g")}, {"fresh": vmsd("f")}))
    assert found == [("vmstate-section-removed", "gone", "", "g", None, "error"),
                     ("vmstate-section-added", "fresh", "", None, "f", "note")]


def test_section_renamed_when_one_new_type_carries_the_description() -> None:
    # The peer's hand-made table: e1000-82540em became e1000 with the same description.
    old = {"e1000-82540em": vmsd("e1000", leaf("a"))}
    new = {"e1000": vmsd("e1000", leaf("a"), leaf("z"))}
    assert short(compare_schemas(old, new)) == [
        ("vmstate-section-renamed", "e1000-82540em", "", "e1000-82540em", "e1000", "note"),
        ("vmstate-field-added", "e1000-82540em", "z", None, 4, "error")]


def test_no_rename_when_two_new_types_carry_the_description() -> None:
    old = {"a": vmsd("shared")}
    new = {"b": vmsd("shared"), "c": vmsd("shared")}
    assert [f[0] for f in short(compare_schemas(old, new))] == [
        "vmstate-section-removed", "vmstate-section-added", "vmstate-section-added"]


def test_description_renamed_is_an_error_for_a_section() -> None:
    # The section idstr on the wire is the description's name.
    assert diff(vmsd("tpci200"), vmsd("tpci2002")) == [
        ("vmstate-description-renamed", "dev", "", "tpci200", "tpci2002", "error")]


def test_description_renamed_is_a_note_when_nested() -> None:
    old = vmsd("dev", struct("s", vmsd("inner-a", leaf("x"))))
    new = vmsd("dev", struct("s", vmsd("inner-b", leaf("x"))))
    assert diff(old, new) == [
        ("vmstate-description-renamed", "dev", "s", "inner-a", "inner-b", "note")]


# -- versions -------------------------------------------------------------------------------

def test_version_too_new() -> None:
    assert diff(vmsd("dev", version=3), vmsd("dev", version=2)) == [
        ("vmstate-version-too-new", "dev", "", 3, 2, "error")]


def test_version_too_old() -> None:
    # The peer prints nothing for this at the top level (its print sits under `if desc`).
    assert diff(vmsd("dev", version=2, minimum=1), vmsd("dev", version=4, minimum=3)) == [
        ("vmstate-version-too-old", "dev", "", 2, 3, "error")]


def test_version_changed_but_accepted() -> None:
    assert diff(vmsd("dev", version=2, minimum=1), vmsd("dev", version=3, minimum=2)) == [
        ("vmstate-version-changed", "dev", "", (2, 1), (3, 2), "note")]


def test_subsection_version_is_checked_on_the_wire() -> None:
    old = vmsd("dev", subs=(sub("dev/s", version=2),))
    new = vmsd("dev", subs=(sub("dev/s", version=1),))
    assert diff(old, new) == [("vmstate-version-too-new", "dev", "[dev/s]", 2, 1, "error")]


def test_nested_version_is_not_on_the_wire() -> None:
    # A struct is read with NEW's own version: a lower one is no error by itself.
    old = vmsd("dev", struct("s", vmsd("inner", leaf("x"), version=7, minimum=3)))
    new = vmsd("dev", struct("s", vmsd("inner", leaf("x"), version=6, minimum=3)))
    assert diff(old, new) == [("vmstate-version-changed", "dev", "s", (7, 3), (6, 3), "note")]


def test_a_field_behind_a_raised_nested_version_still_breaks() -> None:
    # The peer's blind spot: the nested version is not sent, so NEW reads 'y' from an OLD
    # stream that lacks it (esp gained drq_state this way in 10.0).
    old = vmsd("dev", struct("s", vmsd("inner", leaf("x"), version=1)))
    new = vmsd("dev", struct("s", vmsd("inner", leaf("x"), leaf("y", 1, version=2),
                                       version=2)))
    assert diff(old, new) == [
        ("vmstate-field-added", "dev", "s.y", None, 1, "error"),
        ("vmstate-version-changed", "dev", "s", (1, 1), (2, 1), "note")]


# -- fields ---------------------------------------------------------------------------------

def test_field_removed_in_the_middle_and_at_the_end() -> None:
    new = vmsd("dev", leaf("b", 2), subs=BASE.subsections)
    assert diff(BASE, new) == [("vmstate-field-removed", "dev", "a", 4, None, "error"),
                               ("vmstate-field-removed", "dev", "c", 1, None, "error")]


def test_field_removed_that_a_callback_guards_is_a_warning() -> None:
    old = vmsd("dev", leaf("a"), leaf("t", 1, exists=True))
    assert diff(old, vmsd("dev", leaf("a"))) == [
        ("vmstate-field-removed", "dev", "t", 1, None, "warning")]


def test_field_removed_that_old_never_sends_is_a_note() -> None:
    old = vmsd("dev", leaf("a"), leaf("later", 1, version=5), version=2)
    assert diff(old, vmsd("dev", leaf("a"), version=2)) == [
        ("vmstate-field-removed", "dev", "later", 1, None, "note")]


def test_field_added_unguarded_breaks() -> None:
    # The peer never reports fields NEW adds at the end.
    new = vmsd("dev", *BASE.fields, leaf("d", 8), subs=BASE.subsections)
    assert diff(BASE, new) == [("vmstate-field-added", "dev", "d", None, 8, "error")]


def test_field_added_behind_a_version_is_a_note() -> None:
    old = vmsd("dev", leaf("a"), version=2)
    new = vmsd("dev", leaf("a"), leaf("d", 8, version=3), version=3)
    assert diff(old, new) == [
        ("vmstate-version-changed", "dev", "", (2, 1), (3, 1), "note"),
        ("vmstate-field-added", "dev", "d", None, 8, "note")]


def test_field_added_behind_a_callback_is_a_warning() -> None:
    new = vmsd("dev", leaf("a"), leaf("t", 8, exists=True))
    assert diff(vmsd("dev", leaf("a")), new) == [
        ("vmstate-field-added", "dev", "t", None, 8, "warning")]


def test_a_moved_field_is_removed_and_added() -> None:
    old = vmsd("dev", leaf("a"), leaf("b", 2), leaf("c", 1))
    new = vmsd("dev", leaf("b", 2), leaf("c", 1), leaf("a"))
    assert diff(old, new) == [("vmstate-field-removed", "dev", "a", 4, None, "error"),
                              ("vmstate-field-added", "dev", "a", None, 4, "error")]


def test_field_renamed_same_position_and_size() -> None:
    old = vmsd("dev", leaf("a"), leaf("num_timers", 1), leaf("c", 1), leaf("d", 2))
    new = vmsd("dev", leaf("a"), leaf("num_timers_save", 1), leaf("c", 1), leaf("e", 2))
    # Both renames: the peer stops at the first mismatch ("skipping rest").
    assert diff(old, new) == [
        ("vmstate-field-renamed", "dev", "num_timers", "num_timers", "num_timers_save", "note"),
        ("vmstate-field-renamed", "dev", "d", "d", "e", "note")]


def test_renames_into_a_struct_keep_the_bytes() -> None:
    # Fields moved into a substruct (the peer's exists_in_substruct): paths change, bytes not.
    old = vmsd("dev", leaf("head"), leaf("n"))
    new = vmsd("dev", struct("hid", vmsd("hid", leaf("head"), leaf("n"))))
    assert diff(old, new) == [
        ("vmstate-field-renamed", "dev", "head", "head", "hid.head", "note"),
        ("vmstate-field-renamed", "dev", "n", "n", "hid.n", "note")]


def test_renamed_field_of_unknown_size_is_a_warning() -> None:
    # Size 0 is a custom info (virtio, pci config): the dump does not say its bytes.
    old = vmsd("dev", leaf("virtio", 0))
    new = vmsd("dev", leaf("virtio-gpu", 0))
    assert diff(old, new) == [
        ("vmstate-field-renamed", "dev", "virtio", "virtio", "virtio-gpu", "warning")]


def test_fields_retired_into_one_unused_buffer() -> None:
    # sb16 in 10.0: irq, dma, hdma, port, ver became VMSTATE_UNUSED(20).
    old = vmsd("dev", leaf("a"), *(leaf(n) for n in ("irq", "dma", "hdma", "port", "ver")),
               leaf("z", 1))
    new = vmsd("dev", leaf("a"), leaf("unused", 20), leaf("z", 1))
    assert diff(old, new) == [("vmstate-field-renamed", "dev", "irq",
                               "irq, dma, hdma, port, ver", "unused", "note")]


def test_field_size_changed() -> None:
    old = vmsd("dev", leaf("kbd.keycodes", 4))
    new = vmsd("dev", leaf("kbd.keycodes", 2))
    assert diff(old, new) == [
        ("vmstate-field-size-changed", "dev", "kbd.keycodes", "4 bytes", "2 bytes", "error")]


def test_an_array_retired_into_unused_is_a_warning() -> None:
    # e1000e: bool eitr_intr_pending[5] became VMSTATE_UNUSED(5); the dump has no counts.
    old = vmsd("dev", leaf("a"), leaf("eitr_intr_pending", 1), leaf("z"))
    new = vmsd("dev", leaf("a"), leaf("unused", 5), leaf("z"))
    assert diff(old, new) == [("vmstate-field-size-changed", "dev", "eitr_intr_pending",
                               "1 byte", "5 bytes", "warning")]


def test_field_count_changed_in_a_complete_schema() -> None:
    def arr(n: int) -> VMStateDescription:
        return VMStateDescription("dev", 1, 1, (Field("regs", "uint8", count=n),))
    assert diff(arr(4), arr(8)) == [
        ("vmstate-field-size-changed", "dev", "regs", "4 x 1 byte", "8 x 1 byte", "error")]


def test_field_version_that_splits_presence_is_an_error() -> None:
    # OLD (v2) sends 'b'; NEW reads it only from v3 streams.
    old = vmsd("dev", leaf("a"), leaf("b", version=2), version=2)
    new = vmsd("dev", leaf("a"), leaf("b", version=3), version=3)
    assert diff(old, new) == [
        ("vmstate-version-changed", "dev", "", (2, 1), (3, 1), "note"),
        ("vmstate-field-version", "dev", "b", 2, 3, "error")]


def test_field_version_that_both_sides_agree_on_is_a_note() -> None:
    old = vmsd("dev", leaf("b", version=2), version=2)
    new = vmsd("dev", leaf("b", version=1), version=2)
    assert diff(old, new) == [("vmstate-field-version", "dev", "b", 2, 1, "note")]


def test_field_exists_changed() -> None:
    assert diff(vmsd("dev", leaf("a")), vmsd("dev", leaf("a", exists=True))) == [
        ("vmstate-field-exists-changed", "dev", "a", False, True, "warning")]


def test_field_struct_changed() -> None:
    # The peer's 'missing description': the leaves are compared too.
    old = vmsd("dev", struct("pci", vmsd("PCIDevice", leaf("version_id"))))
    new = vmsd("dev", leaf("pci"))
    assert diff(old, new) == [
        ("vmstate-field-renamed", "dev", "pci.version_id", "pci.version_id", "pci", "note"),
        ("vmstate-field-struct-changed", "dev", "pci", "PCIDevice", None, "note")]


def test_nested_structs_pair_by_description_when_renamed() -> None:
    # e1000: 'dev' became 'parent_obj'; the nested version change is still seen.
    old = vmsd("dev", struct("dev", vmsd("PCIDevice", leaf("config"), version=1)))
    new = vmsd("dev", struct("parent_obj", vmsd("PCIDevice", leaf("config"), version=2)))
    assert diff(old, new) == [
        ("vmstate-field-renamed", "dev", "dev.config", "dev.config", "parent_obj.config",
         "note"),
        ("vmstate-version-changed", "dev", "dev", (1, 1), (2, 1), "note")]


# -- subsections ----------------------------------------------------------------------------

def test_subsection_removed_is_a_warning_when_needed_is_unknown() -> None:
    new = vmsd("dev", *BASE.fields)
    assert diff(BASE, new) == [
        ("vmstate-subsection-removed", "dev", "[dev/extra]", "dev/extra", None, "warning")]


@pytest.mark.parametrize(("needed", "severity"), [(ALWAYS, "error"), (NEVER, "note")])
def test_subsection_removed_by_its_needed_rule(needed: Rule, severity: str) -> None:
    old = vmsd("dev", subs=(sub("dev/s", needed=needed),))
    assert diff(old, vmsd("dev")) == [
        ("vmstate-subsection-removed", "dev", "[dev/s]", "dev/s", None, severity)]


def test_subsection_added() -> None:
    new = vmsd("dev", *BASE.fields, subs=(*BASE.subsections, sub("dev/more")))
    assert diff(BASE, new) == [
        ("vmstate-subsection-added", "dev", "[dev/more]", None, "dev/more", "note")]


def test_subsections_of_a_nested_struct_and_their_fields() -> None:
    inner = vmsd("fdrive", leaf("head"), subs=(sub("fdrive/media_rate", leaf("r", 1)),))
    old = vmsd("dev", struct("drives", inner))
    gone = vmsd("dev", struct("drives", vmsd("fdrive", leaf("head"))))
    grown = vmsd("dev", struct("drives", vmsd("fdrive", leaf("head"), subs=(
        sub("fdrive/media_rate", leaf("r", 1), leaf("s", 2)),))))
    assert diff(old, gone) == [("vmstate-subsection-removed", "dev",
                                "drives.[fdrive/media_rate]", "fdrive/media_rate", None,
                                "warning")]
    assert diff(old, grown) == [
        ("vmstate-field-added", "dev", "drives.[fdrive/media_rate].s", None, 2, "error")]


def test_direction_swaps_added_and_removed() -> None:
    new = vmsd("dev", *BASE.fields, leaf("d", 8), subs=())
    assert diff(BASE, new) == [
        ("vmstate-field-added", "dev", "d", None, 8, "error"),
        ("vmstate-subsection-removed", "dev", "[dev/extra]", "dev/extra", None, "warning")]
    assert diff(new, BASE) == [
        ("vmstate-field-removed", "dev", "d", 8, None, "error"),
        ("vmstate-subsection-added", "dev", "[dev/extra]", None, "dev/extra", "note")]


# -- the table ------------------------------------------------------------------------------

def test_every_kind_is_tested_here() -> None:
    source = Path(__file__).read_text()
    assert [k for k in KINDS if f'"{k}"' not in source] == []


def test_a_bad_kind_or_severity_is_refused() -> None:
    with pytest.raises(SchemaError):
        finding("vmstate-nonsense", "dev", "", None, None, "x.")
    with pytest.raises(SchemaError):
        finding("vmstate-field-added", "dev", "", None, None, "x.", "fatal")
    with pytest.raises(SchemaError):
        FindingKind("vmstate-x", "bad", "meaning")


def test_the_docs_table_matches_the_kinds() -> None:
    rows = re.findall(r"^\| `(vmstate-[a-z-]+)` \| (\w+) \| (.+?) \|$", DOC.read_text(),
                      re.MULTILINE)
    assert [(k, s, m) for k, s, m in rows] == [
        (k.name, k.severity, k.meaning) for k in KINDS.values()]
