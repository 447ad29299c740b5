"""Migrations through the library: success, failure with the source intact, dropped links."""

from __future__ import annotations

import socket
import threading
from pathlib import Path
from typing import Any

import pytest

from migcompat.catalog.load import open_catalog
from migcompat.errors import StreamError, TruncatedStream
from migcompat.migration.session import load_file, migrate, serve_incoming
from migcompat.migration.transport import Listener, MemoryTransport
from migcompat.migration.uri import parse_uri
from migcompat.model.devspec import parse_device
from migcompat.model.vm import VMConfig
from migcompat.stream import (
    DONE,
    NEED_DATA,
    Decoder,
    Destination,
    Encoder,
    load_stream,
    stream_schemas,
)
from migcompat.stream.decoder import Sentinel
from migcompat.vm.live import build, build_empty
from migcompat.vm.loadvm import IncomingLoad
from migcompat.vm.savevm import live_digest, save

CAT = open_catalog("tutorial")
DEVICES = [parse_device("virtio-blk-pci,id=vb0"), parse_device("e1000,id=n0")]


def cfg(side: str, smp: int = 4, mem: int = 16 << 20) -> VMConfig:
    release, machine = side.split(":")
    return VMConfig(CAT.release(release), machine, DEVICES, smp=smp, mem=mem)


def serve_in_thread(target: Any, uri: str) -> tuple[Listener, dict[str, Any], threading.Thread]:
    listener = Listener(parse_uri(uri))
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["result"] = serve_incoming(target, listener, 10)
        except Exception as exc:
            box["error"] = exc
        finally:
            listener.close()

    thread = threading.Thread(target=work)
    thread.start()
    return listener, box, thread


def test_unix_migration_carries_state_and_ram(tmp_path: Path) -> None:
    src = build(cfg("qemu-5.2:pc-5.1"), seed=7)
    dst = build_empty(cfg("qemu-5.1:pc-5.1"))
    listener, box, thread = serve_in_thread(dst, f"unix:{tmp_path / 'm.sock'}")
    res = migrate(src, listener.uri)
    thread.join()
    assert res.ok is True and res.error is None
    assert box["result"].outcome == res.outcome == "migrated"
    loaded = box["result"].load
    assert loaded.digest == res.digest == res.dest_digest == live_digest(src)
    assert loaded.migration == res.migration != ""
    assert loaded.live.ram.blocks[0].contents() == src.ram.blocks[0].contents()
    vb = loaded.live.section("0000:00:02.0/virtio-blk", 0)
    assert vb is not None and vb.state is not None
    assert vb.state == src.section("0000:00:02.0/virtio-blk", 0).state  # type: ignore[union-attr]
    assert dst.sections[0].state is None  # the target object itself was never touched


def test_failed_migration_reports_destination_error_and_source_can_retry(
        tmp_path: Path) -> None:
    src = build(cfg("qemu-5.2-broken:pc-5.1"), seed=3)
    before = live_digest(src)
    bad = build_empty(cfg("qemu-5.1:pc-5.1"))
    listener, box, thread = serve_in_thread(bad, "tcp:127.0.0.1:0")
    res = migrate(src, listener.uri)
    thread.join()
    assert res.ok is False
    assert res.error is not None and "1 != 4" in res.error and "virtio-blk" in res.error
    assert isinstance(box["error"], StreamError)
    assert live_digest(src) == before
    # The same source VM migrates again, to a destination that agrees with it.
    good = build_empty(cfg("qemu-5.2-broken:pc-5.1"))
    listener, box, thread = serve_in_thread(good, "tcp:127.0.0.1:0")
    res = migrate(src, listener.uri)
    thread.join()
    assert res.ok is True and box["result"].load.digest == before


