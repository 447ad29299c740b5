"""The sans-IO stream decoder: bytes in, events out (h11 style; no I/O anywhere).

    dec = Decoder(resolver)
    dec.feed(chunk) ...; dec.feed(b"")        # b"" (or close()) marks the end of input
    while (ev := dec.next_event()) is not DONE:
        if ev is NEED_DATA: feed more, or stop

The grammar lives in :mod:`.states`; this module reads one unit per call. A unit that is not
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
from typing import Any

from migcompat.errors import StreamError, TruncatedStream, UnknownCommand
from migcompat.stream.buffer import ReceiveBuffer
from migcompat.stream.configuration import CONFIGURATION, LOAD_VERSION, capabilities
from migcompat.stream.constants import (
    CMD_LENGTHS,
    FILE_VERSION,
    FILE_VERSION_COMPAT,
    MAGIC,
    PAGE_SIZE,
    RAM_SECTION,
    Cmd,
    SectionType,
)
from migcompat.stream.events import (
    EOF,
    Command,
    Configuration,
    Event,
    Footer,
    Header,
    RamEOS,
    SectionEnd,
    SectionFull,
    SectionPart,
    SectionStart,
    SectionState,
    VMDescription,
)
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


class _Incomplete(Exception):
    def __init__(self, end: int, what: str, field: str | None = None) -> None:
        super().__init__(end)
        self.end, self.what, self.field = end, what, field


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


class Decoder(RamFastPaths):
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
        except _Incomplete as inc:
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

    def _need(self, n: int, what: str, read_ahead: bool = False) -> tuple[memoryview, int]:
        got = self._buf.need(n, read_ahead)
        if got is None:
            raise _Incomplete(self._buf.offset + n, what)
        return got

    # -- states --------------------------------------------------------------------------
    def _read_header(self) -> Event:
        view, pos = self._need(8, "the file header")
        magic, version = struct.unpack_from(">II", view, pos)
        if magic != MAGIC:
            raise StreamError("Not a migration stream", offset=self._buf.offset)
        if version == FILE_VERSION_COMPAT:
            raise StreamError(
                "SaveVM v2 format is obsolete and don't work anymore", offset=self._buf.offset + 4
            )
        if version != FILE_VERSION:
            raise StreamError("Unsupported migration stream version", offset=self._buf.offset + 4)
        self._buf.advance(8)
        self.state = State.CONFIG
        return Header(version)

    def _read_config(self) -> Event | None:
        if self._configuration is False:
            self.state = State.TOP
            return None
        view, pos = self._need(1, "the configuration section")
        if view[pos] != SectionType.CONFIGURATION:
            if self._configuration:
                raise StreamError("Configuration section missing", offset=self._buf.offset)
            self.state = State.TOP  # an old machine type (<= 2.3) sends no configuration
            return None
        ctx = DecodeContext(section="configuration", base=self._buf.offset - pos)
        data, end = self._decode_body(
            lambda v, p: decode_state(CONFIGURATION, LOAD_VERSION, v, p + 1, ctx), ctx
        )
        name = data["name"]
        assert isinstance(name, bytes)
        try:
            machine = name.decode()
        except UnicodeDecodeError:
            raise StreamError(
                f"machine type {name!r} is not UTF-8",
                offset=self._buf.offset + 5,
                section="configuration",
            ) from None
        self.ignore_shared = "x-ignore-shared" in capabilities(data.subsections)
        self._buf.advance(end)
        self.state = State.TOP
        return Configuration(machine, data.subsections)

    def _decode_body(
        self,
        run: Callable[[memoryview, int], tuple[object, int]],
        ctx: DecodeContext,
    ) -> tuple[Any, int]:
        """Run a VMState decode on contiguous data, joining chunks as it asks for more.

        Returns (result, bytes consumed)."""
        view, pos = self._buf.view()
        while True:
            ctx.base = self._buf.offset - pos
            ctx.nodes = 0  # a retry after NeedData starts the count again
            try:
                result, end = run(view, pos)
                return result, end - pos
            except NeedData as nd:
                wanted = nd.upto - pos
                if self._buf.available < wanted:
                    raise _Incomplete(
                        self._buf.offset + wanted, "a VMState body", nd.field
                    ) from None
                view, pos = self._need(wanted, "a VMState body", read_ahead=True)

    def _read_top(self) -> Event:
        view, pos = self._need(1, "a section type byte")
        kind = view[pos]
        handler = self._top.get(kind)
        if handler is None:
            raise StreamError(f"Unknown savevm section type {kind}", offset=self._buf.offset)
        return handler()

    def _top_eof(self) -> Event:
        self._buf.advance(1)
        self.state = State.AFTER_EOF
        return EOF()

    def _top_header(self) -> Event:
        start = self._buf.offset
        view, pos = self._need(6, "a section header")
        kind, (section_id, length) = view[pos], _ID_LEN.unpack_from(view, pos + 1)
        if length == 0:
            raise StreamError(
                f"Unable to read ID string for section {section_id}", offset=start + 5
            )
        view, pos = self._need(14 + length, "a section header")
        raw = bytes(view[pos + 6 : pos + 6 + length])
        instance_id, version_id = struct.unpack_from(">II", view, pos + 6 + length)
        try:
            idstr = raw.decode()
        except UnicodeDecodeError:
            raise StreamError(f"section idstr {raw!r} is not UTF-8", offset=start + 6) from None
        self._buf.advance(14 + length)
        header: SectionStart | SectionFull
        if kind == SectionType.START:
            header = SectionStart(section_id, idstr, instance_id, version_id)
            self.started[section_id] = header
        else:
            header = SectionFull(section_id, idstr, instance_id, version_id)
        self._enter(header, section_id)
        return header

    def _enter(self, header: SectionStart | SectionFull, section_id: int) -> None:
        self.current, self._current_id, self._schema = header, section_id, None
        self.state = State.RAM if header.idstr == RAM_SECTION else State.VMSTATE

    def _top_part_end(self) -> Event:
        start = self._buf.offset
        view, pos = self._need(5, "a section header")
        kind, (section_id,) = view[pos], _BE32.unpack_from(view, pos + 1)
        header = self.started.get(section_id)
        if header is None:
            raise StreamError(f"Unknown savevm section {section_id}", offset=start + 1)
        self._buf.advance(5)
        self._enter(header, section_id)
        return SectionPart(section_id) if kind == SectionType.PART else SectionEnd(section_id)

    def _top_command(self) -> Event:
        start = self._buf.offset
        view, pos = self._need(5, "a command header")
        cmd, length = _CMD.unpack_from(view, pos + 1)
        if cmd == Cmd.INVALID or cmd > max(Cmd):
            raise UnknownCommand(f"MIG_CMD 0x{cmd:x} unknown (len 0x{length:x})", start + 1,
                                 cmd, length)
        expected = CMD_LENGTHS[Cmd(cmd)]
        if (expected >= 0 and length != expected) or (
            cmd == Cmd.POSTCOPY_ADVISE and length not in (0, 16)
        ):
            raise StreamError(
                f"{Cmd(cmd).name} received with bad length - expecting "
                f"{16 if expected < 0 else expected}, got {length}",
                offset=start + 3,
            )
        if cmd == Cmd.PACKAGED:
            raise StreamError("packaged (postcopy) command streams are not supported", offset=start)
        view, pos = self._need(5 + length, "a command payload")
        payload = bytes(view[pos + 5 : pos + 5 + length])
        self._buf.advance(5 + length)
        return Command(cmd, payload)

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

    def _read_section_done(self) -> Event | None:
        if self.footers is False:
            self.state = State.TOP
            return None
        view, pos = self._need(1, "a section footer")
        name = self.current.idstr if self.current else "?"
        if view[pos] != SectionType.FOOTER:
            if self.footers:
                raise StreamError(f"Missing section footer for {name}", offset=self._buf.offset)
            self.footers = False  # old machine types (<= 2.3) send no footers
            self.state = State.TOP
            return None
        view, pos = self._need(5, "a section footer")
        (read,) = _BE32.unpack_from(view, pos + 1)
        if read != self._current_id:
            raise StreamError(
                f"Mismatched section id in footer for {name} - read 0x{read:x} "
                f"expected 0x{self._current_id:x}",
                offset=self._buf.offset + 1,
            )
        self.footers = True
        self._buf.advance(5)
        self.state = State.TOP
        return Footer(read)

    def _read_after_eof(self) -> Event | None:
        if self._buf.available == 0 and self._buf.closed:
            self.state = State.DONE  # no vmdesc: QEMU warns "... but got 0" and loads
            return None
        view, pos = self._need(1, "the vmdesc marker")
        if view[pos] != SectionType.VMDESCRIPTION:
            self.after_eof_byte = view[pos]
            self.state = State.DONE
            return None
        view, pos = self._need(5, "the vmdesc length")
        (length,) = _BE32.unpack_from(view, pos + 1)
        if length > self.max_vmdesc_size:
            raise StreamError(
                f"vmdesc length {length} is more than the limit of {self.max_vmdesc_size}",
                offset=self._buf.offset + 1,
            )
        got = self._buf.need(5 + length)
        if got is None:
            raise _Incomplete(self._buf.offset + 5 + length, "the vmdesc")
        view, pos = got
        event = VMDescription(bytes(view[pos + 5 : pos + 5 + length]))
        self._buf.advance(5 + length)
        self.state = State.DONE
        return event
