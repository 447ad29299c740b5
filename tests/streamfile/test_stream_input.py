"""A stream file read in slices (mapped under a lease, or with pread) gives the same report,
the same extracted RAM and the same rewrite as the whole stream in memory, wherever the
slices cut it; an input that changes under the walk is an error in the report."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from ram_streams import PS, ram_stream
from test_robustness import SEED

from migcompat.analysis.stream_tools.rewrite import RewriteResult, rewrite_stream
from migcompat.analysis.stream_tools.walk import analyze_stream
from migcompat.errors import InputChanged
from migcompat.migration import streamfile
from migcompat.migration.ramfiles import SparseRamWriter
from migcompat.migration.streamfile import StreamFile
from migcompat.stream import Page, ZeroPage, stream_schemas


def dense_with_zeros() -> bytes:
    """Runs of pages and zero pages, then a second pass over some of them."""
    rng = random.Random(5)
    recs: list[Page | ZeroPage] = []
    for i in range(300):
        first = i == 0
        if rng.random() < 0.3:
            recs.append(ZeroPage("pc.ram", i * PS, 0, not first))
        else:
            recs.append(Page("pc.ram", i * PS, rng.randbytes(PS), not first))
    recs += [ZeroPage("pc.ram", i * PS, 0, True) for i in range(40, 90)]
    recs += [Page("pc.ram", i * PS, rng.randbytes(PS), True) for i in range(60, 70)]
    return ram_stream([("pc.ram", 512 * PS)], recs)


@pytest.mark.parametrize("mapped", [True, False])
@pytest.mark.parametrize("step", [4099, 1 << 20])
def test_slices_read_as_the_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                  mapped: bool, step: int) -> None:
    monkeypatch.setattr(streamfile, "MAP_SLICE", step)
    monkeypatch.setattr(streamfile, "READ_SLICE", step)
    for name, data in (("seed", SEED), ("dense", dense_with_zeros())):
        path = tmp_path / f"{name}.mig"
        path.write_bytes(data)
        resolver = stream_schemas(data)
        whole = analyze_stream(data, resolver).to_json()
        with StreamFile(str(path), mapped=mapped) as sf:
            assert sf.mapped == mapped and sf.size == len(data)
            assert analyze_stream(sf, resolver).to_json() == whole
            out = b"".join(rewrite_stream(sf, resolver, [], [], RewriteResult()))
            assert out == data
            for where, source in (("sliced", sf), ("whole", data)):
                (tmp_path / where).mkdir(exist_ok=True)
                sink = SparseRamWriter(tmp_path / where)
                analyze_stream(source, resolver, sink=sink)
                sink.close()
        for f in (tmp_path / "whole").iterdir():
            assert (tmp_path / "sliced" / f.name).read_bytes() == f.read_bytes(), f.name


class Shrinking:
    """A ChunkedInput whose file shrinks after the first slice."""

    def __init__(self, data: bytes, first: int) -> None:
        self.data, self.first, self.size = data, first, len(data)

    def chunks(self) -> Iterator[bytes | memoryview]:
        yield self.data[: self.first]
        raise InputChanged("f.mig: the file shrank", offset=self.first)


def test_input_changed_is_the_reports_error() -> None:
    data = ram_stream([("pc.ram", 64 * PS)], [ZeroPage("pc.ram", i * PS, 0, i > 0)
                                             for i in range(64)])
    report = analyze_stream(Shrinking(data, 100), None, "none")
    assert isinstance(report.error, InputChanged) and report.error.offset == 100
    assert not report.complete and report.end <= 100