def test_connection_dropped_mid_stream(tmp_path: Path) -> None:
    """A relay forwards the first 300 KiB and then cuts both sides."""
    src = build(cfg("qemu-5.2:pc-5.2", mem=32 << 20), seed=1, ram_data=8 << 20)
    before = live_digest(src)
    dst = build_empty(cfg("qemu-5.2:pc-5.2", mem=32 << 20))
    listener, box, thread = serve_in_thread(dst, f"unix:{tmp_path / 'd.sock'}")
    relay = socket.socket(socket.AF_UNIX)
    relay_path = str(tmp_path / "relay.sock")
    relay.bind(relay_path)
    relay.listen(1)

    def cut() -> None:
        conn, _ = relay.accept()
        up = socket.socket(socket.AF_UNIX)
        up.connect(str(listener.uri.path))
        moved = 0
        while moved < 300 << 10:
            data = conn.recv(65536)
            if not data:
                break
            up.sendall(data[: (300 << 10) - moved])
            moved += len(data)
        up.shutdown(socket.SHUT_RDWR)
        up.close()
        conn.shutdown(socket.SHUT_RDWR)
        conn.close()

    t = threading.Thread(target=cut)
    t.start()
    res = migrate(src, parse_uri(f"unix:{relay_path}"))
    t.join()
    thread.join()
    relay.close()
    assert res.ok is False and res.error
    assert live_digest(src) == before
    err = box["error"]
    assert isinstance(err, StreamError) and err.offset is not None
    assert dst.sections[0].state is None
    assert dst.ram.blocks[0].contents() == bytes(dst.ram.blocks[0].used_length)


def test_file_transport_is_atomic_and_loads(tmp_path: Path) -> None:
    src = build(cfg("qemu-5.1:pc-5.1"), seed=5)
    target = tmp_path / "vm.mig"
    res = migrate(src, parse_uri(f"file:{target}"))
    assert res.ok is None and target.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["vm.mig"]
    loaded = load_file(build_empty(cfg("qemu-5.2:pc-5.1")), str(target))
    assert loaded.digest == res.digest


def test_fast_ram_writer_matches_the_event_encoder() -> None:
    src = build(cfg("qemu-5.2:pc-5.1", mem=4 << 20), seed=2, ram_data=1 << 20)
    data = b"".join(save(src))
    # Decode with the stream's own description, re-encode event by event: same bytes.
    schemas = stream_schemas(data)
    assert schemas is not None
    dec = Decoder(schemas)
    dec.feed(data)
    dec.close()
    enc = Encoder()
    out = bytearray()
    while True:
        ev = dec.next_event()
        assert ev is not NEED_DATA
        if ev is DONE:
            break
        assert not isinstance(ev, Sentinel)
        out += enc.send(ev)
    assert bytes(out) == data


def test_truncated_stream_never_loads() -> None:
    src = build(cfg("qemu-5.2:pc-5.2", mem=4 << 20), seed=9)
    data = b"".join(save(src))
    dest = build_empty(cfg("qemu-5.2:pc-5.2", mem=4 << 20))
    for cut in (0, 5, 20, len(data) // 3, len(data) // 2, len(data) - 60_000):
        inc = IncomingLoad(dest)
        with pytest.raises(StreamError) as exc:
            inc.feed(data[:cut])
            inc.finish()
        assert exc.value.offset is not None and exc.value.offset <= cut


def test_our_stream_loads_without_our_schema_via_its_description() -> None:
    src = build(cfg("qemu-5.2:pc-5.1", mem=4 << 20), seed=4)
    data = b"".join(save(src))
    state = load_stream(data, Destination(resolver=stream_schemas(data)))
    assert ("0000:00:02.0/virtio-blk", 0) in state.sections
    assert MemoryTransport(data).read(4) == b"QEVM"


def test_a_stream_cut_in_or_before_its_description_never_loads(tmp_path: Path) -> None:
    # The digest travels in the description: a cut there is the one the load alone would
    # not see. Every cut after the EOF byte is refused, at its offset.
    src = build(cfg("qemu-5.2:pc-5.2", mem=4 << 20), seed=6)
    data = b"".join(save(src))
    marker = data.rindex(b"\x00\x06")  # EOF, then the description's marker
    dest = build_empty(cfg("qemu-5.2:pc-5.2", mem=4 << 20))
    for cut in (marker + 1, marker + 2, marker + 4, marker + 6, len(data) - 40, len(data) - 1):
        path = tmp_path / f"cut{cut}.mig"
        path.write_bytes(data[:cut])
        with pytest.raises(TruncatedStream) as info:
            load_file(dest, str(path))
        assert info.value.offset is not None and info.value.offset <= cut
    whole = tmp_path / "whole.mig"
    whole.write_bytes(data)
    assert load_file(dest, str(whole)).digest == live_digest(src)
