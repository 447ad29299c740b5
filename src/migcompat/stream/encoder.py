"""The sans-IO stream encoder: events in, bytes out.

It walks the same grammar table as the decoder (:mod:`.states`), so it refuses an event in
the wrong place (a page outside a RAM section, a footer with another section's id, a PART for
a section that never started). A stream decoded with its own vmdesc re-encodes byte-exactly.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence

from migcompat.errors import ProtocolError
from migcompat.stream.configuration import configuration_state
from migcompat.stream.constants import MAGIC, PAGE_SIZE, RAM_SECTION, RamFlag, SectionType
from migcompat.stream.events import (
    EOF,
    Command,
    CompressedPage,
    Configuration,
    Event,
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
from migcompat.stream.ram import encode_record
from migcompat.stream.states import State, next_state
from migcompat.vmstate.encode import encode_state

_BE32 = struct.Struct(">I")
_BE64 = struct.Struct(">Q")
_ZERO, _PAGE, _CONT = int(RamFlag.ZERO), int(RamFlag.PAGE), int(RamFlag.CONTINUE)


class Encoder:
    def __init__(self, page_size: int = PAGE_SIZE) -> None:
        self.page_size = page_size
        self.state = State.HEADER
        self.started: dict[int, SectionStart] = {}
        self.current_id: int | None = None
        self.last_block: str | None = None

    def send(self, event: Event) -> bytes:
        """The bytes of ``event``; raises ProtocolError if it may not come now."""
        is_ram = self._body_is_ram(event)
        new = next_state(self.state, event, is_ram)
        if new is None:
            raise ProtocolError(f"{type(event).__name__} may not come in state {self.state.value}")
        data = self._encode(event)
        self.state = new
        return data

    def send_all(self, events: Iterable[Event]) -> bytes:
        return b"".join(self.send(e) for e in events)

    def send_pages(self, records: Sequence[Page | ZeroPage]) -> bytes:
        """Fast path for a run of page records inside a RAM section (what
        :meth:`Decoder.next_ram_batch` gives): the same bytes as :meth:`send` on each."""
        if self.state is not State.RAM:
            raise ProtocolError(f"pages may not come in state {self.state.value}")
        out: list[bytes | memoryview] = []
        append, pack, size, last = out.append, _BE64.pack, self.page_size, self.last_block
        for rec in records:
            block, offset, payload, continued = rec
            if offset % size:
                raise ProtocolError(f"page offset 0x{offset:x} is not page aligned")
            zero = isinstance(payload, int)
            flags = (_ZERO if zero else _PAGE) | (_CONT if continued else 0)
            if continued:
                if block != last:
                    raise ProtocolError(f"a CONTINUE record for '{block}' follows '{last}'")
                append(pack(offset | flags))
            else:
                name = block.encode()
                append(pack(offset | flags) + bytes((len(name),)) + name)
                last = block
            if isinstance(payload, int):
                append(bytes((payload,)))
            elif len(payload) != size:
                raise ProtocolError(f"page data is {len(payload)} bytes, not {size}")
            else:
                append(payload)
        self.last_block = last
        return b"".join(out)

    def _body_is_ram(self, event: Event) -> bool:
        if isinstance(event, SectionStart | SectionFull):
            return event.idstr == RAM_SECTION
        if isinstance(event, SectionPart | SectionEnd):
            start = self.started.get(event.section_id)
            if start is None:
                raise ProtocolError(f"section {event.section_id} was never started")
            return start.idstr == RAM_SECTION
        return False

    def _encode(self, event: Event) -> bytes:
        if isinstance(event, Page | ZeroPage | MemSize | RamEOS | XbzrlePage | CompressedPage):
            try:
                data, self.last_block = encode_record(event, self.page_size, self.last_block)
            except ValueError as exc:
                raise ProtocolError(str(exc)) from exc
            return data
        if isinstance(event, SectionState):
            return encode_state(event.state)
        if isinstance(event, SectionStart | SectionFull):
            if isinstance(event, SectionStart):
                self.started[event.section_id] = event
            self.current_id = event.section_id
            kind = SectionType.START if isinstance(event, SectionStart) else SectionType.FULL
            name = event.idstr.encode()
            return (
                bytes((kind,))
                + _BE32.pack(event.section_id)
                + bytes((len(name),))
                + name
                + struct.pack(">II", event.instance_id, event.version_id)
            )
        if isinstance(event, SectionPart | SectionEnd):
            self.current_id = event.section_id
            kind = SectionType.PART if isinstance(event, SectionPart) else SectionType.END
            return bytes((kind,)) + _BE32.pack(event.section_id)
        if isinstance(event, Footer):
            if event.section_id != self.current_id:
                raise ProtocolError(
                    f"footer for section {event.section_id} after section {self.current_id}"
                )
            return bytes((SectionType.FOOTER,)) + _BE32.pack(event.section_id)
        if isinstance(event, Header):
            return struct.pack(">II", MAGIC, event.version)
        if isinstance(event, Configuration):
            state = configuration_state(event.machine, event.subsections)
            return bytes((SectionType.CONFIGURATION,)) + encode_state(state)
        if isinstance(event, Command):
            return struct.pack(">BHH", SectionType.COMMAND, event.cmd, len(event.payload)) + (
                event.payload
            )
        if isinstance(event, EOF):
            return bytes((SectionType.EOF,))
        assert isinstance(event, VMDescription)
        return (
            bytes((SectionType.VMDESCRIPTION,))
            + _BE32.pack(len(event.json_bytes))
            + (event.json_bytes)
        )


def encode_events(events: Iterable[Event], page_size: int = PAGE_SIZE) -> bytes:
    """Encode a whole stream."""
    return Encoder(page_size).send_all(events)
