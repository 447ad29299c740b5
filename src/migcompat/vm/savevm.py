"""Saving a live VM as a QEMU migration stream (pure: yields bytes, does no I/O).

Order as QEMU writes it (reference §1.8): header, configuration, RAM START with the block
list, RAM pages in PART sections, RAM END, one FULL section per device state, EOF, and the
trailing JSON description. The description carries one extra key, ``migcompat``, with the
digest of every section and all RAM; QEMU ignores unknown keys there.

RAM page records are written here run by run rather than one event per page: a 1 GiB
guest has 262,144 pages and the stream must move at memory speed. The bytes are exactly
what the event encoder would give (tests/migration/test_savevm.py checks this).
"""

from __future__ import annotations

import struct
from bisect import bisect_left
from collections.abc import Iterator
from typing import Any

from migcompat.model.ram import PAGE_SIZE, ZERO_PAGE, Page, RamBlock
from migcompat.stream import (
    EOF,
    Configuration,
    Encoder,
    Footer,
    Header,
    MemSize,
    RamBlockInfo,
    RamEOS,
    SectionEnd,
    SectionFull,
    SectionPart,
    SectionStart,
    SectionState,
    VMDescription,
)
from migcompat.stream.constants import RamFlag
from migcompat.stream.ram_runs import zero_records
from migcompat.vm.digest import StateDigest
from migcompat.vm.live import LiveVM, Section
from migcompat.vmstate.data import Value, VMStateData
from migcompat.vmstate.encode import encode_state
from migcompat.vmstate.schema import Field

RAM_VERSION = 4
CHUNK = 4 << 20  # bytes handed to the transport at a time
PART_BYTES = 256 << 20  # RAM scanned per PART section
_BE64 = struct.Struct(">Q")
_FLAG_ZERO, _FLAG_PAGE, _FLAG_CONT = int(RamFlag.ZERO), int(RamFlag.PAGE), int(RamFlag.CONTINUE)
_PAGE_CONT = _FLAG_PAGE | _FLAG_CONT
_RECORD = 8 + PAGE_SIZE  # a CONTINUE page record: header, page


def live_digest(live: LiveVM) -> str:
    """The digest of a VM held in memory (scans all of its RAM)."""
    d = StateDigest()
    for b in live.ram.blocks:
        d.ram_block(b)
    d.sections(_section_bytes(live))
    return d.hexdigest()


def _section_bytes(live: LiveVM) -> list[tuple[str, int, bytes]]:
    return [(s.idstr, s.instance_id, encode_state(s.state))
            for s in live.sections if s.state is not None]


def _candidate_offsets(block: RamBlock) -> list[int] | None:
    """The sorted offsets of the pages of ``block`` that may hold data (all others are
    zero), or None when any page may."""
    if block.sparse is not None:
        return sorted(block.sparse)
    return None if block.written is None else sorted(block.written)


def _runs_of(offsets: list[int], lo: int, hi: int, out: list[list[int]]) -> None:
    """Append ``offsets[lo:hi]`` (sorted, distinct) to ``out`` as runs ``[first, stop)`` of
    consecutive pages: split in halves until each half is one run, so a block written in a
    few long runs costs a few steps, not one per page."""
    first, last = offsets[lo], offsets[hi - 1]
    if last - first == (hi - 1 - lo) * PAGE_SIZE:
        if out and out[-1][1] == first:
            out[-1][1] = last + PAGE_SIZE
        else:
            out.append([first, last + PAGE_SIZE])
        return
    mid = (lo + hi) // 2
    _runs_of(offsets, lo, mid, out)
    _runs_of(offsets, mid, hi, out)


def _segments(block: RamBlock, start: int, end: int, offsets: list[int] | None
              ) -> list[tuple[bool, int, int]]:
    """Pages [start, end) of ``block`` as ascending ``(data, first, stop)`` segments: runs of
    non-zero pages (data) and of zero pages, covering the range."""
    if offsets is None:
        runs = [[start, end]]
    else:
        lo, hi = bisect_left(offsets, start), bisect_left(offsets, end)
        runs = []
        if hi > lo:
            _runs_of(offsets, lo, hi, runs)
    out: list[tuple[bool, int, int]] = []
    at = start
    for a, b in runs:
        if a > at:
            out.append((False, at, a))
        for zero in _zero_pages(block, a, b):
            if zero > a:
                out.append((True, a, zero))
            out.append((False, zero, zero + PAGE_SIZE))
            a = zero + PAGE_SIZE
        if b > a:
            out.append((True, a, b))
        at = b
    if end > at:
        out.append((False, at, end))
    return out


