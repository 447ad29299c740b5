"""The VMStateInfo kinds we know, keyed by QEMU's info name (the vmdesc ``type``).

Encodings follow reference §2.4: every integer is big-endian; ``bool`` is one byte (any
non-zero byte loads as true); ``timer`` is a be64 expiry; the ``equal`` infos are checked
against the local value on load; ``int32 le`` must be ``0 <= v <= local``. QEMU names its
uint64 equality check ``"int64 equal"``; it is unsigned here as in QEMU.

Any other info name is *opaque*: device-specific bytes of a fixed size ("pci config",
"virtio", "pci irq state", ...). Opaque values are kept as raw bytes so that re-encoding is
byte-exact.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import Enum

# Plain byte infos: what they hold means nothing to the loader (unlike "pci config").
PLAIN_BYTES = ("buffer", "unused_buffer")


class Kind(Enum):
    INT = "int"  # signed or unsigned integer of a fixed width
    BOOL = "bool"
    BYTES = "bytes"  # buffer / unused_buffer / opaque: ``size`` raw bytes
    COUNTED = "counted"  # u8 length + bytes (the configuration ``capability`` info)
    STRUCT = "struct"  # nested description: VMS_STRUCT, VMS_VSTRUCT, tmp


class Check(Enum):
    NONE = "none"
    EQUAL = "equal"  # "%x != %x" on mismatch
    LE = "le"  # "Invalid value %d expecting positive value <= %d"


@dataclass(frozen=True)
class Info:
    name: str
    kind: Kind
    width: int = 0  # bytes on the wire for INT/BOOL; 0 when the field gives the size
    signed: bool = False
    check: Check = Check.NONE

    @property
    def struct(self) -> struct.Struct | None:
        if self.kind is not Kind.INT:
            return None
        return _STRUCTS[(self.width, self.signed)]


_STRUCTS = {
    (w, s): struct.Struct(">" + (c.lower() if s else c))
    for w, c in ((1, "B"), (2, "H"), (4, "I"), (8, "Q"))
    for s in (False, True)
}


def _ints() -> dict[str, Info]:
    table: dict[str, Info] = {}
    for bits in (8, 16, 32, 64):
        table[f"int{bits}"] = Info(f"int{bits}", Kind.INT, bits // 8, signed=True)
        table[f"uint{bits}"] = Info(f"uint{bits}", Kind.INT, bits // 8)
    return table


INFOS: dict[str, Info] = {
    **_ints(),
    "bool": Info("bool", Kind.BOOL, 1),
    "timer": Info("timer", Kind.INT, 8, signed=True),
    "int32 equal": Info("int32 equal", Kind.INT, 4, signed=True, check=Check.EQUAL),
    "uint32 equal": Info("uint32 equal", Kind.INT, 4, check=Check.EQUAL),
    "uint16 equal": Info("uint16 equal", Kind.INT, 2, check=Check.EQUAL),
    "uint8 equal": Info("uint8 equal", Kind.INT, 1, check=Check.EQUAL),
    "int64 equal": Info("int64 equal", Kind.INT, 8, check=Check.EQUAL),
    "int32 le": Info("int32 le", Kind.INT, 4, signed=True, check=Check.LE),
    "buffer": Info("buffer", Kind.BYTES),
    "unused_buffer": Info("unused_buffer", Kind.BYTES),
    "capability": Info("capability", Kind.COUNTED),
    "struct": Info("struct", Kind.STRUCT),
    "vstruct": Info("vstruct", Kind.STRUCT),
    "tmp": Info("tmp", Kind.STRUCT),
}


def lookup(name: str) -> Info:
    """The info for ``name``; unknown names are opaque fixed-size byte blobs."""
    info = INFOS.get(name)
    return info if info is not None else Info(name, Kind.BYTES)


def is_known(name: str) -> bool:
    return name in INFOS
