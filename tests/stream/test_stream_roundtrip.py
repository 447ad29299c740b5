"""Hypothesis: events -> bytes -> events is the identity (and bytes -> events -> bytes too)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from stream_samples import TIMER, resolver

from migcompat.stream import (
    DONE,
    EOF,
    NEED_DATA,
    Command,
    Configuration,
    Decoder,
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
    ZeroPage,
    encode_events,
)
from migcompat.vmstate import VMStateData

names = st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=20)
u32 = st.integers(0, 2**32 - 1)
i64 = st.integers(-(2**63), 2**63 - 1)


@st.composite
def ram_section(draw: st.DrawFn, first: bool) -> list[object]:
    blocks = draw(st.lists(names, min_size=1, max_size=3, unique=True))
    events: list[object] = []
    if first:
        sizes = [draw(st.integers(1, 8)) * 4096 for _ in blocks]
        events.append(
            MemSize(
                sum(sizes), tuple(RamBlockInfo(b, s) for b, s in zip(blocks, sizes, strict=True))
            )
        )
    last = None
    for _ in range(draw(st.integers(0, 6))):
        block = draw(st.sampled_from(blocks))
        cont = block == last and draw(st.booleans())
        offset = draw(st.integers(0, 2**20)) * 4096
        if draw(st.booleans()):
            events.append(ZeroPage(block, offset, draw(st.integers(0, 255)), cont))
        else:
            seed = draw(st.binary(min_size=1, max_size=16))  # full random pages overflow hypothesis
            events.append(Page(block, offset, (seed * 4096)[:4096], cont))
        last = block
    events.append(RamEOS())
    return events


@st.composite
def streams(draw: st.DrawFn) -> list[object]:
    footers = draw(st.booleans())
    events: list[object] = [Header()]
    if draw(st.booleans()):
        events.append(Configuration(draw(names)))
    for kind in ("start", "part", "end"):
        if kind == "start":
            events.append(SectionStart(2, "ram", 0, 4))
        else:
            events.append(SectionPart(2) if kind == "part" else SectionEnd(2))
        events += draw(ram_section(kind == "start"))
        if footers:
            events.append(Footer(2))
    if draw(st.booleans()):
        events.append(Command(2, draw(st.binary(min_size=4, max_size=4))))
    for _ in range(draw(st.integers(0, 3))):
        values = (
            ("cpu_ticks_offset", draw(i64)),
            ("dummy", draw(i64)),
            ("cpu_clock_offset", draw(i64)),
        )
        events += [SectionFull(0, "timer", 0, 2), SectionState(VMStateData(TIMER, 2, values))]
        if footers:
            events.append(Footer(0))
    events.append(EOF())
    if draw(st.booleans()):
        events.append(VMDescription(draw(st.binary(max_size=64))))
    return events


def decode(data: bytes) -> list[object]:
    dec = Decoder(resolver)
    dec.feed(data)
    dec.close()
    out = []
    while (ev := dec.next_event()) is not DONE:
        out.append(ev)
    return out


@settings(max_examples=150, deadline=None)
@given(streams())
def test_events_bytes_events(events: list[object]) -> None:
    data = encode_events(events)  # type: ignore[arg-type]
    decoded = decode(data)
    assert decoded == events
    assert encode_events(decoded) == data  # type: ignore[arg-type]


@settings(max_examples=60, deadline=None)
@given(streams(), st.integers(1, 50))
def test_chunked_feeding(events: list[object], chunk: int) -> None:
    data = encode_events(events)  # type: ignore[arg-type]
    dec = Decoder(resolver)
    out: list[object] = []
    for i in range(0, len(data), chunk):
        dec.feed(data[i : i + chunk])
        while (ev := dec.next_event()) is not NEED_DATA and ev is not DONE:
            out.append(ev)
    dec.close()
    while (ev := dec.next_event()) is not DONE:
        out.append(ev)
    assert out == events
