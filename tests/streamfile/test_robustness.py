"""Truncated, corrupted and hostile streams: one error line with the offset, exit 2, bounded.

The seed is a small stream in QEMU's format written by migcompat itself (no QEMU needed):
configuration, RAM START/PART/END, device sections with footers, a command, EOF and the
trailing description. The fuzz test mutates it and runs the CLI entry point on it.
"""

from __future__ import annotations

import json
import resource
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cli_run import Run, run
from migcompat.catalog.load import find_release
from migcompat.model.devspec import parse_device
from migcompat.model.vm import VMConfig
from migcompat.stream import (
    DONE,
    EOF,
    NEED_DATA,
    Command,
    Decoder,
    encode_events,
    stream_schemas,
)
from migcompat.vm.live import build
from migcompat.vm.savevm import save


def _seed() -> bytes:
    _, rel = find_release("qemu-5.2", None)
    live = build(VMConfig(rel, "pc-5.1", [parse_device("virtio-blk-pci")], smp=2, mem=2 << 20),
                 seed=1, ram_data=64 << 10)
    data = b"".join(save(live))
    dec = Decoder(stream_schemas(data))
    dec.feed(data)
    dec.close()
    events = []
    while True:
        batch = dec.next_ram_batch()
        if batch:
            events.extend(batch)
            continue
        ev = dec.next_event()
        if ev is DONE:
            break
        assert ev is not NEED_DATA
        if isinstance(ev, EOF):
            events.append(Command(2, b"\0\0\0\x07"))  # a PING, as postcopy streams hold
        events.append(ev)
    return encode_events(events)  # type: ignore[arg-type]


SEED = _seed()


@pytest.fixture
def seed_file(tmp_path: Path) -> Path:
    path = tmp_path / "seed.mig"
    path.write_bytes(SEED)
    return path


def one_error(res: Run) -> str:
    lines = [ln for ln in res.err.splitlines() if ln.startswith("migcompat: error:")]
    assert len(lines) == 1, res.err
    return lines[0]


