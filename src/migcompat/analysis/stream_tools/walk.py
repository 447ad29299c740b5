"""``analyze``: read a whole stream and report every part with its offsets.

Pure: the caller hands in the bytes (a mapped file is fine: it is read in place, never
copied), or a :class:`~.source.ChunkedInput` that gives them in slices (a mapped file with
checks between them, a file read in bounded buffers), and, for ``--extract``, a
:class:`RamSink` that receives the RAM pages. RAM records go through the decoder's run fast
path (whole runs of records checked at once, ``Decoder.next_ram_runs``); device sections are
decoded with the layout the caller chose. The walk never stops on a malformed stream
without saying where: the report keeps everything read so far and the first error, with
its offset.
"""

from __future__ import annotations

from typing import Protocol

from migcompat.analysis.stream_tools.layout import leaves, state_size
from migcompat.analysis.stream_tools.report import (
    ItemReport,
    RamBlockReport,
    RamCounts,
    SectionReport,
    StreamReport,
    command_name,
    json_value,
)
from migcompat.analysis.stream_tools.source import StreamInput, input_chunks
from migcompat.errors import StreamError
from migcompat.stream import (
    DONE,
    EOF,
    NEED_DATA,
    Command,
    CompressedPage,
    Configuration,
    Decoder,
    Footer,
    Header,
    MemSize,
    Page,
    RamEOS,
    SectionEnd,
    SectionFull,
    SectionPart,
    SectionStart,
    SectionState,
    VMDescription,
    XbzrlePage,
    ZeroPage,
)
from migcompat.stream.configuration import configuration_state
from migcompat.stream.constants import PAGE_SIZE
from migcompat.stream.decoder import Sentinel
from migcompat.stream.ram_runs import RUN_ZEROS, Run
from migcompat.vmstate.schema import SchemaResolver

WHY_UNSIZED = {
    "none": "the stream has no trailing description (saved with suppress-vmdesc=on, or the "
            "file is cut short); give --schema with the description of a stream from the "
            "same build and configuration",
    "schema:dump": "the -dump-vmstate cannot size it (only qdev devices are dumped, and the "
                   "dump has no array lengths or variable sizes); give --schema with a stream "
                   "description instead",
}


class RamSink(Protocol):
    """Receives RAM as it is read, in the stream's order (``--extract`` writes it to
    files). ``runs`` are the decoder's (``Decoder.next_ram_runs``): ``(kind, first page
    offset, count, position in view)``; ``record`` is one page record the runs left out
    (the first of a block, a zero page with a fill byte that is not 0): ``data`` is the
    page, or None for a zero page filled with ``fill``."""

    def block(self, idstr: str, used_length: int) -> None: ...

    def runs(self, block: str, view: memoryview, runs: list[Run]) -> None: ...

    def record(self, block: str, offset: int, data: memoryview | None, fill: int) -> None: ...


