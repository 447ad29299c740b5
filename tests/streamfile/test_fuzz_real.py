"""Fuzzing as a habit: the target of tools/fuzz.py (tools/fuzzing.py), seeded from streams
the real QEMU wrote, run by hypothesis on every suite run; and what earlier campaigns
found, as fixed cases.

The target runs analyze (JSON and text), validate against the seed and rewrite in process
on each input; bad input must end in a migcompat error, and a stream analyze reads whole
must re-encode byte-exactly.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qemu_helpers import make_stream, require_qemu

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
import fuzzing

from migcompat.analysis.stream_tools.rewrite import RewriteResult, rewrite_stream
from migcompat.analysis.stream_tools.walk import analyze_stream

# Two machine generations: 2.3 sends no configuration section and no footers.
SEED_VMS = [("pc-i440fx-7.2", ["-nodefaults", "-vga", "none"]),
            ("pc-i440fx-2.3", ["-nodefaults", "-vga", "none"]),
            ("pc-q35-7.2", ["-nodefaults", "-device", "e1000", "-device", "usb-ehci",
                            "-device", "usb-tablet", "-device", "pvpanic"])]


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> list[fuzzing.Seed]:
    require_qemu()
    where = tmp_path_factory.mktemp("fuzz-seeds")
    return [fuzzing.make_seed(machine, make_stream(where, machine, extra, mem=2).read_bytes())
            for machine, extra in SEED_VMS]


@settings(max_examples=300, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(st.randoms(use_true_random=False), st.integers(0, len(SEED_VMS) - 1))
def test_fuzz_real_streams(seeds: list[fuzzing.Seed], rng: random.Random, which: int) -> None:
    seed = seeds[which]
    fuzzing.run_one(fuzzing.mutate(rng, seed, seeds), seed)  # raises Crash on a finding


def test_the_target_finds_what_it_should(seeds: list[fuzzing.Seed]) -> None:
    """The oracle is live: a re-encoding that loses a byte is reported."""
    seed = seeds[0]
    assert fuzzing.run_one(seed.data, seed) is True
    with pytest.raises(fuzzing.Crash, match="re-encode"):
        _check_lossy(seed)


def _check_lossy(seed: fuzzing.Seed) -> None:
    """run_one's oracle on a re-encoding that drops the last byte."""
    original = fuzzing.rewrite_stream

    def lossy(*args: object, **kw: object) -> object:
        chunks = list(original(*args, **kw))  # type: ignore[arg-type]
        return iter([b"".join(chunks)[:-1]])
    fuzzing.rewrite_stream = lossy  # type: ignore[assignment]
    try:
        fuzzing.run_one(seed.data, seed)
    finally:
        fuzzing.rewrite_stream = original


def _reencoded(data: bytes, seed: fuzzing.Seed) -> bytes:
    return b"".join(rewrite_stream(data, seed.resolver, [], [], RewriteResult()))


def test_found_eos_address_bits_survive_a_rewrite(seeds: list[fuzzing.Seed]) -> None:
    """Found by the campaign: the page-address bits of a RAM EOS record (QEMU ignores
    them) were re-encoded as zero, so rewrite was not byte-exact."""
    seed = seeds[0]
    start = next(s for s in seed.report.sections if s.kind == "start")
    assert start.footer_offset is not None
    at = start.footer_offset - 8  # the EOS closing the block list
    assert seed.data[at:at + 8] == bytes(7) + b"\x10"
    data = seed.data[:at + 1] + b"\x2a" + seed.data[at + 2:]
    assert analyze_stream(data, seed.resolver).complete
    assert _reencoded(data, seed) == data


def test_found_bool_bytes_other_than_one_survive_a_rewrite(seeds: list[fuzzing.Seed]) -> None:
    """Found by the campaign: QEMU reads any non-zero byte of a bool field as true; a 2
    was re-encoded as 1. It now stays 2 (and reads as true)."""
    seed = seeds[0]
    field = next((sec, f) for sec in seed.report.sections if sec.state is not None
                 for f in sec.to_json().get("fields", []) if f["type"] == "bool")
    sec, f = field
    data = seed.data[:f["offset"]] + b"\x02" + seed.data[f["offset"] + 1:]
    report = analyze_stream(data, seed.resolver)
    assert report.complete
    again = next(s for s in report.sections if s.offset == sec.offset)
    value = next(g["value"] for g in again.to_json()["fields"] if g["path"] == f["path"])
    assert value == 2 and bool(value)
    assert _reencoded(data, seed) == data
