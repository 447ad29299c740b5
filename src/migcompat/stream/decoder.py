"""The sans-IO stream decoder: bytes in, events out (h11 style; no I/O anywhere).

    dec = Decoder(resolver)
    dec.feed(chunk) ...; dec.feed(b"")        # b"" (or close()) marks the end of input
    while (ev := dec.next_event()) is not DONE:
        if ev is NEED_DATA: feed more, or stop

The grammar lives in :mod:`.states`, the framing (headers, commands, footers) in
:mod:`.framing`; the decoder reads one unit per call. A unit that is not
complete yet returns NEED_DATA and is retried only once enough bytes have arrived (so feeding
one byte at a time stays cheap). At the end of input, an incomplete unit is a StreamError at
the offset where the input ended: never zeros, never a guess. Errors are sticky.

For RAM-heavy streams, :meth:`Decoder.next_ram_batch` parses runs of CONTINUE page records in
a tight loop and hands page payloads out as memoryviews of the fed chunks (no copy), and
:meth:`Decoder.next_ram_runs` checks whole runs at once without a Python object per page.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from migcompat.errors import StreamError, TruncatedStream
from migcompat.stream.buffer import ReceiveBuffer
from migcompat.stream.constants import (
    PAGE_SIZE,
    SectionType,
)
from migcompat.stream.events import (
    Event,
    RamEOS,
    SectionFull,
    SectionStart,
    SectionState,
)
from migcompat.stream.framing import Framing, Incomplete
from migcompat.stream.ram import parse_record
from migcompat.stream.ram_paths import RamFastPaths
from migcompat.stream.states import State
from migcompat.vmstate.codec import DecodeContext, NeedData, decode_section, decode_state
from migcompat.vmstate.data import VMStateData
from migcompat.vmstate.schema import (
    SchemaResolver,
    SectionSchema,
    VMStateDescription,
    as_section_schema,
)

MAX_EVENT_SIZE = 64 * 1024 * 1024  # largest unit (section body, block list) we buffer
MAX_VMDESC_SIZE = 64 * 1024 * 1024
_BE32 = struct.Struct(">I")
_ID_LEN = struct.Struct(">IB")  # START/FULL: section_id, idstr length
_CMD = struct.Struct(">HH")


class Sentinel:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


NEED_DATA = Sentinel("NEED_DATA")  # feed more bytes (or end the input)
DONE = Sentinel("DONE")  # the stream is over; see trailing_data


def unknown_section_error(idstr: str, instance_id: int, offset: int | None) -> StreamError:
    """QEMU's text when a section has no match on the destination (reference §1.4)."""
    return StreamError(
        f"Unknown savevm section or instance '{idstr}' {instance_id}. Make sure that your "
        "current VM setup matches your saved VM setup, including any hotplugged devices",
        offset=offset,
        section=idstr,
    )


def _decode_unchecked(
    vmsd: VMStateDescription,
    idstr: str,
    version_id: int,
    buf: bytes | memoryview,
    pos: int,
    ctx: DecodeContext,
) -> tuple[VMStateData, int]:
    return decode_state(vmsd, version_id, buf, pos, ctx)


