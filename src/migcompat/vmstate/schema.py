"""VMState schemas: a pure data model of QEMU's VMStateDescription (reference §2.1-§2.3).

A :class:`VMStateDescription` is what both ends of a migration use to write and read one
device's state: a name, a version, the oldest version it can still load, ordered fields and
subsections. Flags that never reach the wire (POINTER, ALLOC, ...) have no place here; what
remains is what decides the bytes: the info kind, the element size, the element count and
whether the field exists at a given version.

Schemas come from three sources, each in its own module: our catalog data
(:mod:`.catalog`), the trailing JSON of a stream (:mod:`.vmdesc`) and ``-dump-vmstate``
(:mod:`.dump`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from migcompat.errors import SchemaError
from migcompat.vmstate.infos import Info, Kind, lookup
from migcompat.vmstate.rules import ALWAYS, Rule


@dataclass(frozen=True)
class FromField:
    """A count or size held by an earlier field of the same struct (VMS_VARRAY_*, VBUFFER)."""

    field: str
    multiply: int = 1


@dataclass(frozen=True)
class FromProperty:
    """A count or value given by a device property the caller supplies (e.g. num-queues)."""

    property: str
    multiply: int = 1


Amount = int | FromField | FromProperty


@dataclass(frozen=True)
class Field:
    """One VMStateField as it affects the wire.

    ``count`` is None for a single element (the value is a scalar, bytes or a struct) and an
    :data:`Amount` for an array (the value is a tuple). ``size`` is the element size in bytes:
    implied for integer infos, required for byte buffers and opaque infos. ``local`` is the
    destination's own value that the ``equal``/``le`` infos compare against; without it the
    check is skipped. ``struct_version`` is set for VMS_VSTRUCT (the child loads with that
    version); plain structs load with the child's own ``version_id``, as QEMU does.
    """

    name: str
    info: str
    size: Amount = 0
    count: Amount | None = None
    version_id: int = 0
    exists: Rule | None = None
    struct: VMStateDescription | None = None
    struct_version: int | None = None
    local: int | FromProperty | None = None
    spec: Info = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        spec = lookup(self.info)
        object.__setattr__(self, "spec", spec)
        if spec.kind is Kind.STRUCT:
            if self.struct is None:
                raise SchemaError(f"field '{self.name}': info '{self.info}' needs a struct")
        elif self.struct is not None:
            raise SchemaError(f"field '{self.name}': only struct infos take a struct")
        sized = spec.kind in (Kind.INT, Kind.BOOL) and isinstance(self.size, int)
        if sized and self.size not in (0, spec.width):
            raise SchemaError(
                f"field '{self.name}': {self.info} is {spec.width} byte(s), not {self.size}"
            )
        if isinstance(self.size, int) and self.size < 0:
            raise SchemaError(f"field '{self.name}': negative size")
        if isinstance(self.count, int) and self.count < 0:
            raise SchemaError(f"field '{self.name}': negative count")

    @property
    def is_array(self) -> bool:
        return self.count is not None

    def element_size(self) -> Amount:
        """Bytes of one element: the info width for integers, else ``size``."""
        if self.spec.kind in (Kind.INT, Kind.BOOL):
            return self.spec.width
        return self.size


@dataclass(frozen=True)
class VMStateDescription:
    """A versioned state description: a top-level section or a subsection.

    ``needed`` is only meaningful for subsections (QEMU's ``needed`` callback); a top-level
    description whose state is skipped is simply absent from the stream. ``complete`` is
    False for schemas from ``-dump-vmstate``, which lack info kinds and counts: they are good
    for comparing versions and field lists, not for decoding bytes.
    """

    name: str
    version_id: int
    minimum_version_id: int = 0
    fields: tuple[Field, ...] = ()
    subsections: tuple[VMStateDescription, ...] = ()
    needed: Rule = ALWAYS
    complete: bool = True

    def __post_init__(self) -> None:
        if not self.name:
            raise SchemaError("a VMStateDescription needs a name")
        if len(self.name.encode()) > 255:
            raise SchemaError(f"'{self.name[:40]}...': a vmsd name is at most 255 bytes")

    def subsection(self, name: str) -> VMStateDescription | None:
        for sub in self.subsections:
            if sub.name == name:
                return sub
        return None

    def field_named(self, name: str) -> Field | None:
        for f in self.fields:
            if f.name == name:
                return f
        return None


@dataclass(frozen=True)
class SectionSchema:
    """A description bound to the properties of one device instance (for counts and rules)."""

    vmsd: VMStateDescription
    properties: Mapping[str, object] = field(default_factory=dict)


# The resolver the stream decoder asks for the layout of a section body:
# (idstr, instance_id, stream version_id) -> schema, or None when the section is unknown.
SchemaResolver = Callable[[str, int, int], VMStateDescription | SectionSchema | None]


def as_section_schema(found: VMStateDescription | SectionSchema) -> SectionSchema:
    return found if isinstance(found, SectionSchema) else SectionSchema(found)