def test_seed_is_complete(seed_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    res = run(capsys, "analyze", seed_file, "--format", "json")
    assert res.code == 0, res.err
    kinds = [i["type"] for i in res.json()["items"]]
    assert "command" in kinds and kinds[-2:] == ["eof", "vmdesc"]
    cmd = next(i for i in res.json()["items"] if i["type"] == "command")
    assert cmd["name"] == "PING" and cmd["payload"] == "00000007"
    out = seed_file.with_name("copy.mig")
    assert run(capsys, "rewrite", seed_file, out).code == 0
    assert out.read_bytes() == SEED


def test_truncated_everywhere(tmp_path: Path, seed_file: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    eof = SEED.rindex(b"\x00\x06")
    cuts = sorted({*range(0, 40, 3), *range(40, eof, 2503), *range(eof - 30, eof + 1, 3)})
    cut_file = tmp_path / "cut.mig"
    for cut in cuts:
        cut_file.write_bytes(SEED[:cut])
        # With a layout (the whole stream's description), the cut is found where it is.
        res = run(capsys, "analyze", cut_file, "--schema", seed_file, "--format", "json")
        assert res.code == 2, cut
        assert f"at byte {cut}" in one_error(res), (cut, res.err)
        assert res.json()["error"]["offset"] == cut
        res = run(capsys, "rewrite", cut_file, tmp_path / "o.mig", "--schema", seed_file)
        assert res.code == 2 and f"at byte {cut}" in one_error(res)
        assert not (tmp_path / "o.mig").exists()
    # Without one, a cut stream has no trailing description: it stops at the first device.
    cut_file.write_bytes(SEED[:eof])
    res = run(capsys, "analyze", cut_file)
    assert res.code == 2 and "cut short" in one_error(res)


def patched(at: int, new: bytes) -> bytes:
    return SEED[:at] + new + SEED[at + len(new):]


def item(kind: str, idstr: str | None = None) -> dict[str, object]:
    from migcompat.analysis.stream_tools.walk import analyze_stream

    doc = analyze_stream(SEED, stream_schemas(SEED)).to_json()
    return next(i for i in doc["items"] if i["type"] == kind
                and (idstr is None or i.get("idstr") == idstr))


@pytest.mark.parametrize("case", ["magic", "version", "type", "footer", "idstr", "config-len",
                                  "mem-size", "vmdesc-len", "vmdesc-nesting", "ram-offset"])
def test_corrupt_and_hostile(case: str, tmp_path: Path,
                             capsys: pytest.CaptureFixture[str]) -> None:
    timer = item("full", "timer")
    start = item("start")
    eof = item("eof")
    part = item("part")
    data, expect, where = {
        "magic": (patched(0, b"QEVN"), "Not a migration stream", 0),
        "version": (patched(4, struct.pack(">I", 2)), "SaveVM v2 format is obsolete", 4),
        "type": (patched(timer["offset"], b"\x09"), "Unknown savevm section type 9",
                 timer["offset"]),
        "footer": (patched(timer["footer_offset"] + 1, struct.pack(">I", 0x99)),
                   "Mismatched section id in footer for timer", timer["footer_offset"] + 1),
        "idstr": (patched(timer["offset"] + 5, b"\x00"), "Unable to read ID string",
                  timer["offset"] + 5),
        "config-len": (patched(9, struct.pack(">I", 0xFFFFFFF0)), "limit", 8),
        "mem-size": (SEED[:start["body_offset"]] + struct.pack(">Q", (1 << 62) | 4)
                     + (b"\x01a" + bytes(8)) * 5000, "more than 4096 RAM blocks",
                     start["body_offset"]),
        "vmdesc-len": (SEED[:eof["offset"] + 1] + b"\x06" + struct.pack(">I", 0xFFFFFFF0)
                       + b"{}", "vmdesc length", eof["offset"] + 2),
        "vmdesc-nesting": (SEED[:eof["offset"] + 1] + b"\x06" + struct.pack(">I", 200_002)
                           + b"[" * 100_001 + b"]" * 100_001, "cannot size section",
                           timer["body_offset"]),
        "ram-offset": (patched(part["body_offset"], struct.pack(">Q", (1 << 40) | 0x02)),
                       "Illegal RAM offset", part["body_offset"]),
    }[case]
    path = tmp_path / "bad.mig"
    path.write_bytes(data)
    args = {"ram-offset": ["--extract", tmp_path / "x"],
            "vmdesc-len": ["--schema", tmp_path / "seed.mig"]}.get(case, [])
    (tmp_path / "seed.mig").write_bytes(SEED)
    res = run(capsys, "analyze", path, *args)
    assert res.code == 2, res.err
    line = one_error(res)
    assert expect in line and f"at byte {where}" in line, line


def test_unusable_inputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty.mig"
    empty.write_bytes(b"")
    res = run(capsys, "analyze", empty)
    assert res.code == 2 and "at byte 0" in one_error(res)
    res = run(capsys, "analyze", tmp_path / "missing.mig")
    assert res.code == 2 and "No such file" in one_error(res)
    res = run(capsys, "validate", empty, "--against", empty)
    assert res.code == 2


def test_hostile_schema_is_bounded(tmp_path: Path, seed_file: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    """2**24 elements of an empty struct, nested: the decoder gives up, it does not spin."""
    doc = json.loads(SEED[SEED.rindex(b"\x00\x06") + 6:])
    empty = {"vmsd_name": "e", "version": 0, "fields": []}
    inner = {"vmsd_name": "i", "version": 0, "fields": [
        {"name": "x", "type": "struct", "array_len": 1 << 24, "struct": empty, "size": 0}]}
    timer = next(d for d in doc["devices"] if d["name"] == "timer")
    timer["fields"].insert(0, {"name": "y", "type": "struct", "array_len": 1 << 24,
                               "struct": inner, "size": 0})
    schema = tmp_path / "hostile.json"
    schema.write_text(json.dumps(doc))
    res = run(capsys, "analyze", seed_file, "--schema", schema)
    assert res.code == 2 and "hostile" in one_error(res)


def test_memory_stays_bounded(tmp_path: Path) -> None:
    """A stream claiming huge sizes, analyzed under a 1 GiB address-space limit."""
    start = item("start")
    data = SEED[:start["body_offset"]] + struct.pack(">Q", (1 << 62) | 4) + b"\xffa" * 40
    path = tmp_path / "huge.mig"
    path.write_bytes(data)

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    proc = subprocess.run([sys.executable, "-m", "migcompat", "analyze", str(path)],
                          capture_output=True, text=True, timeout=60, preexec_fn=limit)
    assert proc.returncode == 2, proc.stderr
    assert "truncated stream" in proc.stderr and "MemoryError" not in proc.stderr


MUTATIONS = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, len(SEED) - 1), st.integers(1, 255)),
    st.tuples(st.just("cut"), st.integers(0, len(SEED)), st.just(0)),
    st.tuples(st.just("be32"), st.integers(0, len(SEED) - 4),
              st.sampled_from([0, 1, 0x7F, 0xFF, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF])),
    st.tuples(st.just("insert"), st.integers(0, len(SEED)), st.integers(0, 255)),
)


def mutate(data: bytes, how: tuple[str, int, int]) -> bytes:
    kind, at, value = how
    at = min(at, max(len(data) - 4, 0))
    if kind in ("flip", "be32") and len(data) < 4:
        return data
    if kind == "flip":
        return data[:at] + bytes((data[at] ^ value,)) + data[at + 1:]
    if kind == "cut":
        return data[:at]
    if kind == "be32":
        return data[:at] + struct.pack(">I", value) + data[at + 4:]
    return data[:at] + bytes((value,)) + data[at:]


