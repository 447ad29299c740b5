"""RAM runs: bulk record builders and the run scanner agree with the record-at-a-time codec;
the Loader's run path loads what the event path loads; PageMap behaves as a dict."""

from __future__ import annotations

import random

import pytest

from migcompat.errors import StreamError
from migcompat.model.ram import PageMap
from migcompat.stream import (
    Destination,
    Encoder,
    Footer,
    Header,
    Loader,
    MemSize,
    Page,
    RamBlock,
    RamBlockInfo,
    RamEOS,
    SectionEnd,
    SectionPart,
    SectionStart,
    ZeroPage,
    load_stream,
)
from migcompat.stream.events import EOF
from migcompat.stream.ram import PAGE_CONT, ZERO_CONT, encode_record, parse_record
from migcompat.stream.ram_runs import (
    RUN_PAGES,
    RUN_ZERO_FILLED,
    RUN_ZEROS,
    record_headers,
    scan_runs,
    zero_records,
)
from migcompat.vmstate.codec import NeedData

PS = 4096
ZERO = bytes(PS)


def page(rng: random.Random, kind: str = "random") -> bytes:
    if kind == "zero":
        return ZERO
    if kind == "late":  # first word zero, not a zero page
        return bytes(8) + rng.randbytes(PS - 9) + b"\1"
    return rng.randbytes(PS)


@pytest.mark.parametrize("count", [0, 1, 2, 511, 512, 513, 1500])
def test_bulk_builders_match_the_encoder(count: int) -> None:
    offset = 0x7000
    zeros = b"".join(encode_record(ZeroPage("b", offset + i * PS, 0, True), PS, "b")[0]
                     for i in range(count))
    assert zero_records(offset, count, PS) == zeros
    heads = b"".join(encode_record(Page("b", offset + i * PS, ZERO, True), PS, "b")[0][:8]
                     for i in range(count))
    assert record_headers(offset, count, PS, PAGE_CONT) == heads


def records(rng: random.Random, n: int) -> tuple[list[Page | ZeroPage], bytes]:
    """A random mix of CONTINUE records (runs, gaps, zero pages, fills) and their bytes."""
    out: list[Page | ZeroPage] = []
    off = 0
    while len(out) < n:
        kind = rng.choice(["pages", "zeros", "gap", "fill", "mixed"])
        length = rng.choice([1, 2, 3, 17, 200])
        for i in range(length):
            if kind == "gap":
                off += rng.choice([1, 5]) * PS
            if kind in ("zeros", "fill"):
                out.append(ZeroPage("b", off, 7 if kind == "fill" and i == 1 else 0, True))
            else:
                what = rng.choice(["random", "zero", "late"]) if kind == "mixed" else "random"
                out.append(Page("b", off, page(rng, what), True))
            off += PS
    data = b"".join(encode_record(r, PS, "b")[0] for r in out)
    return out, data


def expand(view: memoryview, runs: list[tuple[int, int, int, int]]) -> list[tuple[str, int, bytes]]:
    out = []
    for kind, offset, count, pos in runs:
        for i in range(count):
            if kind == RUN_PAGES:
                at = pos + i * (PS + 8)
                assert view[at : at + 8] == (offset + i * PS | PAGE_CONT).to_bytes(8, "big")
                out.append(("page", offset + i * PS, bytes(view[at + 8 : at + 8 + PS])))
            else:
                assert kind in (RUN_ZEROS, RUN_ZERO_FILLED)
                out.append(("zero", offset + i * PS, b""))
    return out


def one_by_one(data: bytes, below: int) -> tuple[list[tuple[str, int, bytes]], int]:
    """What the record-at-a-time parser gives for the records scan_runs may take."""
    view, pos, out = memoryview(data), 0, []
    while True:
        try:
            ev, end, _ = parse_record(view, pos, 0, PS, "b")
        except NeedData:
            return out, pos
        assert isinstance(ev, Page | ZeroPage)
        if ev.offset >= below:
            return out, pos
        if isinstance(ev, ZeroPage):
            if ev.fill:
                return out, pos
            out.append(("zero", ev.offset, b""))
        elif bytes(ev.data) == ZERO:
            out.append(("zero", ev.offset, b""))
        else:
            out.append(("page", ev.offset, bytes(ev.data)))
        pos = end


