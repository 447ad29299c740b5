"""The findings of the VMState schema comparison (:mod:`.compare`), every kind in one table.

A finding's **severity** is about a stream that OLD saves and NEW loads:

- ``error``: NEW cannot load it (QEMU fails the load);
- ``warning``: it probably breaks, or it depends on what the schemas do not say (a
  ``field_exists`` or ``needed`` callback, a count the dump leaves out): review it;
- ``note``: the wire is the same, or an OLD stream never holds it; reported so nothing hides.

Each kind has the severity it takes by default; its meaning says when a finding takes
another. docs/lint-vmstate.md shows this table (a test keeps them equal).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from migcompat.errors import SchemaError

SEVERITIES = ("error", "warning", "note")


@dataclass(frozen=True)
class FindingKind:
    name: str
    severity: str  # the default; a finding may say otherwise (the table's meaning says when)
    meaning: str

    def __post_init__(self) -> None:
        # The table is code: a wrong entry fails at import, not when the finding first occurs.
        if self.severity not in SEVERITIES or not self.name.startswith("vmstate-"):
            raise SchemaError(f"finding kind {self.name!r}: bad name or severity")


KINDS: Mapping[str, FindingKind] = {k.name: k for k in (
    FindingKind("vmstate-machine-differs", "warning", "the dumps come from different machine "
                "types, so their device states may differ for that reason alone"),
    FindingKind("vmstate-section-removed", "error", "OLD has state for a QOM type NEW lacks: "
                "a stream with it holds a section NEW cannot load"),
    FindingKind("vmstate-section-renamed", "note", "the type is gone, but the one type new in "
                "NEW with the same description takes its place (the wire names descriptions)"),
    FindingKind("vmstate-section-added", "note", "NEW has state for a type OLD lacks; an OLD "
                "stream never holds it"),
    FindingKind("vmstate-description-renamed", "error", "a description's name changed: for a "
                "section it is the idstr on the wire (error); nested, no name is sent (note)"),
    FindingKind("vmstate-version-too-new", "error", "OLD's version is above NEW's version_id, "
                "which NEW refuses (a section or subsection)"),
    FindingKind("vmstate-version-too-old", "error", "OLD's version is below NEW's "
                "minimum_version_id, which NEW refuses (a section or subsection)"),
    FindingKind("vmstate-version-changed", "note", "versions differ, but NEW accepts OLD's "
                "(or, nested, the version is not on the wire)"),
    FindingKind("vmstate-field-removed", "error", "OLD sends a field NEW does not read; a "
                "warning when a field_exists callback decides, a note when OLD never sends it"),
    FindingKind("vmstate-field-added", "error", "NEW reads a field OLD does not send; a "
                "warning when a field_exists callback decides, a note when a version guards it"),
    FindingKind("vmstate-field-renamed", "note", "the same position and size under another "
                "name (the wire has no names); a warning when the size is unknown (0)"),
    FindingKind("vmstate-field-size-changed", "error", "a field's element size (or count) "
                "changed; a warning when an unused buffer may stand for a retired array"),
    FindingKind("vmstate-field-version", "error", "a field's version_id changed so that one "
                "side has it at the stream's version and the other not (else a note)"),
    FindingKind("vmstate-field-exists-changed", "warning", "a field gained or lost a "
                "field_exists callback: whether it is on the wire now depends on code"),
    FindingKind("vmstate-field-struct-changed", "note", "a field is a nested struct on one "
                "side and a plain field on the other (its bytes are compared leaf by leaf)"),
    FindingKind("vmstate-subsection-removed", "warning", "OLD may send a subsection NEW does "
                "not know, which fails the load (an error when it is always sent)"),
    FindingKind("vmstate-subsection-added", "note", "NEW knows a subsection OLD never sends; "
                "a missing subsection is not an error (reference §2.7)"),
)}


@dataclass(frozen=True)
class VmstateFinding:
    kind: str  # a key of KINDS
    section: str  # the QOM type, as the dump's keys
    field: str  # dotted path; a subsection is "[name]"; "" for the section itself
    old: object
    new: object
    severity: str
    message: str


def finding(kind: str, section: str, field: str, old: object, new: object, message: str,
            severity: str | None = None) -> VmstateFinding:
    """A finding of a registered kind, with that kind's severity unless told otherwise."""
    if kind not in KINDS:
        raise SchemaError(f"unknown finding kind {kind!r}: register it in vmstate/findings.py")
    chosen = KINDS[kind].severity if severity is None else severity
    if chosen not in SEVERITIES:
        raise SchemaError(f"{kind}: severity {chosen!r} is not one of {SEVERITIES}")
    return VmstateFinding(kind, section, field, old, new, chosen, message)