@settings(max_examples=120, deadline=3000, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(MUTATIONS, min_size=1, max_size=3))
def test_fuzz_cli(tmp_path: Path, seed_file: Path, capsys: pytest.CaptureFixture[str],
                  mutations: list[tuple[str, int, int]]) -> None:
    data = SEED
    for how in mutations:
        data = mutate(data, how)
    path = tmp_path / "fuzz.mig"
    path.write_bytes(data)
    out = tmp_path / "fuzz-out.mig"
    for args, codes in (
        (["analyze", path, "--format", "json"], (0, 2)),
        (["rewrite", path, out, "--schema", seed_file], (0, 2)),
        (["validate", path, "--against", seed_file], (0, 1, 2)),
    ):
        res = run(capsys, *args)
        assert res.code in codes, (args[0], res.code, res.err)
        if res.code == 2:
            line = one_error(res)
            assert "at byte" in line or args[0] == "rewrite", line
        if args[0] == "analyze":
            doc = res.json()  # the JSON report is printed even when the stream is bad
            assert doc["complete"] is (res.code == 0)


def test_dump_sizes_what_it_can(tmp_path: Path, seed_file: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    """A -dump-vmstate sizes a section only when each field is one element of its C size;
    the footer confirms it, and a wrong guess stops with a clear message."""
    def dump(sizes: list[int]) -> Path:
        fields = [{"field": f"f{i}", "version_id": 0, "field_exists": False, "size": s}
                  for i, s in enumerate(sizes)]
        doc = {"vmschkmachine": {"Name": "pc-5.1"}, "timer-type": {
            "Name": "timer-type", "version_id": 2, "minimum_version_id": 1,
            "Description": {"name": "timer", "version_id": 2, "minimum_version_id": 1,
                            "Fields": fields}}}
        path = tmp_path / "dump.json"
        path.write_text(json.dumps(doc))
        return path

    res = run(capsys, "analyze", seed_file, "--schema", dump([8, 8]), "--format", "json")
    assert res.code == 2 and "cannot size section 'cpu'" in one_error(res)
    timer = next(i for i in res.json()["items"] if i.get("idstr") == "timer")
    assert [f["size"] for f in timer["fields"]] == [8, 8]
    assert res.json()["layout_from"] == "schema:dump"
    res = run(capsys, "analyze", seed_file, "--schema", dump([8, 8, 8]))
    line = one_error(res)
    assert res.code == 2 and "cannot size section 'timer' (id 1) with the -dump-vmstate" in line


def test_validate_size_mismatch_in_our_words(tmp_path: Path, seed_file: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    doc = {"vmschkmachine": {"Name": "pc-5.1"}, "t": {
        "Name": "t", "version_id": 2, "minimum_version_id": 1,
        "Description": {"name": "timer", "version_id": 2, "minimum_version_id": 1, "Fields": [
            {"field": "cpu_ticks_offset", "version_id": 0, "field_exists": False, "size": 4},
            {"field": "cpu_clock_offset", "version_id": 0, "field_exists": False, "size": 8}],
            "Subsections": [{"name": "timer/x", "version_id": 1, "minimum_version_id": 1}]}}}
    dump = tmp_path / "dump.json"
    dump.write_text(json.dumps(doc))
    res = run(capsys, "validate", seed_file, "--schema", dump, "--format", "json")
    assert res.code == 1
    verdict = res.json()
    assert verdict["error"]["message"].startswith(
        "Field 'cpu_ticks_offset' of 'timer' is 8 bytes per element in the stream but 4")
    assert verdict["error"]["field"] == "timer:cpu_ticks_offset"
    assert verdict["qemu"] == []  # QEMU has no words for this: it reads on out of step
    doc["t"]["Description"]["Fields"][0]["size"] = 8  # type: ignore[index]
    doc["t"]["Description"]["minimum_version_id"] = 3  # type: ignore[index]
    dump.write_text(json.dumps(doc))
    res = run(capsys, "validate", seed_file, "--schema", dump, "--format", "json")
    assert res.json()["qemu"] == [
        "timer: incoming version_id 2 is too old for local minimum version_id  3",
        "error while loading state for instance 0x0 of device 'timer'",
        "load of migration failed: Invalid argument"]


def test_names_from_a_hostile_stream_reach_the_terminal_escaped(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A section named with terminal control bytes (clear the screen, ring the bell) and
    a newline is shown with those bytes as \\xNN, on one line."""
    timer = item("full", "timer")
    at = SEED.index(b"timer", timer["offset"])
    path = tmp_path / "hostile.mig"
    path.write_bytes(patched(at, b"\x1b[2J\n"))
    res = run(capsys, "analyze", path)
    shown = res.out + res.err
    assert "\x1b" not in shown and "\\x1b[2J\\x0a" in shown, shown