@pytest.mark.parametrize("seed", range(12))
def test_scan_runs_agrees_with_parse_record(seed: int) -> None:
    rng = random.Random(seed)
    _, data = records(rng, 300)
    below = rng.choice([1 << 40, 200 * PS])
    cut = rng.choice([len(data), len(data) - 3, len(data) // 2 + 1])
    expected, stop = one_by_one(data[:cut], below)
    # Resume after the record the scanner stops at (as the loader's event path does).
    got: list[tuple[str, int, bytes]] = []
    view, pos = memoryview(data[:cut]), 0
    while True:
        runs, end = scan_runs(view, pos, PS, below, 1 << 20)
        got += expand(view, runs)
        if end in (pos, stop):
            pos = end
            break
        pos = end
    assert got == expected[: len(got)] and pos <= stop
    if pos < stop:  # it stopped at a fill byte: the next record is a ZeroPage with a fill
        ev, _, _ = parse_record(view, pos, 0, PS, "b")
        assert isinstance(ev, ZeroPage) and ev.fill


@pytest.mark.parametrize("length", [63, 64, 65, 319, 320, 321, 1343, 1344, 1345])
@pytest.mark.parametrize("zeros", [False, True])
def test_scan_runs_measures_runs_across_probe_sizes(length: int, zeros: bool) -> None:
    """Runs are measured by galloping probes (64, then 4x more each time): a run that ends
    at, just before or just after a probe boundary, followed by a gap and a long tail,
    comes out as exactly that run."""
    rng = random.Random(length)
    rec: list[Page | ZeroPage] = [
        ZeroPage("b", i * PS, 0, True) if zeros else Page("b", i * PS, page(rng), True)
        for i in range(length)]
    tail_at = (length + 3) * PS  # a gap of 3 pages, then a run of the other kind
    rec += [Page("b", tail_at + i * PS, page(rng), True) if zeros
            else ZeroPage("b", tail_at + i * PS, 0, True) for i in range(700)]
    data = memoryview(b"".join(encode_record(r, PS, "b")[0] for r in rec))
    runs, end = scan_runs(data, 0, PS, 1 << 40, 1 << 20)
    kind, other = (RUN_ZEROS, RUN_PAGES) if zeros else (RUN_PAGES, RUN_ZEROS)
    assert [(k, o, c) for k, o, c, _ in runs] == [(kind, 0, length), (other, tail_at, 700)]
    assert end == len(data)


def test_scan_runs_limit_and_kinds() -> None:
    rng = random.Random(1)
    evs: list[Page | ZeroPage] = [Page("b", i * PS, page(rng), True) for i in range(10)]
    evs += [Page("b", 10 * PS, ZERO, True), ZeroPage("b", 11 * PS, 0, True)]
    evs += [ZeroPage("b", 12 * PS, 0, True), Page("b", 13 * PS, page(rng, "late"), True)]
    data = memoryview(b"".join(encode_record(e, PS, "b")[0] for e in evs))
    runs, end = scan_runs(data, 0, PS, 1 << 40, 4)
    assert [(k, o, c) for k, o, c, _ in runs] == [(RUN_PAGES, 0, 4)]
    runs, end = scan_runs(data, end, PS, 1 << 40, 100)
    assert [(k, o // PS, c) for k, o, c, _ in runs] == [
        (RUN_PAGES, 4, 6), (RUN_ZERO_FILLED, 10, 1), (RUN_ZEROS, 11, 2), (RUN_PAGES, 13, 1)]
    assert end == len(data)
    # The other record kinds are left to the record-at-a-time path.
    other = memoryview(encode_record(Page("b", 0, ZERO, False), PS, None)[0])
    assert scan_runs(other, 0, PS, 1 << 40, 100) == ([], 0)
    assert ZERO_CONT == 0x22 and PAGE_CONT == 0x28


BLOCKS = (RamBlock("pc.ram", 0x400 * PS), RamBlock("pc.bios", 4 * PS))
DEST = Destination(ram_blocks=BLOCKS, machine=None, sections=(), configuration=False,
                   footers=True)


def ram_stream(ram: list[Page | ZeroPage], bios: list[Page | ZeroPage]) -> bytes:
    enc = Encoder()
    infos = tuple(RamBlockInfo(b.idstr, b.used_length) for b in BLOCKS)
    out = [enc.send(Header()), enc.send(SectionStart(0, "ram", 0, 4)),
           enc.send(MemSize(sum(b.used_length for b in BLOCKS), infos)), enc.send(RamEOS()),
           enc.send(Footer(0)), enc.send(SectionPart(0))]
    out += [enc.send(r) for r in ram + bios]
    out += [enc.send(RamEOS()), enc.send(Footer(0)), enc.send(SectionEnd(0)), enc.send(RamEOS()),
            enc.send(Footer(0)), enc.send(EOF())]
    return b"".join(out)


def named(evs: list[Page | ZeroPage], block: str) -> list[Page | ZeroPage]:
    """The same records for ``block``, the first naming it."""
    out: list[Page | ZeroPage] = []
    for i, e in enumerate(evs):
        if isinstance(e, Page):
            out.append(Page(block, e.offset, e.data, i > 0))
        else:
            out.append(ZeroPage(block, e.offset, e.fill, i > 0))
    return out


def expected_ram(evs: list[Page | ZeroPage]) -> dict[int, bytes]:
    pages: dict[int, bytes] = {}
    for e in evs:
        data = bytes((e.fill,)) * PS if isinstance(e, ZeroPage) else bytes(e.data)
        if data == ZERO:
            pages.pop(e.offset, None)
        else:
            pages[e.offset] = data
    return pages


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, int, bytes]] = []

    def page_records(self, block: str, offset: int, count: int, records: memoryview) -> None:
        for i in range(count):
            rec = records[i * (PS + 8) : (i + 1) * (PS + 8)]
            assert bytes(rec[:8]) == (offset + i * PS | PAGE_CONT).to_bytes(8, "big")
            self.calls.append(("page", block, offset + i * PS, bytes(rec[8:])))

    def page(self, block: str, offset: int, data: bytes | memoryview) -> None:
        self.calls.append(("page", block, offset, bytes(data)))

    def zero_pages(self, block: str, offset: int, count: int) -> None:
        self.calls += [("zero", block, offset + i * PS, b"") for i in range(count)]


@pytest.mark.parametrize("seed", range(6))
def test_run_path_loads_what_the_event_path_loads(seed: int) -> None:
    rng = random.Random(seed)
    ram, _ = records(rng, 250)
    ram = [e for e in ram if e.offset < 0x400 * PS]
    # Pages sent again, out of order, and zeroed again.
    for e in rng.sample(ram, 20):
        ram.append(Page("pc.ram", e.offset, page(rng), True))
        ram.append(ZeroPage("pc.ram", e.offset, 0, True))
    bios = [Page("pc.bios", 3 * PS, page(rng)), ZeroPage("pc.bios", 0, 0, True)]
    data = ram_stream(named(ram, "pc.ram"), bios)
    want = {"pc.ram": expected_ram(ram), "pc.bios": expected_ram(bios)}
    for step in (len(data), 20000, 5000, 4099, 1000):
        seen = Recorder()
        loader = Loader(DEST, ram="sparse", observer=seen)
        for i in range(0, len(data), step):
            loader.feed(data[i : i + step])
        state = loader.close()
        got = {name: {o: bytes(p) for o, p in pages.items()}
               for name, pages in state.ram_pages.items()}
        assert got == want
        assert list(state.ram_pages["pc.ram"]) == sorted(want["pc.ram"])
        assert (state.pages, state.zero_pages) == (
            sum(isinstance(e, Page) for e in ram + bios),
            sum(isinstance(e, ZeroPage) for e in ram + bios))
        # The observer is told about every record, in stream order.
        replay: dict[str, dict[int, bytes]] = {"pc.ram": {}, "pc.bios": {}}
        for kind, block, offset, content in seen.calls:
            if kind == "page":
                assert content != ZERO
                replay[block][offset] = content
            else:
                replay[block].pop(offset, None)
        assert replay == want
        dense = load_stream(data, DEST)
        for name, pages in want.items():
            image = bytearray(dense.ram_sizes[name])
            for o, p in pages.items():
                image[o : o + PS] = p
            assert bytes(dense.ram[name][: len(image)]) == bytes(image)


def test_run_path_errors_keep_their_offsets() -> None:
    rng = random.Random(3)
    ram = [Page("pc.ram", i * PS, page(rng), i > 0) for i in range(8)]
    ram.append(Page("pc.ram", 0x400 * PS, page(rng), True))  # past the block's end
    data = ram_stream(ram, [])
    at = data.index((0x400 * PS | PAGE_CONT).to_bytes(8, "big"))
    with pytest.raises(StreamError) as info:
        load_stream(data, DEST, ram="sparse")
    assert info.value.message == f"Illegal RAM offset {0x400 * PS:x}"
    assert info.value.offset == at
    with pytest.raises(StreamError) as info:
        load_stream(data[: at - 100], DEST, ram="sparse")
    assert info.value.offset == at - 100 and "truncated" in info.value.message


def test_page_map_is_a_dict_of_pages() -> None:
    rng = random.Random(5)
    contents = [rng.randbytes(PS) for _ in range(6)]
    recs = memoryview(b"".join((0x10000 + i * PS | PAGE_CONT).to_bytes(8, "big") + c
                               for i, c in enumerate(contents)))
    m = PageMap(PS)
    m[0] = b"x" * PS
    m.add_records(0x10000, 6, recs)
    assert len(m) == 7 and list(m) == [0] + [0x10000 + i * PS for i in range(6)]
    assert bytes(m[0x10000 + 2 * PS]) == contents[2] and 0x10000 + 5 * PS in m
    assert 0x10000 + 6 * PS not in m and 0x10001 not in m and m.get(0x8000) is None
    m[0x10000 + PS] = b"y" * PS  # inside a run: the run becomes single pages
    del m[0x10000 + 3 * PS]
    assert m.pop(0x10000 + 3 * PS, None) is None
    assert bytes(m[0x10000 + PS]) == b"y" * PS and bytes(m[0x10000 + 4 * PS]) == contents[4]
    assert len(m) == 6 and list(m) == sorted(m)
    m.add_records(0x10000, 6, recs)  # below what it holds: replaces page by page
    assert {o: bytes(p) for o, p in m.items()} == {
        0: b"x" * PS, **{0x10000 + i * PS: c for i, c in enumerate(contents)}}
    with pytest.raises(ValueError):
        m.add_records(0x40000, 2, recs)
    with pytest.raises(KeyError):
        m[0x20000]
