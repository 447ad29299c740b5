"""The source's run-by-run RAM records are the bytes the event encoder gives, page by page;
the digest is the same whichever side or path computes it."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from migcompat.catalog.load import open_catalog
from migcompat.model.devspec import parse_device
from migcompat.model.ram import PAGE_SIZE, RamBlock
from migcompat.model.vm import VMConfig
from migcompat.stream import Page, ZeroPage
from migcompat.stream.ram import encode_record
from migcompat.vm import savevm
from migcompat.vm.digest import LoadDigest, StateDigest
from migcompat.vm.live import LiveVM, build, build_empty
from migcompat.vm.loadvm import IncomingLoad, apply
from migcompat.vm.savevm import Saver, live_digest, save

CAT = open_catalog("tutorial")
PS = PAGE_SIZE


def vm(mem: int = 8 << 20, seed: int = 3) -> LiveVM:
    config = VMConfig(CAT.release("qemu-5.2"), "pc-5.1", [parse_device("virtio-blk-pci")],
                      smp=2, mem=mem)
    live = build(config, seed=seed, ram_data=1 << 20)
    rng = random.Random(seed)
    main = live.ram.blocks[0]
    assert main.data is not None and main.written is not None
    for off in (0, PS, 9 * PS, 10 * PS, 40 * PS, (mem >> 1) - PS, mem >> 1, mem - PS):
        main.data[off : off + PS] = rng.randbytes(PS)
        main.written.add(off)
    main.written.add(11 * PS)  # written, but all zero again
    main.data[12 * PS : 13 * PS] = bytes(8) + rng.randbytes(PS - 8)  # first word zero
    main.written.add(12 * PS)
    inner = (4 << 20) + 5 * PS  # zero pages inside the random run
    main.data[inner : inner + 2 * PS] = bytes(2 * PS)
    return live


def reference_records(block: RamBlock, start: int, end: int, first: bool,
                      digest: StateDigest, offsets: list[int] | None) -> Iterator[bytes]:
    """One record per page through the event encoder (the obvious, slow way)."""
    read = block.page_reader()
    out = []
    for off in range(start, end, PS):
        data = read(off)
        last = None if first else block.idstr
        event: Page | ZeroPage
        if data is None:
            event = ZeroPage(block.idstr, off, 0, not first)
        else:
            event = Page(block.idstr, off, bytes(data), not first)
            digest.page(off, data)
        out.append(encode_record(event, PS, last)[0])
        first = False
    yield b"".join(out)


def reference_save(live: LiveVM, monkeypatch: pytest.MonkeyPatch) -> tuple[bytes, str]:
    with monkeypatch.context() as m:
        m.setattr(savevm, "_page_records", reference_records)
        saver = Saver(live)
        return b"".join(saver), saver.digest


@pytest.mark.parametrize("chunk", [savevm.CHUNK, 3 * (PS + 8) + 100])
def test_records_are_the_encoders_bytes(monkeypatch: pytest.MonkeyPatch, chunk: int) -> None:
    live = vm()
    monkeypatch.setattr(savevm, "PART_BYTES", 1 << 20)  # several PART sections per block
    monkeypatch.setattr(savevm, "CHUNK", chunk)
    want, want_digest = reference_save(live, monkeypatch)
    saver = Saver(live)
    got = b"".join(saver)
    assert got == want and saver.digest == want_digest == live_digest(live)
    main = live.ram.blocks[0]
    main.written = None  # unknown written pages: every page is looked at
    saver = Saver(live)
    assert b"".join(saver) == want and saver.digest == want_digest


def test_destination_digest_paths_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    src = vm()
    saver = Saver(src)
    stream = b"".join(saver)
    target = build_empty(src.config)
    incoming = IncomingLoad(target)
    for i in range(0, len(stream), 1 << 20):
        incoming.feed(stream[i : i + (1 << 20)])
    result = incoming.finish()
    assert incoming.ram_digest.in_order  # hashed while loading
    assert result.digest == saver.digest == live_digest(src)
    # Hashed from the loaded state instead of while loading: the same.
    loaded = incoming.loader.result
    assert apply(target, loaded).digest == saver.digest
    # The loaded VM (sparse RAM) sends the very same stream on.
    assert result.live.ram.blocks[0].contents() == src.ram.blocks[0].contents()
    again = Saver(result.live)
    assert b"".join(again) == stream and again.digest == saver.digest
    assert b"".join(save(result.live)) == reference_save(result.live, monkeypatch)[0]


def test_load_digest_needs_stream_order() -> None:
    layout = [("a", 4 * PS), ("b", 2 * PS)]
    page = bytes(range(256)) * (PS // 256)
    whole = StateDigest()
    whole.block("a", 4 * PS)
    whole.page(PS, page)
    whole.block("b", 2 * PS)
    d = LoadDigest(layout, PS)
    d.zero_pages("a", 0, 1)
    d.page("a", PS, page)
    got = d.ram_digest()
    assert got is not None and got.hexdigest() == whole.hexdigest()
    for calls in ([("b", 0), ("a", 0)], [("a", PS), ("a", PS)], [("c", 0)]):
        d = LoadDigest(layout, PS)
        for block, off in calls:
            d.page(block, off, page)
        assert d.ram_digest() is None