def _zero_pages(block: RamBlock, start: int, end: int) -> list[int]:
    """The offsets of the all-zero pages among pages [start, end) of ``block`` that hold
    data or were written. A page whose first word is not zero is not all zero: only the
    others are compared, and for dense RAM the first words are gathered in one pass."""
    if block.sparse is not None:
        if block.nonzero:
            return []
        pages = block.sparse
        first = _BE64.unpack_from
        return [off for off in range(start, end, PAGE_SIZE)
                if not first(pages[off])[0] and bytes(pages[off]) == ZERO_PAGE]
    assert block.data is not None, f"block {block.idstr} holds no content"
    data = block.data
    with memoryview(data) as view, view[start:end] as run, run.cast("Q") as words:
        firsts = words[:: PAGE_SIZE // 8].tolist()
    if 0 not in firsts:
        return []
    return [off for off, word in zip(range(start, end, PAGE_SIZE), firsts, strict=True)
            if word == 0 and data[off:off + PAGE_SIZE] == ZERO_PAGE]


def _page_records(block: RamBlock, start: int, end: int, first: bool, digest: StateDigest,
                  offsets: list[int] | None) -> Iterator[bytes]:
    """Records for pages [start, end) of ``block``; the first record names the block.
    Non-zero pages also go into ``digest``, so the RAM is read once.

    ``offsets``: see :func:`_candidate_offsets`. Work is per run of pages, not per page:
    zero records are packed in bulk, page records are gathered as (header, page view) and
    joined once per chunk (the only copy of a page), and the digest hashes each run of
    CONTINUE page records straight from the chunk (the headers are the pages' tags)."""
    if block.sparse is not None:
        pages = block.sparse

        def views(a: int, b: int) -> list[Page]:
            return list(map(pages.__getitem__, range(a, b, PAGE_SIZE)))
    else:
        assert block.data is not None, f"block {block.idstr} holds no content"
        view = memoryview(block.data)

        def views(a: int, b: int) -> list[Page]:
            return list(map(view.__getitem__, map(slice, range(a, b, PAGE_SIZE),
                                                  range(a + PAGE_SIZE, b + PAGE_SIZE, PAGE_SIZE))))
    pack = _BE64.pack
    parts: list[Page | bytearray] = []
    regions: list[tuple[int, int]] = []  # chunk spans of CONTINUE page records, to hash
    size = 0
    segments = _segments(block, start, end, offsets)
    if first and segments:
        data, a, b = segments[0]
        name = bytes((len(block.idstr),)) + block.idstr.encode()
        if data:
            page = views(a, a + PAGE_SIZE)[0]
            parts += [pack(a | _FLAG_PAGE), name, page]
            digest.page(a, page)
            size += 8 + len(name) + PAGE_SIZE
        else:
            parts += [pack(a | _FLAG_ZERO), name, b"\0"]
            size += 9 + len(name)
        segments[0] = (data, a + PAGE_SIZE, b)
    for data, a, b in segments:
        while a < b:
            if data:
                n = min((b - a) // PAGE_SIZE, max(1, (CHUNK - size) // _RECORD))
                stop = a + n * PAGE_SIZE
                records: list[Page | bytearray] = [b""] * (2 * n)
                records[::2] = list(map(pack, range(a | _PAGE_CONT, stop | _PAGE_CONT,
                                                    PAGE_SIZE)))
                records[1::2] = views(a, stop)
                parts += records
                regions.append((size, size + n * _RECORD))
                size += n * _RECORD
            else:
                n = min((b - a) // PAGE_SIZE, max(1, (CHUNK - size) // 9))
                stop = a + n * PAGE_SIZE
                parts.append(zero_records(a, n, PAGE_SIZE))
                size += 9 * n
            a = stop
            if size >= CHUNK:
                yield _flush(parts, regions, digest)
                size = 0
    if parts:
        yield _flush(parts, regions, digest)


def _flush(parts: list[Page | bytearray], regions: list[tuple[int, int]],
           digest: StateDigest) -> bytes:
    chunk = b"".join(parts)
    with memoryview(chunk) as view:
        for a, b in regions:
            digest.page_records(view[a:b])
    parts.clear()
    regions.clear()
    return chunk


def _section_vmdesc(s: Section, state: VMStateData) -> dict[str, Any]:
    return {"name": s.idstr, "instance_id": s.instance_id, "vmsd_name": state.name,
            "version": state.version_id, **_desc_body(state)}


def _paired(state: VMStateData) -> list[tuple[Field, str, Value]]:
    """Each value with its field, in order: names may repeat (a captured vmdesc lists an
    array of structs as several fields of one name), so match them in sequence."""
    fields = iter(state.vmsd.fields)
    out = []
    for name, value in state.values:
        f = next(f for f in fields if f.name == name)
        out.append((f, name, value))
    return out


def _desc_body(state: VMStateData) -> dict[str, Any]:
    fields = []
    for f, name, value in _paired(state):
        entry: dict[str, Any] = {"name": name, "type": f.info}
        one = value[0] if isinstance(value, tuple) and value else value
        if isinstance(value, tuple):
            entry["array_len"] = len(value)
        if isinstance(one, VMStateData):
            inner = {"vmsd_name": one.name, "version": one.version_id, **_desc_body(one)}
            if f.info == "tmp":
                entry.update(inner)  # QEMU writes a VMSTATE_WITH_TMP description inline
            else:
                entry["struct"] = inner
            entry["size"] = len(encode_state(one))
        elif isinstance(one, bytes):
            entry["size"] = len(one)
        else:
            entry["size"] = f.spec.width
        fields.append(entry)
    body: dict[str, Any] = {"fields": fields}
    if state.subsections:
        body["subsections"] = [{"vmsd_name": sub.name, "version": sub.version_id,
                                **_desc_body(sub)} for sub in state.subsections]
    return body


class Saver:
    """Streams a VM; ``digest`` is set once the stream has been fully produced."""

    def __init__(self, live: LiveVM, migration: str = "") -> None:
        self.live = live
        self.migration = migration  # the handover's id, carried in the description
        self.digest = ""

    def __iter__(self) -> Iterator[bytes]:
        return save(self.live, self)


def save(live: LiveVM, saver: Saver | None = None) -> Iterator[bytes]:
    """The whole stream of ``live``, in chunks, with the digest in its description."""
    digest = StateDigest()
    enc = Encoder()
    # Machine types <= 2.3 of real releases send neither (reference §1.1).
    modern = live.sends_configuration

    def footer(section_id: int) -> bytes:
        return enc.send(Footer(section_id)) if modern else b""

    yield enc.send(Header()) + (enc.send(Configuration(live.machine)) if modern else b"")
    ram_id = 0
    blocks = live.ram.blocks
    infos = tuple(RamBlockInfo(b.idstr, b.used_length) for b in blocks)
    yield (enc.send(SectionStart(ram_id, "ram", 0, RAM_VERSION))
           + enc.send(MemSize(live.ram.total, infos)) + enc.send(RamEOS())
           + footer(ram_id))
    for block in blocks:
        digest.block(block.idstr, block.used_length)
        offsets = _candidate_offsets(block)
        for start in range(0, block.used_length, PART_BYTES):
            end = min(start + PART_BYTES, block.used_length)
            yield enc.send(SectionPart(ram_id))
            yield from _page_records(block, start, end, start == 0, digest, offsets)
            yield enc.send(RamEOS()) + footer(ram_id)
    yield enc.send(SectionEnd(ram_id)) + enc.send(RamEOS()) + footer(ram_id)
    devices = []
    for sid, s in enumerate(live.sections, start=1):
        assert s.state is not None, f"section {s.idstr} has no state"
        yield (enc.send(SectionFull(sid, s.idstr, s.instance_id, s.state.version_id))
               + enc.send(SectionState(s.state)) + footer(sid))
        devices.append(_section_vmdesc(s, s.state))
    digest.sections(_section_bytes(live))
    hexdigest = digest.hexdigest()
    if saver is not None:
        saver.digest = hexdigest
    desc = {"page_size": PAGE_SIZE, "devices": devices,
            "migcompat": {"digest": hexdigest, "release": live.vm.release.id,
                          "machine": live.machine,
                          "migration": saver.migration if saver is not None else ""}}
    yield enc.send(EOF()) + enc.send(VMDescription.from_json(desc))
