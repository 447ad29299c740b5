"""The migration stream: a sans-IO codec (bytes <-> events) and a pure loader.

See docs/stream.md. Nothing here reads files or sockets: feed bytes, take events or state.
"""

# The names are imported on first use (PEP 562): a command that needs one module of the
# package does not pay for all of them at start-up. Type checkers see the imports.
import importlib
from typing import TYPE_CHECKING, Any

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

_LAZY = {
    "Cmd": ("migcompat.stream.constants", "Cmd"),
    "Command": ("migcompat.stream.events", "Command"),
    "CompressedPage": ("migcompat.stream.events", "CompressedPage"),
    "Configuration": ("migcompat.stream.events", "Configuration"),
    "DONE": ("migcompat.stream.decoder", "DONE"),
    "Decoder": ("migcompat.stream.decoder", "Decoder"),
    "Destination": ("migcompat.stream.destination", "Destination"),
    "EOF": ("migcompat.stream.events", "EOF"),
    "Encoder": ("migcompat.stream.encoder", "Encoder"),
    "Event": ("migcompat.stream.events", "Event"),
    "Footer": ("migcompat.stream.events", "Footer"),
    "Header": ("migcompat.stream.events", "Header"),
    "LoadedState": ("migcompat.stream.destination", "LoadedState"),
    "Loader": ("migcompat.stream.loader", "Loader"),
    "MemSize": ("migcompat.stream.events", "MemSize"),
    "NEED_DATA": ("migcompat.stream.decoder", "NEED_DATA"),
    "Page": ("migcompat.stream.events", "Page"),
    "ProtocolError": ("migcompat.errors", "ProtocolError"),
    "RamBlock": ("migcompat.stream.destination", "RamBlock"),
    "RamBlockInfo": ("migcompat.stream.events", "RamBlockInfo"),
    "RamEOS": ("migcompat.stream.events", "RamEOS"),
    "RamFlag": ("migcompat.stream.constants", "RamFlag"),
    "SectionEnd": ("migcompat.stream.events", "SectionEnd"),
    "SectionFull": ("migcompat.stream.events", "SectionFull"),
    "SectionPart": ("migcompat.stream.events", "SectionPart"),
    "SectionStart": ("migcompat.stream.events", "SectionStart"),
    "SectionState": ("migcompat.stream.events", "SectionState"),
    "SectionType": ("migcompat.stream.constants", "SectionType"),
    "State": ("migcompat.stream.states", "State"),
    "VMDescription": ("migcompat.stream.events", "VMDescription"),
    "XbzrlePage": ("migcompat.stream.events", "XbzrlePage"),
    "ZeroPage": ("migcompat.stream.events", "ZeroPage"),
    "encode_events": ("migcompat.stream.encoder", "encode_events"),
    "find_vmdesc": ("migcompat.stream.vmdesc", "find_vmdesc"),
    "load_stream": ("migcompat.stream.loader", "load_stream"),
    "stream_schemas": ("migcompat.stream.vmdesc", "stream_schemas"),
    "unknown_section_error": ("migcompat.stream.decoder", "unknown_section_error"),
}


def __getattr__(name: str) -> Any:
    where = _LAZY.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(where[0]), where[1])
    globals()[name] = value
    return value


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
