"""The stream grammar as one table: which event may follow in which state.

Both the decoder and the encoder walk this table, so they agree by construction on what a
well-formed stream is (the h11 habit: all state-machine rules in one table-driven module).
Section headers lead to BODY; the body kind (RAM records or one VMState body) is chosen by
the section's idstr (reference §1.8, §3).
"""

from __future__ import annotations

from enum import Enum

from migcompat.stream.events import (
    EOF,
    Command,
    CompressedPage,
    Configuration,
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


class State(Enum):
    HEADER = "header"  # nothing read yet
    CONFIG = "config"  # after the header: configuration section, or straight to sections
    TOP = "top"  # between sections
    BODY = "body"  # after a section header; resolved to RAM or VMSTATE by idstr
    RAM = "ram"  # inside a RAM section body
    VMSTATE = "vmstate"  # inside a VMState section body
    SECTION_DONE = "section-done"  # after a body: a footer, or (no footers) the next section
    AFTER_EOF = "after-eof"  # after QEMU_VM_EOF: the vmdesc may follow
    DONE = "done"


_TOP: dict[type, State] = {
    SectionStart: State.BODY,
    SectionFull: State.BODY,
    SectionPart: State.BODY,
    SectionEnd: State.BODY,
    Command: State.TOP,
    EOF: State.AFTER_EOF,
}

_RAM_RECORDS: dict[type, State] = {
    MemSize: State.RAM,
    Page: State.RAM,
    ZeroPage: State.RAM,
    XbzrlePage: State.RAM,
    CompressedPage: State.RAM,
    RamEOS: State.SECTION_DONE,
}

TRANSITIONS: dict[State, dict[type, State]] = {
    State.HEADER: {Header: State.CONFIG},
    State.CONFIG: {Configuration: State.TOP, **_TOP},
    State.TOP: _TOP,
    State.RAM: _RAM_RECORDS,
    State.VMSTATE: {SectionState: State.SECTION_DONE},
    State.SECTION_DONE: {Footer: State.TOP, **_TOP},
    State.AFTER_EOF: {VMDescription: State.DONE},
    State.DONE: {},
}


def next_state(state: State, event: object, body_is_ram: bool) -> State | None:
    """The state after ``event``, or None when the event may not come here."""
    new = TRANSITIONS[state].get(type(event))
    if new is State.BODY:
        return State.RAM if body_is_ram else State.VMSTATE
    return new
