"""Decoded VMState values: what one section (or subsection, or nested struct) holds.

Values are plain Python: ``int`` for integer infos (and timers), ``bool``, ``bytes`` for
buffers and opaque infos (kept raw so that re-encoding is byte-exact), ``tuple`` for arrays
and :class:`VMStateData` for nested structs. Everything is immutable.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TypeAlias

from migcompat.vmstate.schema import VMStateDescription

Value: TypeAlias = "int | bool | bytes | tuple[Value, ...] | VMStateData"


@dataclass(frozen=True)
class VMStateData:
    """The state of one description at one version, in wire order.

    ``values`` holds only the fields that exist at ``version_id`` (gated fields that are
    absent on the wire are absent here). ``subsections`` are in stream order.
    """

    vmsd: VMStateDescription = field(compare=False, repr=False)
    version_id: int
    values: tuple[tuple[str, Value], ...] = ()
    subsections: tuple[VMStateData, ...] = ()
    name: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", self.vmsd.name)

    def __getitem__(self, name: str) -> Value:
        for key, value in self.values:
            if key == name:
                return value
        raise KeyError(name)

    def __contains__(self, name: object) -> bool:
        return any(key == name for key, _ in self.values)

    def __iter__(self) -> Iterator[str]:
        return (key for key, _ in self.values)

    def get(self, name: str, default: Value | None = None) -> Value | None:
        try:
            return self[name]
        except KeyError:
            return default

    def subsection(self, name: str) -> VMStateData | None:
        for sub in self.subsections:
            if sub.name == name:
                return sub
        return None

    def to_json(self) -> dict[str, object]:
        """A JSON-ready view: bytes as hex strings, nested structs as objects."""
        out: dict[str, object] = {
            "vmsd_name": self.name,
            "version": self.version_id,
            "fields": {key: _json_value(value) for key, value in self.values},
        }
        if self.subsections:
            out["subsections"] = [sub.to_json() for sub in self.subsections]
        return out


def _json_value(value: Value) -> object:
    if isinstance(value, VMStateData):
        return value.to_json()
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, tuple):
        return [_json_value(v) for v in value]
    return value
