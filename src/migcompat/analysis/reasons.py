"""Every reason code ``check`` can give, in one table (as buf keeps its breaking rules).

A reason's **category** says what it means for the migration:

- ``breaking``: the migration fails or QEMU refuses it;
- ``guest-visible``: it goes through, but the guest may see the difference;
- ``note``: neither; reported so that nothing is hidden.

Each code lists the categories it may take and the one it takes when its raise site does not
say. Most codes can only mean one thing; the property codes take their category from the
catalog's view of the property, so they allow all three. A ``Reason`` is checked against
this table when it is made: an unknown code or a category its code may not take is a bug in
the raise site, never a verdict. docs/check.md lists the table (a test keeps them equal).
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from migcompat.errors import SchemaError

Category = Literal["breaking", "guest-visible", "note"]
CATEGORIES: tuple[Category, ...] = ("breaking", "guest-visible", "note")

BREAKING: tuple[Category, ...] = ("breaking",)
NOTE: tuple[Category, ...] = ("note",)


@dataclass(frozen=True)
class ReasonCode:
    code: str
    description: str  # one line; docs/check.md shows it as is
    categories: tuple[Category, ...]
    default: Category

    def __post_init__(self) -> None:
        # The table is code: a wrong entry fails at import, not when the reason first occurs.
        if not self.categories or not set(self.categories) <= set(CATEGORIES):
            raise SchemaError(f"reason code '{self.code}': categories {self.categories} "
                              f"are not a non-empty subset of {CATEGORIES}")
        if self.default not in self.categories:
            raise SchemaError(f"reason code '{self.code}': default '{self.default}' is not "
                              f"one of its categories {self.categories}")


_TABLE = (
    # the configurations: can both sides start this VM, and is it the same one?
    ReasonCode("unknown-machine", "a side does not know the machine type, so QEMU cannot "
               "start the VM there", BREAKING, "breaking"),
    ReasonCode("unknown-device", "a side does not know a device type the VM uses",
               BREAKING, "breaking"),
    ReasonCode("cannot-start", "a side's QEMU refuses the configuration (a device with no "
               "bus of its kind, a PCI slot in use, a bad global), so the VM cannot start "
               "there", BREAKING, "breaking"),
    ReasonCode("machine-mismatch", "the sides resolve the machine type to different names, "
               "which QEMU refuses", BREAKING, "breaking"),
    ReasonCode("machine-option-differs", "the sides give a machine option different "
               "values (one that shapes the board breaks; a host-only one is a note)",
               ("breaking", "note"), "breaking"),
    ReasonCode("unversioned-machine", "the machine type is not versioned (isapc, microvm, "
               "none): QEMU does not support migrating it between releases", BREAKING,
               "breaking"),
    ReasonCode("device-missing", "the source has a device the destination lacks, so its "
               "state would be an unknown section", BREAKING, "breaking"),
    ReasonCode("device-type-differs", "the same device path has a different type on each "
               "side", BREAKING, "breaking"),
    ReasonCode("device-extra", "the destination has a device the source lacks; it keeps its "
               "reset state", NOTE, "note"),
    # properties: the catalog decides per property whether a difference matters
    ReasonCode("property-differs", "a property both sides have has different effective "
               "values", CATEGORIES, "breaking"),
    ReasonCode("property-one-side", "a property exists on one side only", CATEGORIES,
               "note"),
    ReasonCode("board-global-differs", "a -global gives a device the board creates another "
               "value on one side", CATEGORIES, "breaking"),
    # device state: what the source sends against what the destination loads
    ReasonCode("unknown-section", "the destination has no section with the idstr and "
               "instance the source sends", BREAKING, "breaking"),
    ReasonCode("section-version", "the source's section version is above the destination's, "
               "or below its minimum", BREAKING, "breaking"),
    ReasonCode("unknown-subsection", "the source sends a subsection the destination's build "
               "does not know", BREAKING, "breaking"),
    ReasonCode("subsection-version", "a subsection's version is outside what the destination "
               "accepts", BREAKING, "breaking"),
    ReasonCode("layout-differs", "the same section and version have different fields or "
               "sizes on each side", BREAKING, "breaking"),
    ReasonCode("equal-check", "a field the destination checks against its own value (an "
               "equal info) gets another value from the source", BREAKING, "breaking"),
    ReasonCode("struct-version", "a nested struct is at a newer version on the destination, "
               "whose loader reads the source's older one by tests no description shows",
               BREAKING, "breaking"),
    ReasonCode("migration-blocked", "the source has a device its build refuses to migrate",
               BREAKING, "breaking"),
    ReasonCode("unknown-ramblock", "the source sends a RAM block the destination lacks",
               BREAKING, "breaking"),
    ReasonCode("ramblock-size", "a source RAM block has a size the destination's block "
               "cannot take", BREAKING, "breaking"),
    # what was not compared, and why: never a guess either way
    ReasonCode("state-not-compared", "a release has no device-state schemas, so the section "
               "rules were skipped", NOTE, "note"),
    ReasonCode("state-not-captured", "a device or machine type was not captured, so its "
               "sections were not compared", NOTE, "note"),
    ReasonCode("schema-missing", "the device state could not be planned from the schemas, so "
               "it was not compared", NOTE, "note"),
)

REASON_CODES: Mapping[str, ReasonCode] = {entry.code: entry for entry in _TABLE}


def reason_code(code: str) -> ReasonCode:
    entry = REASON_CODES.get(code)
    if entry is None:
        raise SchemaError(f"unknown reason code '{code}': register it in "
                          "migcompat/analysis/reasons.py")
    return entry


@dataclass(frozen=True, init=False)
class Reason:
    """One finding of ``check``. ``category`` defaults to the code's default in the table;
    ``breaking`` is derived from it (JSON keeps both)."""

    code: str
    message: str
    device: str | None
    property: str | None
    section: str | None
    category: Category
    detail: dict[str, Any]

    def __init__(self, code: str, message: str, *, device: str | None = None,
                 property: str | None = None, section: str | None = None,
                 category: Category | None = None,
                 detail: Mapping[str, Any] | None = None) -> None:
        entry = reason_code(code)
        chosen = entry.default if category is None else category
        if chosen not in entry.categories:
            raise SchemaError(f"reason code '{code}' may not be '{chosen}' (it may be: "
                              f"{', '.join(entry.categories)})")
        # frozen: the generated __setattr__ refuses, as it should for everyone else
        for name, value in (("code", code), ("message", message), ("device", device),
                            ("property", property), ("section", section),
                            ("category", chosen), ("detail", dict(detail or {}))):
            object.__setattr__(self, name, value)

    @builtins.property  # the field named ``property`` hides the builtin in this class
    def breaking(self) -> bool:
        return self.category == "breaking"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message,
                               "breaking": self.breaking, "category": self.category}
        for key in ("device", "property", "section"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        out.update(self.detail)
        return out