class _Walk:
    def __init__(self, report: StreamReport, resolver: SchemaResolver | None,
                 sink: RamSink | None, page_size: int) -> None:
        self.report = report
        self.page_size = page_size
        self.resolver = resolver
        self.sink = sink
        self.current: SectionReport | None = None
        self.by_id: dict[int, SectionReport] = {}

    def counts(self, block: str) -> RamCounts:
        entry = self.report.ram_blocks.get(block)
        if entry is None:  # a page of a block the MEM_SIZE list did not name
            entry = self.report.ram_blocks[block] = RamBlockReport(block, 0)
        return entry.counts

    def record(self, rec: Page | ZeroPage, at: int) -> None:
        """One page record (the first of a block, or one the fast path left out)."""
        block, offset, payload, _ = rec
        entry = self.report.ram_blocks.get(block)
        if entry is None:  # QEMU's words (reference §3.3)
            raise StreamError(f"Can't find block {block}", offset=at, section="ram")
        if offset >= entry.used_length:
            raise StreamError(f"Illegal RAM offset {offset:x}", offset=at, section="ram")
        if isinstance(payload, int):
            self.add_counts(block, 0, 1, 1 if payload else 0)
            if self.sink is not None:
                self.sink.record(block, offset, None, payload)
        else:
            self.add_counts(block, 1, 0, 0)
            if self.sink is not None:
                self.sink.record(block, offset, memoryview(payload), 0)

    def runs(self, block: str, view: memoryview, runs: list[Run]) -> None:
        # A full-page record of zeros (RUN_ZERO_FILLED) is still a full-page record.
        zero = sum(count for kind, _, count, _ in runs if kind == RUN_ZEROS)
        full = sum(count for _, _, count, _ in runs) - zero
        self.add_counts(block, full, zero, 0)
        if self.sink is not None:
            self.sink.runs(block, view, runs)

    def add_counts(self, block: str, full: int, zero: int, fill: int) -> None:
        for counts in (self.counts(block), self.current.ram if self.current else None):
            if counts is not None:
                counts.full_pages += full
                counts.zero_pages += zero
                counts.fill_pages += fill

    def event(self, ev: object, at: int, end: int) -> None:
        rep = self.report
        if isinstance(ev, Page | ZeroPage):
            self.record(ev, at)
        elif isinstance(ev, SectionFull | SectionStart | SectionPart | SectionEnd):
            self.section(ev, at, end)
        elif isinstance(ev, SectionState):
            assert self.current is not None
            self.current.state = ev.state
            self.current.body_size = end - self.current.body_offset
            self.current.size = end - self.current.offset
        elif isinstance(ev, RamEOS):
            if self.current is not None:
                self.current.body_size = end - self.current.body_offset
                self.current.size = end - self.current.offset
        elif isinstance(ev, MemSize):
            rep.ram_total = ev.total
            if self.current is not None:
                self.current.ram_blocks = [(b.idstr, b.used_length) for b in ev.blocks]
            for b in ev.blocks:
                if b.idstr not in rep.ram_blocks:
                    rep.ram_blocks[b.idstr] = RamBlockReport(b.idstr, b.used_length)
                    if self.sink is not None:
                        self.sink.block(b.idstr, b.used_length)
        elif isinstance(ev, XbzrlePage | CompressedPage):
            for counts in (self.counts(ev.block), self.current.ram if self.current else None):
                if counts is not None:
                    if isinstance(ev, XbzrlePage):
                        counts.xbzrle_pages += 1
                    else:
                        counts.compressed_pages += 1
        elif isinstance(ev, Footer):
            rep.footers = True
            if self.current is not None:
                self.current.footer_offset = at
                self.current.size = end - self.current.offset
        elif isinstance(ev, Header):
            rep.version = ev.version
        elif isinstance(ev, Configuration):
            self.configuration(ev, at, end)
        elif isinstance(ev, Command):
            self.current = None
            rep.items.append(ItemReport("command", at, end - at, {
                "cmd": ev.cmd, "name": command_name(ev.cmd), "length": len(ev.payload),
                "payload": ev.payload[:64].hex()}))
        elif isinstance(ev, EOF):
            self.current = None
            rep.items.append(ItemReport("eof", at, 1))
        elif isinstance(ev, VMDescription):
            rep.vmdesc_json = ev.json_bytes
            rep.items.append(ItemReport("vmdesc", at, end - at,
                                        {"json_size": len(ev.json_bytes)}))

    def configuration(self, ev: Configuration, at: int, end: int) -> None:
        state = configuration_state(ev.machine, ev.subsections)
        self.report.config_state = state
        subs = []
        for leaf in leaves(state, at + 1)[2:]:
            entry = {"path": leaf.path, "offset": leaf.offset, "size": leaf.size}
            if leaf.version is not None:
                entry["version"] = leaf.version
            else:
                entry["value"] = json_value(leaf.value)
            subs.append(entry)
        assert state_size(state) + 1 == end - at
        self.report.configuration = {"offset": at, "size": end - at, "machine": ev.machine,
                                     "subsections": subs}

    def section(self, ev: SectionFull | SectionStart | SectionPart | SectionEnd, at: int,
                end: int) -> None:
        if isinstance(ev, SectionFull | SectionStart):
            kind = "full" if isinstance(ev, SectionFull) else "start"
            sec = SectionReport(kind, ev.section_id, ev.idstr, ev.instance_id, ev.version_id,
                                at, end)
            self.by_id[ev.section_id] = sec
        else:
            first = self.by_id[ev.section_id]
            sec = SectionReport("part" if isinstance(ev, SectionPart) else "end", ev.section_id,
                                first.idstr, first.instance_id, first.version_id, at, end)
        if sec.idstr == "ram":
            sec.ram = RamCounts()
        self.current = sec
        self.report.items.append(sec)


