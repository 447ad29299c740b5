"""Decoder: whole input, byte by byte, trailing bytes, truncation at every offset, errors."""

from __future__ import annotations

import struct

import pytest
from stream_samples import SAMPLE_EVENTS, eof_offset, resolver

from migcompat.errors import StreamError
from migcompat.stream import (
    DONE,
    EOF,
    NEED_DATA,
    Decoder,
    Page,
    RamEOS,
    SectionFull,
    VMDescription,
    ZeroPage,
)


def decode_all(
    data: bytes, chunk: int | None = None, close: bool = True, **kw: object
) -> list[object]:
    dec = Decoder(resolver, **kw)  # type: ignore[arg-type]
    events: list[object] = []
    pieces = [data] if chunk is None else [data[i : i + chunk] for i in range(0, len(data), chunk)]
    for piece in pieces:
        dec.feed(piece)
        while (ev := dec.next_event()) is not NEED_DATA:
            if ev is DONE:
                return events
            events.append(ev)
    if close:
        dec.feed(b"")
        while (ev := dec.next_event()) is not DONE:
            assert ev is not NEED_DATA
            events.append(ev)
    return events


def test_whole_input(sample: bytes) -> None:
    assert decode_all(sample) == list(SAMPLE_EVENTS)


def test_byte_by_byte(sample: bytes) -> None:
    assert decode_all(sample, chunk=1) == list(SAMPLE_EVENTS)


@pytest.mark.parametrize("chunk", [3, 7, 4095, 4097, 10000])
def test_odd_chunks(sample: bytes, chunk: int) -> None:
    assert decode_all(sample, chunk=chunk) == list(SAMPLE_EVENTS)


def test_trailing_bytes_are_left_unread(sample: bytes) -> None:
    dec = Decoder(resolver)
    dec.feed(sample + b"GARBAGE")
    events = []
    while (ev := dec.next_event()) is not DONE:
        events.append(ev)
    assert events == list(SAMPLE_EVENTS)
    assert dec.trailing_data == (b"GARBAGE", False)
    assert dec.offset == len(sample)


def test_no_vmdesc_after_eof_is_fine(sample: bytes) -> None:
    cut = eof_offset(sample) + 1
    events = decode_all(sample[:cut])
    assert events == list(SAMPLE_EVENTS[:-1])


def test_a_non_vmdesc_byte_after_eof_is_remembered(sample: bytes) -> None:
    cut = eof_offset(sample) + 1
    dec = Decoder(resolver)
    dec.feed(sample[:cut] + b"\x42rest")
    while dec.next_event() is not DONE:
        pass
    assert dec.after_eof_byte == 0x42
    assert dec.trailing_data[0] == b"\x42rest"


def test_cut_at_every_offset_before_eof(sample: bytes) -> None:
    end = eof_offset(sample)
    for cut in range(end + 1):
        with pytest.raises(StreamError) as info:
            decode_all(sample[:cut])
        assert info.value.offset == cut, (cut, info.value)
        assert "truncated" in info.value.message


def test_cut_inside_vmdesc_is_an_error_of_the_decoder(sample: bytes) -> None:
    end = eof_offset(sample)
    for cut in range(end + 2, len(sample)):
        with pytest.raises(StreamError) as info:
            decode_all(sample[:cut])
        assert info.value.offset == cut


def test_truncation_names_section_and_field(sample: bytes) -> None:
    # Cut inside the "dev" body, inside the "arr" array.
    start = sample.index(b"0000:00:01.0/dev") + len("0000:00:01.0/dev") + 8
    with pytest.raises(StreamError) as info:
        decode_all(sample[: start + 2])
    assert info.value.section == "0000:00:01.0/dev"
    assert info.value.field == "dev:arr"


def test_errors_are_sticky(sample: bytes) -> None:
    dec = Decoder(resolver)
    dec.feed(b"XXXXXXXX")
    with pytest.raises(StreamError):
        dec.next_event()
    with pytest.raises(StreamError):
        dec.next_event()


def test_ram_batch_matches_next_event(sample: bytes) -> None:
    dec = Decoder(resolver)
    dec.feed(sample)
    dec.close()
    events: list[object] = []
    while True:
        batch = dec.next_ram_batch()
        if batch:
            assert all(isinstance(r, Page | ZeroPage) and r.continued for r in batch)
            events.extend(batch)
            continue
        ev = dec.next_event()
        if ev is DONE:
            break
        events.append(ev)
    assert events == list(SAMPLE_EVENTS)


def test_page_data_is_a_view_of_the_input(sample: bytes) -> None:
    dec = Decoder(resolver)
    dec.feed(sample)
    pages = []
    while (ev := dec.next_event()) is not DONE:
        if isinstance(ev, Page):
            pages.append(ev)
    assert pages and all(isinstance(p.data, memoryview) for p in pages)
    assert pages[0].data.obj is sample  # no copy of the fed bytes


# -- framing errors with QEMU's texts -----------------------------------------------------------
def first_error(data: bytes, **kw: object) -> StreamError:
    with pytest.raises(StreamError) as info:
        decode_all(data, **kw)
    return info.value


HEADER = struct.pack(">II", 0x5145564D, 3)


