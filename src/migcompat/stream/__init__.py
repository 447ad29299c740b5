"""The migration stream: a sans-IO codec (bytes <-> events) and a pure loader.

See docs/stream.md. Nothing here reads files or sockets: feed bytes, take events or state.
"""

# The names are imported on first use (migcompat/lazy.py); type checkers see the imports.
from typing import TYPE_CHECKING

from migcompat.lazy import lazy_names

if TYPE_CHECKING:
    from migcompat.errors import ProtocolError
    from migcompat.stream.constants import Cmd, RamFlag, SectionType
    from migcompat.stream.decoder import DONE, NEED_DATA, Decoder, unknown_section_error
    from migcompat.stream.destination import Destination, LoadedState, RamBlock
    from migcompat.stream.encoder import Encoder, encode_events
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
        RamBlockInfo,
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
    from migcompat.stream.loader import Loader, load_stream
    from migcompat.stream.states import State
    from migcompat.stream.vmdesc import find_vmdesc, stream_schemas

__getattr__ = lazy_names(globals(), {
    "migcompat.errors": ("ProtocolError",),
    "migcompat.stream.constants": ("Cmd", "RamFlag", "SectionType"),
    "migcompat.stream.decoder": ("DONE", "Decoder", "NEED_DATA", "unknown_section_error"),
    "migcompat.stream.destination": ("Destination", "LoadedState", "RamBlock"),
    "migcompat.stream.encoder": ("Encoder", "encode_events"),
    "migcompat.stream.events": ("Command", "CompressedPage", "Configuration", "EOF", "Event",
        "Footer", "Header", "MemSize", "Page", "RamBlockInfo", "RamEOS", "SectionEnd",
        "SectionFull", "SectionPart", "SectionStart", "SectionState", "VMDescription",
        "XbzrlePage", "ZeroPage"),
    "migcompat.stream.loader": ("Loader", "load_stream"),
    "migcompat.stream.states": ("State",),
    "migcompat.stream.vmdesc": ("find_vmdesc", "stream_schemas"),
})


__all__ = [
    "DONE",
    "EOF",
    "NEED_DATA",
    "Cmd",
    "Command",
    "CompressedPage",
    "Configuration",
    "Decoder",
    "Destination",
    "Encoder",
    "Event",
    "Footer",
    "Header",
    "LoadedState",
    "Loader",
    "MemSize",
    "Page",
    "ProtocolError",
    "RamBlock",
    "RamBlockInfo",
    "RamEOS",
    "RamFlag",
    "SectionEnd",
    "SectionFull",
    "SectionPart",
    "SectionStart",
    "SectionState",
    "SectionType",
    "State",
    "VMDescription",
    "XbzrlePage",
    "ZeroPage",
    "encode_events",
    "find_vmdesc",
    "load_stream",
    "stream_schemas",
    "unknown_section_error",
]