def _unsized(sec: SectionReport, layout_from: str) -> StreamError:
    why = WHY_UNSIZED.get(layout_from, "its description has no entry for this section")
    return StreamError(
        f"cannot size section '{sec.idstr}' (id {sec.section_id}, instance "
        f"{sec.instance_id}, version {sec.version_id}): {why}",
        offset=sec.body_offset, section=sec.idstr)


def analyze_stream(data: StreamInput, resolver: SchemaResolver | None,
                   layout_from: str = "vmdesc", *, sink: RamSink | None = None,
                   page_size: int = PAGE_SIZE) -> StreamReport:
    """Walk the whole stream; never raises StreamError (the report holds the error)."""
    chunks, size = input_chunks(data)
    report = StreamReport(size=size, layout_from=layout_from)
    walk = _Walk(report, resolver, sink, page_size)
    dec = Decoder(resolver, check_versions=False, page_size=page_size)
    described = getattr(resolver, "devices", None)
    blocks = report.ram_blocks
    while True:
        at = dec.offset
        block = dec.last_block
        if block is not None and block in blocks:
            # Page records at or beyond the block's end are left to next_event, which
            # refuses them as QEMU does ("Illegal RAM offset", reference §3.3).
            view, runs = dec.next_ram_runs(blocks[block].used_length)
            if runs:
                walk.runs(block, view, runs)
                continue
        try:
            ev = dec.next_event()
            if ev is NEED_DATA:
                chunk = next(chunks, None)  # may raise: the input changed under us
                if chunk is None:
                    dec.close()
                else:
                    dec.feed(chunk, copy=False)
                continue
            if ev is DONE:
                break
            assert not isinstance(ev, Sentinel)
            walk.event(ev, at, dec.offset)
        except StreamError as exc:
            # No traceback: its frames would keep views of the (mapped) input alive.
            report.error = _explain(exc, walk.current, layout_from).with_traceback(None)
            break
        if isinstance(ev, SectionFull) and ev.idstr != "ram":
            sec = walk.current
            assert sec is not None
            if resolver is None or resolver(ev.idstr, ev.instance_id, ev.version_id) is None:
                report.error = _unsized(sec, layout_from)
                break
            if described is not None:
                vmsd = described.get((ev.idstr, ev.instance_id))
                if vmsd is not None and vmsd.version_id != ev.version_id:
                    sec.described_version = vmsd.version_id
                    report.warnings.append(
                        f"section '{ev.idstr}' instance {ev.instance_id} has version "
                        f"{ev.version_id} in its header but {vmsd.version_id} in the "
                        "description")
    report.end = dec.offset
    if report.footers is None and report.sections:
        report.footers = dec.footers
    if report.error is None:
        if dec.after_eof_byte is not None:
            report.warnings.append(
                f"Expected vmdescription section, but got {dec.after_eof_byte}")
        if size > dec.offset:  # not fed yet, or fed and not read: either way not stream
            report.warnings.append(f"{size - dec.offset} bytes after the end of the stream")
    dec.release()
    return report


def _explain(exc: StreamError, sec: SectionReport | None, layout_from: str) -> StreamError:
    """A failure inside a section sized from a -dump-vmstate means the guess was wrong."""
    if layout_from != "schema:dump" or sec is None or sec.kind != "full":
        return exc
    return StreamError(
        f"cannot size section '{sec.idstr}' (id {sec.section_id}) with the -dump-vmstate: "
        f"decoding it with one element per field did not end at its footer ({exc.message}); "
        "the dump has no array lengths", offset=sec.body_offset, section=sec.idstr)
