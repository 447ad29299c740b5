"""Real QEMU 7.2 streams: decode with the stream's own vmdesc, re-encode byte-exactly, load.

These need ``qemu-system-x86_64``: skipped with a reason when it is missing, failed under CI=true.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from migcompat.stream import (
    DONE,
    NEED_DATA,
    Configuration,
    Decoder,
    Destination,
    Footer,
    SectionState,
    encode_events,
    load_stream,
    stream_schemas,
)

pytestmark = pytest.mark.qemu
MACHINES = ["pc-q35-7.2", "pc-q35-5.1", "pc-i440fx-2.3"]


def decode(data: bytes, chunk: int | None = None) -> list[object]:
    dec = Decoder(stream_schemas(data))
    out: list[object] = []
    pieces = [data] if chunk is None else [data[i : i + chunk] for i in range(0, len(data), chunk)]
    for piece in pieces:
        dec.feed(piece)
        while True:
            batch = dec.next_ram_batch()
            if batch:
                out.extend(batch)
                continue
            ev = dec.next_event()
            if ev is NEED_DATA or ev is DONE:
                break
            out.append(ev)
    dec.close()
    while (ev := dec.next_event()) is not DONE:
        out.append(ev)
    return out


@pytest.mark.parametrize("machine", MACHINES)
def test_decode_and_reencode_byte_exact(qemu_streams: Callable[[str], Path], machine: str) -> None:
    data = qemu_streams(machine).read_bytes()
    events = decode(data)
    assert encode_events(events) == data  # type: ignore[arg-type]
    configs = [e for e in events if isinstance(e, Configuration)]
    if machine == "pc-i440fx-2.3":  # <= 2.3: no configuration section, no footers
        assert configs == [] and not any(isinstance(e, Footer) for e in events)
    else:
        assert [c.machine for c in configs] == [machine]
    states = [e.state for e in events if isinstance(e, SectionState)]
    assert any(s.name == "cpu" for s in states)


def test_chunked_decode_matches(qemu_streams: Callable[[str], Path]) -> None:
    data = qemu_streams("pc-q35-7.2").read_bytes()
    assert decode(data, chunk=65536) == decode(data)
    assert decode(data, chunk=4099) == decode(data)


@pytest.mark.parametrize("machine", MACHINES)
def test_load_with_own_vmdesc(qemu_streams: Callable[[str], Path], machine: str) -> None:
    data = qemu_streams(machine).read_bytes()
    legacy = machine == "pc-i440fx-2.3"
    dest = Destination(
        stream_schemas(data),
        machine=None if legacy else machine,
        configuration=not legacy,
        footers=not legacy,
    )
    state = load_stream(data, dest)
    assert state.warnings == []
    assert state.ram_sizes["pc.ram"] == 64 * 1024 * 1024
    assert state.pages > 0 and state.zero_pages > 0
    if not legacy:
        blob = state.sections[("0000:00:01.0/virtio-blk", 0)]["virtio"]
        assert isinstance(blob, bytes) and blob[:8] == bytes.fromhex("00000002f41a0110")


def test_machine_mismatch_like_qemu(qemu_streams: Callable[[str], Path]) -> None:
    from migcompat.errors import StreamError

    data = qemu_streams("pc-q35-5.1").read_bytes()
    with pytest.raises(StreamError) as info:
        load_stream(data, Destination(stream_schemas(data), machine="pc-q35-7.2"))
    assert info.value.message == "Machine type received is 'pc-q35-5.1' and local is 'pc-q35-7.2'"


def test_truncated_real_stream(qemu_streams: Callable[[str], Path]) -> None:
    from migcompat.errors import StreamError

    data = qemu_streams("pc-q35-7.2").read_bytes()
    schemas = stream_schemas(data)
    eof = data.rindex(b"\x00\x06")
    # "discard": only the offsets matter here; a dense load maps 64 MiB of guest RAM per cut.
    for cut in [*range(0, eof, 9973), eof]:
        with pytest.raises(StreamError) as info:
            load_stream(data[:cut], Destination(schemas), ram="discard")
        assert info.value.offset == cut
    state = load_stream(data[: eof + 100], Destination(schemas), ram="discard")
    assert len(state.warnings) == 1