@pytest.mark.parametrize(
    ("data", "message", "offset"),
    [
        (b"QEVX" + HEADER[4:], "Not a migration stream", 0),
        (
            HEADER[:4] + struct.pack(">I", 2),
            "SaveVM v2 format is obsolete and don't work anymore",
            4,
        ),
        (HEADER[:4] + struct.pack(">I", 4), "Unsupported migration stream version", 4),
        (HEADER + b"\x09", "Unknown savevm section type 9", 8),
        (HEADER + b"\x06\0\0\0\0", "Unknown savevm section type 6", 8),
        (HEADER + b"\x02\0\0\0\x05", "Unknown savevm section 5", 9),
        (HEADER + b"\x04\0\0\0\x01\x00", "Unable to read ID string for section 1", 13),
        (HEADER + b"\x08\x00\x63\x00\x00", "MIG_CMD 0x63 unknown (len 0x0)", 9),
        (
            HEADER + b"\x08\x00\x02\x00\x01x",
            "PING received with bad length - expecting 4, got 1",
            11,
        ),
    ],
)
def test_framing_errors(data: bytes, message: str, offset: int) -> None:
    err = first_error(data, configuration=False)
    assert err.message == message
    assert err.offset == offset


def test_configuration_missing() -> None:
    err = first_error(HEADER + b"\x04", configuration=True)
    assert (err.message, err.offset) == ("Configuration section missing", 8)


def test_unknown_section_when_no_schema(sample: bytes) -> None:
    dec = Decoder(lambda *a: None)
    dec.feed(sample)
    with pytest.raises(StreamError) as info:
        while dec.next_event() is not DONE:
            pass
    assert info.value.message.startswith("Unknown savevm section or instance 'timer' 0. Make sure")


def test_footer_errors(sample: bytes) -> None:
    at = sample.index(b"\x7e\x00\x00\x00\x00")  # the timer footer
    bad = sample[:at] + b"\x7e\x00\x00\x00\x99" + sample[at + 5 :]
    err = first_error(bad)
    assert err.message == "Mismatched section id in footer for timer - read 0x99 expected 0x0"
    assert err.section == "timer"
    missing = sample[:at] + sample[at + 5 :]
    err = first_error(missing)
    assert err.message == "Missing section footer for timer"
    assert err.offset == at


def test_ram_errors() -> None:
    from migcompat.stream import encode_events
    from migcompat.stream.events import Header, SectionStart

    head = encode_events([Header(), SectionStart(2, "ram", 0, 4)])
    cont = head + struct.pack(">Q", 0x1000 | 0x08 | 0x20)
    err = first_error(cont, configuration=False)
    assert (err.message, err.section) == ("Ack, bad migration stream!", "ram")
    bad = head + struct.pack(">Q", 0x3)
    assert first_error(bad, configuration=False).message == (
        "Unknown combination of migration flags: 0x3"
    )


def test_old_streams_without_configuration_or_footers() -> None:
    from migcompat.stream import encode_events

    events = [e for e in SAMPLE_EVENTS if type(e).__name__ not in ("Configuration", "Footer")]
    data = encode_events(events)
    assert decode_all(data) == events
    assert decode_all(data, chunk=1) == events
    assert decode_all(data, configuration=False, footers=False) == events
    err = first_error(data, footers=True)
    assert err.message == "Missing section footer for ram"


# -- hostile inputs -------------------------------------------------------------------------------
def test_huge_configuration_length_is_bounded() -> None:
    data = HEADER + b"\x07" + struct.pack(">I", 0xFFFFFFFF) + b"pc"
    dec = Decoder(resolver, max_event_size=1 << 20)
    dec.feed(data)
    with pytest.raises(StreamError) as info:
        dec.next_event()
        dec.next_event()
    assert info.value.offset == 8
    assert "limit" in info.value.message


def test_gigantic_vmdesc_length(sample: bytes) -> None:
    cut = eof_offset(sample) + 1
    data = sample[:cut] + b"\x06" + struct.pack(">I", 0xFFFFFFF0) + b"{"
    err = first_error(data)
    assert err.offset == cut + 1
    assert "vmdesc length" in err.message


def test_huge_mem_size_total_is_bounded() -> None:
    from migcompat.stream import encode_events
    from migcompat.stream.events import Header, SectionStart

    head = encode_events([Header(), SectionStart(2, "ram", 0, 4)])
    entry = b"\x01a" + struct.pack(">Q", 0)
    data = head + struct.pack(">Q", (1 << 62) | 0x04) + entry * 200000
    dec = Decoder(configuration=False, max_event_size=1 << 20)
    dec.feed(data)
    with pytest.raises(StreamError) as info:
        while dec.next_event() is not DONE:
            pass
    assert info.value.offset == len(head)


def test_deeply_nested_vmdesc_json() -> None:
    from migcompat.stream import stream_schemas

    deep = b'{"devices":' + b"[" * 100000 + b"]" * 100000 + b"}"
    data = HEADER + b"\x00\x06" + struct.pack(">I", len(deep)) + deep
    with pytest.raises(StreamError):
        stream_schemas(data)
    with pytest.raises(StreamError):
        _ = VMDescription(deep).parsed


def test_random_garbage_never_hangs() -> None:
    import random

    rng = random.Random(7)
    for _ in range(300):
        data = HEADER + bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64)))
        dec = Decoder(resolver)
        dec.feed(data)
        dec.close()
        try:
            for _ in range(1000):
                ev = dec.next_event()
                assert ev is not NEED_DATA
                if ev is DONE:
                    break
            else:  # pragma: no cover
                raise AssertionError("decoder did not finish")
        except StreamError as exc:
            assert exc.offset is not None and 0 <= exc.offset <= len(data)


def test_event_kinds_in_sample() -> None:
    kinds = {type(e) for e in SAMPLE_EVENTS}
    assert {SectionFull, RamEOS, EOF, Page, ZeroPage} <= kinds
