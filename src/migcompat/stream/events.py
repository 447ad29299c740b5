"""Stream events: immutable and self-validating (bad values fail at construction).

A stream is a sequence of events; :mod:`.states` says which may follow which. Section
headers, their bodies and footers are separate events, so RAM can flow record by record.
``Page`` and ``ZeroPage`` are tuples (cheap: a RAM-heavy stream has millions); the decoder
builds them through a trusted path that skips re-validation of what it just parsed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from typing import Any, NamedTuple

from migcompat.stream.constants import FILE_VERSION
from migcompat.vmstate.data import VMStateData
from migcompat.vmstate.vmdesc import parse_vmdesc_json

_U32 = (1 << 32) - 1
_U64 = (1 << 64) - 1


def _u32(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _U32:
        raise ValueError(f"{name} must be a 32-bit unsigned integer, not {value!r}")


def _idstr(value: str, what: str = "idstr") -> None:
    if not isinstance(value, str) or not 0 < len(value.encode()) <= 255:
        raise ValueError(f"{what} must be a string of 1..255 bytes, not {value!r}")


@dataclass(frozen=True, slots=True)
class Header:
    """Magic + file version. Only version 3 loads; others exist to test the rejection."""

    version: int = FILE_VERSION

    def __post_init__(self) -> None:
        _u32("version", self.version)


@dataclass(frozen=True, slots=True)
class Configuration:
    """The configuration section: machine type name and optional config subsections."""

    machine: str
    subsections: tuple[VMStateData, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.machine, str):
            raise ValueError("machine must be a string")
        for sub in self.subsections:
            if not sub.name.startswith("configuration/"):
                raise ValueError(f"'{sub.name}' is not a configuration subsection")


@dataclass(frozen=True, slots=True)
class SectionStart:
    """QEMU_VM_SECTION_START: an iterative handler's first chunk (RAM's block list)."""

    section_id: int
    idstr: str
    instance_id: int
    version_id: int

    def __post_init__(self) -> None:
        _u32("section_id", self.section_id)
        _idstr(self.idstr)
        _u32("instance_id", self.instance_id)
        _u32("version_id", self.version_id)


@dataclass(frozen=True, slots=True)
class SectionFull:
    """QEMU_VM_SECTION_FULL: the whole state of a device in one section."""

    section_id: int
    idstr: str
    instance_id: int
    version_id: int

    def __post_init__(self) -> None:
        _u32("section_id", self.section_id)
        _idstr(self.idstr)
        _u32("instance_id", self.instance_id)
        _u32("version_id", self.version_id)


@dataclass(frozen=True, slots=True)
class SectionPart:
    """QEMU_VM_SECTION_PART: another chunk of a started section."""

    section_id: int

    def __post_init__(self) -> None:
        _u32("section_id", self.section_id)


@dataclass(frozen=True, slots=True)
class SectionEnd:
    """QEMU_VM_SECTION_END: the last chunk of a started section."""

    section_id: int

    def __post_init__(self) -> None:
        _u32("section_id", self.section_id)


@dataclass(frozen=True, slots=True)
class SectionState:
    """The VMState body of a FULL section, decoded with a schema."""

    state: VMStateData


@dataclass(frozen=True, slots=True)
class Footer:
    """QEMU_VM_SECTION_FOOTER after a section body."""

    section_id: int

    def __post_init__(self) -> None:
        _u32("section_id", self.section_id)


@dataclass(frozen=True, slots=True)
class Command:
    """QEMU_VM_COMMAND: be16 command, be16 length, payload."""

    cmd: int
    payload: bytes = b""

    def __post_init__(self) -> None:
        if (
            isinstance(self.cmd, bool)
            or not isinstance(self.cmd, int)
            or not 0 <= self.cmd < 1 << 16
        ):
            raise ValueError(f"cmd must be a 16-bit integer, not {self.cmd!r}")
        if not isinstance(self.payload, bytes) or len(self.payload) >= 1 << 16:
            raise ValueError("payload must be bytes shorter than 64 KiB")


class RamBlockInfo(NamedTuple):
    """One entry of the MEM_SIZE block list. ``page_size``/``gpa`` only with the postcopy
    page-size and x-ignore-shared capabilities (reference §3.2)."""

    idstr: str
    used_length: int
    page_size: int | None = None
    gpa: int | None = None


@dataclass(frozen=True, slots=True)
class MemSize:
    """RAM_SAVE_FLAG_MEM_SIZE: total RAM bytes and the block list."""

    total: int
    blocks: tuple[RamBlockInfo, ...]

    def __post_init__(self) -> None:
        if not 0 <= self.total <= _U64:
            raise ValueError("total must fit 64 bits")
        for b in self.blocks:
            _idstr(b.idstr, "block idstr")
            if not 0 <= b.used_length <= _U64:
                raise ValueError("used_length must fit 64 bits")
        if sum(b.used_length for b in self.blocks) != self.total and self.blocks:
            raise ValueError("the block lengths must add up to total")


class _PageFields(NamedTuple):
    block: str
    offset: int
    data: bytes | memoryview
    continued: bool


class Page(_PageFields):
    """RAM_SAVE_FLAG_PAGE: a full page. ``data`` may be a memoryview into the fed input."""

    __slots__ = ()

    def __new__(
        cls, block: str, offset: int, data: bytes | memoryview, continued: bool = False
    ) -> Page:
        _idstr(block, "block")
        if not 0 <= offset <= _U64 or not data:
            raise ValueError("a page needs an offset >= 0 and some data")
        return super().__new__(cls, block, offset, data, continued)


class _ZeroFields(NamedTuple):
    block: str
    offset: int
    fill: int
    continued: bool


class ZeroPage(_ZeroFields):
    """RAM_SAVE_FLAG_ZERO: a page filled with one byte (QEMU writes 0; any byte loads)."""

    __slots__ = ()

    def __new__(cls, block: str, offset: int, fill: int = 0, continued: bool = False) -> ZeroPage:
        _idstr(block, "block")
        if not 0 <= offset <= _U64 or not 0 <= fill <= 255:
            raise ValueError("a zero page needs an offset >= 0 and a fill byte")
        return super().__new__(cls, block, offset, fill, continued)


@dataclass(frozen=True, slots=True)
class XbzrlePage:
    """RAM_SAVE_FLAG_XBZRLE: a delta against the previous copy of the page (kept raw)."""

    block: str
    offset: int
    continued: bool
    encoding: int
    data: bytes


@dataclass(frozen=True, slots=True)
class CompressedPage:
    """RAM_SAVE_FLAG_COMPRESS_PAGE: a zlib page (kept raw)."""

    block: str
    offset: int
    continued: bool
    data: bytes


@dataclass(frozen=True, slots=True)
class RamEOS:
    """RAM_SAVE_FLAG_EOS: the end of one RAM section body. ``addr``: the header's
    page-address bits, which mean nothing here (QEMU writes 0 and ignores them)."""

    addr: int = 0


@dataclass(frozen=True, slots=True)
class EOF:
    """QEMU_VM_EOF: the end of the device state."""


@dataclass(frozen=True)
class VMDescription:
    """QEMU_VM_VMDESCRIPTION: the trailing JSON, kept as its exact bytes."""

    json_bytes: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.json_bytes, bytes) or len(self.json_bytes) > _U32:
            raise ValueError("json_bytes must be bytes of at most 4 GiB")

    @cached_property
    def parsed(self) -> Any:
        """The JSON as Python objects (raises StreamError when it is not valid JSON)."""
        return parse_vmdesc_json(self.json_bytes)

    @classmethod
    def from_json(cls, obj: object) -> VMDescription:
        return cls(json.dumps(obj, separators=(",", ":")).encode())


RamRecord = Page | ZeroPage | XbzrlePage | CompressedPage | MemSize | RamEOS
Event = (
    Header
    | Configuration
    | SectionStart
    | SectionFull
    | SectionPart
    | SectionEnd
    | SectionState
    | Footer
    | Command
    | RamRecord
    | EOF
    | VMDescription
)
