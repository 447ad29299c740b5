"""What ``analyze`` finds in a stream: plain data with offsets, and its JSON shape.

Offsets are absolute byte offsets in the stream. A section's ``size`` runs from its type
byte through its footer (or, without footers, through the end of its body).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from migcompat.analysis.stream_tools.layout import leaves
from migcompat.errors import StreamError
from migcompat.stream.constants import Cmd
from migcompat.vmstate.data import Value, VMStateData


@dataclass
class RamCounts:
    """RAM records of one block (or one section): zero pages, full pages, others."""

    zero_pages: int = 0
    full_pages: int = 0
    fill_pages: int = 0  # zero-page records whose fill byte is not 0 (QEMU accepts them)
    xbzrle_pages: int = 0
    compressed_pages: int = 0

    def to_json(self) -> dict[str, int]:
        out = {"zero_pages": self.zero_pages, "full_pages": self.full_pages}
        for key in ("fill_pages", "xbzrle_pages", "compressed_pages"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        return out


@dataclass
class RamBlockReport:
    idstr: str
    used_length: int
    counts: RamCounts = field(default_factory=RamCounts)
    file: str | None = None  # set by --extract

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"idstr": self.idstr, "used_length": self.used_length,
                               **self.counts.to_json()}
        if self.file is not None:
            out["file"] = self.file
        return out


@dataclass
class SectionReport:
    kind: str  # start | part | end | full
    section_id: int
    idstr: str
    instance_id: int
    version_id: int
    offset: int
    body_offset: int
    body_size: int | None = None
    footer_offset: int | None = None
    size: int | None = None
    state: VMStateData | None = None
    ram: RamCounts | None = None
    ram_blocks: list[tuple[str, int]] | None = None  # the MEM_SIZE list of a START section
    described_version: int | None = None  # the vmdesc's version when it differs

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": self.kind, "section_id": self.section_id, "idstr": self.idstr,
            "instance_id": self.instance_id, "version_id": self.version_id,
            "offset": self.offset, "size": self.size, "body_offset": self.body_offset,
            "body_size": self.body_size, "footer_offset": self.footer_offset,
        }
        if self.described_version is not None:
            out["described_version"] = self.described_version
        if self.ram_blocks is not None:
            out["ram_blocks"] = [{"idstr": n, "used_length": s} for n, s in self.ram_blocks]
        if self.ram is not None:
            out.update(self.ram.to_json())
        if self.state is not None:
            out["vmsd_name"] = self.state.name
            out["fields"] = fields_json(self.state, self.body_offset)
        return out


@dataclass
class ItemReport:
    """A top-level item that is not a section: command, EOF, vmdesc."""

    kind: str  # command | eof | vmdesc
    offset: int
    size: int
    detail: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"type": self.kind, "offset": self.offset, "size": self.size, **self.detail}


@dataclass
class StreamReport:
    size: int
    version: int | None = None
    configuration: dict[str, Any] | None = None
    config_state: VMStateData | None = None
    items: list[SectionReport | ItemReport] = field(default_factory=list)
    ram_total: int | None = None
    ram_blocks: dict[str, RamBlockReport] = field(default_factory=dict)
    footers: bool | None = None
    vmdesc_json: bytes | None = None
    layout_from: str = "none"  # vmdesc | schema:vmdesc | schema:dump | none
    warnings: list[str] = field(default_factory=list)
    error: StreamError | None = None
    end: int = 0  # offset where reading stopped

    @property
    def sections(self) -> list[SectionReport]:
        return [i for i in self.items if isinstance(i, SectionReport)]

    @property
    def complete(self) -> bool:
        return self.error is None

    def to_json(self) -> dict[str, Any]:
        err = None
        if self.error is not None:
            err = {"message": self.error.message, "offset": self.error.offset,
                   "section": self.error.section, "field": self.error.field}
        return {
            "size": self.size, "version": self.version, "complete": self.complete,
            "layout_from": self.layout_from, "footers": self.footers,
            "configuration": self.configuration,
            "ram": {"total": self.ram_total,
                    "blocks": [b.to_json() for b in self.ram_blocks.values()]},
            "items": [i.to_json() for i in self.items],
            "warnings": self.warnings, "error": err, "end": self.end,
        }


def json_value(value: Value | None) -> object:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, tuple):
        return [json_value(v) for v in value]
    if isinstance(value, VMStateData):  # pragma: no cover - leaves are never structs
        return value.to_json()
    return value


def fields_json(state: VMStateData, base: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for leaf in leaves(state, base):
        entry: dict[str, Any] = {"path": leaf.path, "type": leaf.info, "offset": leaf.offset,
                                 "size": leaf.size}
        if leaf.version is not None:
            entry["version"] = leaf.version
        else:
            entry["value"] = json_value(leaf.value)
        out.append(entry)
    return out


def command_name(cmd: int) -> str:
    try:
        return Cmd(cmd).name
    except ValueError:
        return f"0x{cmd:x}"
