"""What a loading destination is given and what it gives back: its own description
(:class:`Destination`, its RAM blocks), the observer of the pages it loads, and the result
(:class:`LoadedState`)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Literal, Protocol

from migcompat.model.memory import Memory
from migcompat.model.ram import PageMap
from migcompat.stream.constants import PAGE_SIZE
from migcompat.stream.events import VMDescription
from migcompat.vmstate.data import VMStateData
from migcompat.vmstate.schema import SchemaResolver

RamMode = Literal["dense", "sparse", "discard"]


class RamObserver(Protocol):
    """Told about every page a load changes, in stream order, after the page was checked
    (a migration hashes the pages as they arrive, while the source is still sending).

    A full-page record whose page is all zero is reported as a zero page."""

    def page_records(self, block: str, offset: int, count: int, records: memoryview) -> None:
        """``count`` non-zero pages at consecutive offsets from ``offset``, as the CONTINUE
        page records that carried them: each an 8-byte header (be64 ``offset | PAGE |
        CONTINUE``) followed by the page."""

    def page(self, block: str, offset: int, data: bytes | memoryview) -> None:
        """One non-zero page (one that did not come in such a run)."""

    def zero_pages(self, block: str, offset: int, count: int) -> None:
        """``count`` pages at consecutive offsets from ``offset`` are now zero."""


@dataclass(frozen=True)
class RamBlock:
    """A destination RAMBlock. A resizable block (``max_length`` set) accepts any incoming
    size up to ``max_length``, as QEMU's ACPI table blocks do."""

    idstr: str
    used_length: int
    max_length: int | None = None


@dataclass(frozen=True)
class Destination:
    """What the receiving side knows. ``None`` means "do not check" for machine, RAM blocks
    and sections (then a section is known when the resolver has a schema for it)."""

    resolver: SchemaResolver | None = None
    machine: str | None = None
    ram_blocks: Collection[RamBlock] | None = None
    sections: Collection[tuple[str, int]] | None = None
    configuration: bool | None = True  # the destination machine's send-configuration
    footers: bool | None = True  # the destination machine's send-section-footer
    page_size: int = PAGE_SIZE
    capabilities: frozenset[str] = frozenset()


@dataclass
class LoadedState:
    """The result of a load. RAM is in ``ram`` (block idstr -> bytearray) in "dense" mode, or
    in ``ram_pages`` (block idstr -> {offset: page}, a :class:`PageMap`, non-zero pages only)
    in "sparse", where a page is a read-only memoryview into the fed input (no copy). A
    full-page record whose page is all zero loads as a zero page."""

    machine: str | None = None
    sections: dict[tuple[str, int], VMStateData] = field(default_factory=dict)
    ram: dict[str, Memory] = field(default_factory=dict)
    ram_pages: dict[str, PageMap] = field(default_factory=dict)
    ram_sizes: dict[str, int] = field(default_factory=dict)
    # Dense mode: per block, the offsets of pages a record wrote (all others are still zero).
    ram_written: dict[str, set[int]] = field(default_factory=dict)
    vmdesc: VMDescription | None = None
    warnings: list[str] = field(default_factory=list)
    pages: int = 0
    zero_pages: int = 0
    bytes_read: int = 0