class Decoder(Framing, RamFastPaths):
    """Decode a migration stream into events.

    ``configuration``/``footers``: True or False when the caller knows (the destination
    machine's send-configuration and send-section-footer), None to detect from the bytes.
    """

    def __init__(
        self,
        resolver: SchemaResolver | None = None,
        *,
        configuration: bool | None = None,
        footers: bool | None = None,
        page_size: int = PAGE_SIZE,
        max_event_size: int = MAX_EVENT_SIZE,
        max_vmdesc_size: int = MAX_VMDESC_SIZE,
        check_versions: bool = True,
    ) -> None:
        if page_size < 512 or page_size & (page_size - 1):
            raise ValueError("page_size must be a power of two >= 512")
        self._resolver = resolver
        self._configuration = configuration
        self.footers = footers
        self.page_size = page_size
        self.max_event_size = max_event_size
        self.max_vmdesc_size = max_vmdesc_size
        # False when the resolver is the stream's own description (analysis): the section
        # header's version is then reported, not checked against a destination.
        self.check_versions = check_versions
        self._buf = ReceiveBuffer()
        self.state = State.HEADER
        self._need_end = 0
        self._error: StreamError | None = None
        self.started: dict[int, SectionStart] = {}  # START headers by section id
        self.current: SectionStart | SectionFull | None = None  # the section being read
        self._current_id = 0
        self._schema: SectionSchema | None = None
        self.last_block: str | None = None  # persists across RAM sections (reference §3.3)
        self.ignore_shared = False
        self.after_eof_byte: int | None = None  # a non-vmdesc byte after EOF (QEMU warns)
        self._handlers: dict[State, Callable[[], Event | None]] = {
            State.HEADER: self._read_header,
            State.CONFIG: self._read_config,
            State.TOP: self._read_top,
            State.RAM: self._read_ram,
            State.VMSTATE: self._read_vmstate,
            State.SECTION_DONE: self._read_section_done,
            State.AFTER_EOF: self._read_after_eof,
        }
        self._top: dict[int, Callable[[], Event]] = {
            SectionType.EOF: self._top_eof,
            SectionType.START: self._top_header,
            SectionType.FULL: self._top_header,
            SectionType.PART: self._top_part_end,
            SectionType.END: self._top_part_end,
            SectionType.COMMAND: self._top_command,
        }

    # -- input ---------------------------------------------------------------------------
    def feed(self, data: bytes | bytearray | memoryview, copy: bool = True) -> None:
        """Add input. ``feed(b"")`` marks the end of input, like :meth:`close`.

        ``copy=False`` keeps a buffer that is not ``bytes`` (e.g. a read-only memoryview of a
        mapped file) without copying it; the caller promises not to change it."""
        if not data:
            self.close()
        else:
            self._buf.feed(data, copy)

    def close(self) -> None:
        self._buf.closed = True

    @property
    def offset(self) -> int:
        """Bytes consumed so far (the offset of the next unread byte)."""
        return self._buf.offset

    def release(self) -> None:
        """Drop every fed byte still held (so a mapped file's views are let go): the input
        is over and nothing more can be read."""
        self._buf = ReceiveBuffer()
        self._buf.closed = True
        self.state = State.DONE

    @property
    def error(self) -> StreamError | None:
        """The error this decoder raised (errors are sticky), or None."""
        return self._error

    @property
    def trailing_data(self) -> tuple[bytes, bool]:
        """Unread bytes after the stream ended, and whether the input was closed."""
        return self._buf.peek_rest(), self._buf.closed

    # -- output --------------------------------------------------------------------------
    def next_event(self) -> Event | Sentinel:
        if self._error is not None:
            raise self._error
        try:
            while self.state is not State.DONE:
                if not self._buf.closed and self._buf.end < self._need_end:
                    return NEED_DATA
                event = self._handlers[self.state]()
                if event is not None:
                    self._need_end = 0
                    return event
            return DONE
        except Incomplete as inc:
            # A unit longer than the limit is hostile wherever the input ends: say so at
            # the unit, not at the end of the input.
            if self._buf.closed and inc.end - self._buf.offset <= self.max_event_size:
                raise self._fail(
                    TruncatedStream(
                        f"truncated stream: the input ends inside {inc.what}",
                        offset=self._buf.end,
                        section=self._section_name(),
                        field=inc.field,
                    )
                ) from None
            if inc.end - self._buf.offset > self.max_event_size:
                raise self._fail(
                    StreamError(
                        f"{inc.what} needs {inc.end - self._buf.offset} bytes, more than the "
                        f"limit of {self.max_event_size}",
                        offset=self._buf.offset,
                        section=self._section_name(),
                        field=inc.field,
                    )
                ) from None
            self._need_end = inc.end
            return NEED_DATA
        except StreamError as exc:
            raise self._fail(exc) from None

    # -- helpers -------------------------------------------------------------------------
    def _fail(self, exc: StreamError) -> StreamError:
        if exc.section is None:
            exc.section = self._section_name()
        self._error = exc
        return exc

    def _section_name(self) -> str | None:
        in_section = self.state in (State.RAM, State.VMSTATE, State.SECTION_DONE)
        return self.current.idstr if in_section and self.current is not None else None

    # -- section bodies (the framing is in framing.py) -------------------------------------
    def _read_ram(self) -> Event:
        view, pos = self._buf.view()
        while True:
            try:
                event, end, self.last_block = parse_record(
                    view,
                    pos,
                    self._buf.offset - pos,
                    self.page_size,
                    self.last_block,
                    self.ignore_shared,
                )
                break
            except NeedData as nd:
                view, pos = self._need(nd.upto - pos, nd.field or "a RAM record")
        self._buf.advance(end - pos)
        if isinstance(event, RamEOS):
            self.state = State.SECTION_DONE
        return event

    def _read_vmstate(self) -> Event:
        header = self.current
        assert header is not None
        if isinstance(header, SectionStart):
            raise StreamError(
                f"iterative section '{header.idstr}' is not supported (only RAM is)",
                offset=self._buf.offset,
            )
        if self._schema is None:
            found = None
            if self._resolver is not None:
                found = self._resolver(header.idstr, header.instance_id, header.version_id)
            if found is None:
                raise unknown_section_error(header.idstr, header.instance_id, self._buf.offset)
            self._schema = as_section_schema(found)
        schema = self._schema
        ctx = DecodeContext(schema.properties, header.idstr, header.instance_id,
                            check_versions=self.check_versions)
        decode = decode_section if self.check_versions else _decode_unchecked
        data, end = self._decode_body(
            lambda v, p: decode(schema.vmsd, header.idstr, header.version_id, v, p, ctx),
            ctx,
        )
        self._buf.advance(end)
        self.state = State.SECTION_DONE
        return SectionState(data)

