"""Saving a live VM as a QEMU migration stream (pure: yields bytes, does no I/O).

Order as QEMU writes it (reference §1.8): header, configuration, RAM START with the block
list, RAM pages in PART sections, RAM END, one FULL section per device state, EOF, and the
trailing JSON description. The description carries one extra key, ``migcompat``, with the
digest of every section and all RAM; QEMU ignores unknown keys there.

RAM page records are written by a tight loop here rather than one event per page: a 1 GiB
guest has 262,144 pages and the stream must move at memory speed. The bytes are exactly
what the event encoder would give (tests/migration/test_savevm.py checks this).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import Any

from migcompat.migration.digest import StateDigest
from migcompat.migration.live import LiveVM, Section
from migcompat.model.ram import PAGE_SIZE, RamBlock
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
from migcompat.vmstate.data import VMStateData
from migcompat.vmstate.encode import encode_state

RAM_VERSION = 4
CHUNK = 4 << 20  # bytes handed to the transport at a time
PART_BYTES = 256 << 20  # RAM scanned per PART section
_BE64 = struct.Struct(">Q")
_FLAG_ZERO, _FLAG_PAGE, _FLAG_CONT = int(RamFlag.ZERO), int(RamFlag.PAGE), int(RamFlag.CONTINUE)


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


def _page_records(block: RamBlock, start: int, end: int, first: bool,
                  digest: StateDigest) -> Iterator[bytes]:
    """Records for pages [start, end) of ``block``; the first record names the block.
    Non-zero pages also go into ``digest``, so the RAM is read once."""
    read = block.page_reader()
    name = bytes((len(block.idstr),)) + block.idstr.encode()
    pack = _BE64.pack
    out: list[bytes | memoryview] = []
    size = 0
    for off in range(start, end, PAGE_SIZE):
        cont = 0 if first else _FLAG_CONT
        page = read(off)
        if page is None:
            out.append(pack(off | _FLAG_ZERO | cont))
            if first:
                out.append(name)
            out.append(b"\0")
            size += 9
        else:
            out.append(pack(off | _FLAG_PAGE | cont))
            if first:
                out.append(name)
            out.append(page)
            digest.page(off, page)
            size += 8 + PAGE_SIZE
        first = False
        if size >= CHUNK:
            yield b"".join(out)
            out, size = [], 0
    if out:
        yield b"".join(out)


def _section_vmdesc(s: Section, state: VMStateData) -> dict[str, Any]:
    return {"name": s.idstr, "instance_id": s.instance_id, "vmsd_name": state.name,
            "version": state.version_id, **_desc_body(state)}


def _desc_body(state: VMStateData) -> dict[str, Any]:
    fields = []
    for name, value in state.values:
        f = state.vmsd.field_named(name)
        assert f is not None
        entry: dict[str, Any] = {"name": name, "type": f.info}
        one = value[0] if isinstance(value, tuple) and value else value
        if isinstance(value, tuple):
            entry["array_len"] = len(value)
        if isinstance(one, VMStateData):
            entry["struct"] = {"vmsd_name": one.name, "version": one.version_id,
                               **_desc_body(one)}
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

    def __init__(self, live: LiveVM) -> None:
        self.live = live
        self.digest = ""

    def __iter__(self) -> Iterator[bytes]:
        return save(self.live, self)


def save(live: LiveVM, saver: Saver | None = None) -> Iterator[bytes]:
    """The whole stream of ``live``, in chunks, with the digest in its description."""
    digest = StateDigest()
    enc = Encoder()
    yield enc.send(Header()) + enc.send(Configuration(live.machine))
    ram_id = 0
    blocks = live.ram.blocks
    infos = tuple(RamBlockInfo(b.idstr, b.used_length) for b in blocks)
    yield (enc.send(SectionStart(ram_id, "ram", 0, RAM_VERSION))
           + enc.send(MemSize(live.ram.total, infos)) + enc.send(RamEOS())
           + enc.send(Footer(ram_id)))
    for block in blocks:
        digest.block(block.idstr, block.used_length)
        for start in range(0, block.used_length, PART_BYTES):
            end = min(start + PART_BYTES, block.used_length)
            yield enc.send(SectionPart(ram_id))
            yield from _page_records(block, start, end, start == 0, digest)
            yield enc.send(RamEOS()) + enc.send(Footer(ram_id))
    yield enc.send(SectionEnd(ram_id)) + enc.send(RamEOS()) + enc.send(Footer(ram_id))
    devices = []
    for sid, s in enumerate(live.sections, start=1):
        assert s.state is not None, f"section {s.idstr} has no state"
        yield (enc.send(SectionFull(sid, s.idstr, s.instance_id, s.state.version_id))
               + enc.send(SectionState(s.state)) + enc.send(Footer(sid)))
        devices.append(_section_vmdesc(s, s.state))
    digest.sections(_section_bytes(live))
    hexdigest = digest.hexdigest()
    if saver is not None:
        saver.digest = hexdigest
    desc = {"page_size": PAGE_SIZE, "devices": devices,
            "migcompat": {"digest": hexdigest, "release": live.vm.release.id,
                          "machine": live.machine}}
    yield enc.send(EOF()) + enc.send(VMDescription.from_json(desc))
