"""``rewrite``: decode a stream into events, change some, encode them again (pure).

With no edits the bytes come out identical: every event is re-encoded from its decoded
value, nothing is copied through. Edits:

- ``--set SECTION[@INSTANCE].PATH=VALUE`` changes one decoded value (paths as in
  :mod:`.layout`, e.g. ``cpu@1.env.regs[0]=0x1234`` or ``globalstate.runstate[0]=0x70``);
- ``--page BLOCK:OFFSET=fill:BYTE|hex:HEX|@FILE`` replaces one RAM page (every record of it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from migcompat.analysis.stream_tools.layout import leaves, set_path
from migcompat.analysis.stream_tools.report import json_value
from migcompat.analysis.stream_tools.source import StreamInput, input_chunks
from migcompat.errors import EncodeError, StreamError, UsageError
from migcompat.stream import (
    DONE,
    NEED_DATA,
    Decoder,
    Encoder,
    Page,
    SectionFull,
    SectionState,
    ZeroPage,
)
from migcompat.stream.constants import PAGE_SIZE
from migcompat.stream.decoder import Sentinel
from migcompat.vmstate.schema import SchemaResolver

BATCH = 16384


@dataclass
class FieldEdit:
    target: str  # SECTION[@INSTANCE].PATH
    text: str
    applied: list[dict[str, Any]] = field(default_factory=list)

    def match(self, idstr: str, instance_id: int) -> str | None:
        """The field path when this edit names section (idstr, instance_id), else None."""
        if not self.target.startswith(idstr):
            return None
        rest = self.target[len(idstr):]
        instance = 0
        if rest.startswith("@"):
            digits, dot, rest = rest[1:].partition(".")
            if not digits.isdigit() or not dot:
                return None
            instance, rest = int(digits), "." + rest
        if instance != instance_id or not rest.startswith(".") or len(rest) < 2:
            return None
        return rest[1:]


@dataclass
class PageEdit:
    block: str
    offset: int
    data: bytes
    applied: int = 0


def parse_set(spec: str) -> FieldEdit:
    target, eq, text = spec.partition("=")
    if not eq or not target or not text:
        raise UsageError(f"--set '{spec}': expected SECTION[@INSTANCE].FIELD=VALUE")
    return FieldEdit(target, text)


def parse_page(spec: str, read_file: Callable[[str], bytes],
               page_size: int = PAGE_SIZE) -> PageEdit:
    where, eq, value = spec.partition("=")
    block, colon, off = where.rpartition(":")
    if not eq or not colon or not block:
        raise UsageError(f"--page '{spec}': expected BLOCK:OFFSET=fill:BYTE|hex:HEX|@FILE")
    try:
        offset = int(off, 0)
    except ValueError:
        raise UsageError(f"--page '{spec}': '{off}' is not an offset") from None
    if offset % page_size:
        raise UsageError(f"--page '{spec}': offset 0x{offset:x} is not page aligned")
    if value.startswith("fill:"):
        try:
            byte = int(value[5:], 0)
        except ValueError:
            byte = -1
        if not 0 <= byte <= 255:
            raise UsageError(f"--page '{spec}': '{value[5:]}' is not a byte")
        data = bytes((byte,)) * page_size
    elif value.startswith("hex:"):
        try:
            data = bytes.fromhex(value[4:])
        except ValueError:
            raise UsageError(f"--page '{spec}': bad hex") from None
    elif value.startswith("@"):
        data = read_file(value[1:])
    else:
        raise UsageError(f"--page '{spec}': the value must start with fill:, hex: or @")
    if len(data) > page_size:
        raise UsageError(f"--page '{spec}': {len(data)} bytes is more than a page")
    return PageEdit(block, offset, data.ljust(page_size, b"\0"))


def _edit_state(state_ev: SectionState, header: SectionFull, body_offset: int,
                edits: list[FieldEdit]) -> SectionState:
    state = state_ev.state
    for edit in edits:
        path = edit.match(header.idstr, header.instance_id)
        if path is None:
            continue
        where = next((leaf for leaf in leaves(state, body_offset)
                      if path == leaf.path or path.startswith(leaf.path + "[")), None)
        state, old, new = set_path(state, path, edit.text)
        edit.applied.append({
            "target": edit.target, "section": header.idstr, "instance_id": header.instance_id,
            "path": path, "offset": where.offset if where else None,
            "old": json_value(old), "new": json_value(new)})
    return SectionState(state)


def _edit_pages(records: list[Page | ZeroPage], edits: dict[tuple[str, int], PageEdit],
                zero: bytes) -> list[Page | ZeroPage]:
    out: list[Page | ZeroPage] = []
    for rec in records:
        edit = edits.get((rec[0], rec[1]))
        if edit is None:
            out.append(rec)
            continue
        edit.applied += 1
        if edit.data == zero:
            out.append(ZeroPage(rec[0], rec[1], 0, rec[3]))
        else:
            out.append(Page(rec[0], rec[1], edit.data, rec[3]))
    return out


@dataclass
class RewriteResult:
    trailing: int = 0  # unparsed bytes after EOF, copied as they are
    warnings: list[str] = field(default_factory=list)


def rewrite_stream(data: StreamInput, resolver: SchemaResolver | None,
                   field_edits: list[FieldEdit], page_edits: list[PageEdit],
                   result: RewriteResult, page_size: int = PAGE_SIZE) -> Iterator[bytes]:
    """The re-encoded stream in chunks. Raises StreamError where the input cannot be read
    (nothing is guessed), UsageError when an edit does not apply."""
    chunks, _ = input_chunks(data)
    dec = Decoder(resolver, check_versions=False, page_size=page_size)
    enc = Encoder(page_size)
    pages = {(e.block, e.offset): e for e in page_edits}
    zero = bytes(page_size)
    body_offset = 0
    try:
        while True:
            batch = dec.next_ram_batch(BATCH)
            if batch:
                yield enc.send_pages(_edit_pages(batch, pages, zero) if pages else batch)
                continue
            ev = dec.next_event()
            if ev is NEED_DATA:
                chunk = next(chunks, None)
                if chunk is None:
                    dec.close()
                else:
                    dec.feed(chunk, copy=False)
                continue
            if ev is DONE:
                break
            assert not isinstance(ev, Sentinel)
            if isinstance(ev, SectionFull):
                body_offset = dec.offset
            elif isinstance(ev, SectionState) and field_edits:
                header = dec.current
                assert isinstance(header, SectionFull)
                ev = _edit_state(ev, header, body_offset, field_edits)
            elif isinstance(ev, Page | ZeroPage) and pages:
                ev = _edit_pages([ev], pages, zero)[0]
            yield enc.send(ev)
        # Bytes after the end are not part of the stream: copied as they are.
        rest, _ = dec.trailing_data
        dec.release()
        if rest:
            result.trailing += len(rest)
            yield rest
        for chunk in chunks:
            result.trailing += len(chunk)
            yield bytes(chunk)
    except EncodeError as exc:
        raise UsageError(f"the edited value does not fit: {exc}") from exc
    except StreamError as exc:
        raise exc.with_traceback(None) from None
    if result.trailing:
        result.warnings.append(f"{result.trailing} bytes after the end of the stream were "
                               "not parsed; they are copied as they are")
    missing = [e.target for e in field_edits if not e.applied]
    missing += [f"{e.block}:0x{e.offset:x}" for e in page_edits if not e.applied]
    if missing:
        raise UsageError(f"no such section, field or RAM page in the stream: {', '.join(missing)}")
