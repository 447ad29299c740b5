"""The decoder's framing: the file header, the configuration, section headers, commands,
footers and the trailing description (reference §1); everything but section bodies and RAM.

A mixin of :class:`migcompat.stream.decoder.Decoder`: each ``_read_*``/``_top_*`` method reads
one unit from the buffer, or raises :class:`Incomplete` when the unit is not all there yet
(the decoder turns that into NEED_DATA, or a truncated stream at the end of input).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from migcompat.errors import StreamError, UnknownCommand
from migcompat.stream.buffer import ReceiveBuffer
from migcompat.stream.configuration import CONFIGURATION, LOAD_VERSION, capabilities
from migcompat.stream.constants import (
    CMD_LENGTHS,
    FILE_VERSION,
    FILE_VERSION_COMPAT,
    MAGIC,
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
    SectionEnd,
    SectionFull,
    SectionPart,
    SectionStart,
    VMDescription,
)
from migcompat.stream.states import State
from migcompat.vmstate.codec import DecodeContext, NeedData, decode_state
from migcompat.vmstate.schema import SectionSchema

_BE32 = struct.Struct(">I")
_ID_LEN = struct.Struct(">IB")  # START/FULL: section_id, idstr length
_CMD = struct.Struct(">HH")


class Incomplete(Exception):
    """The unit being read ends at ``end``, beyond the bytes buffered so far."""

    def __init__(self, end: int, what: str, field: str | None = None) -> None:
        super().__init__(end)
        self.end, self.what, self.field = end, what, field


class Framing:
    # Set by the Decoder.
    _buf: ReceiveBuffer
    _configuration: bool | None
    footers: bool | None
    state: State
    started: dict[int, SectionStart]
    current: SectionStart | SectionFull | None
    _current_id: int
    _schema: SectionSchema | None
    ignore_shared: bool
    after_eof_byte: int | None
    max_vmdesc_size: int
    _top: dict[int, Callable[[], Event]]

    def _need(self, n: int, what: str, read_ahead: bool = False) -> tuple[memoryview, int]:
        got = self._buf.need(n, read_ahead)
        if got is None:
            raise Incomplete(self._buf.offset + n, what)
        return got

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
                    raise Incomplete(
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
            raise Incomplete(self._buf.offset + 5 + length, "the vmdesc")
        view, pos = got
        event = VMDescription(bytes(view[pos + 5 : pos + 5 + length]))
        self._buf.advance(5 + length)
        self.state = State.DONE
        return event
