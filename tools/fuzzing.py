"""The fuzz target over the stream tools, shared by the suite and ``tools/fuzz.py``.

One input goes through what ``analyze``, ``validate --against`` and ``rewrite`` do in
process (the same functions the commands call, without the file I/O): its own trailing
description as the layout, else the seed's (``--schema``); the report in JSON and text;
the verdict against the seed's destination; the re-encoding. Bad input must end in a
:class:`MigcompatError` (the CLI's one-line error); anything else is a crash. Two oracles
besides "no crash": a stream analyze reads whole re-encodes to the same bytes, and a
report's JSON serializes.

Mutations are biased to the bytes that are not RAM page contents (section headers, device
state, the configuration, the description), where the parsers' decisions are; a page's
4 KiB of data is opaque to them.
"""

from __future__ import annotations

import json
import random
import struct
from collections.abc import Callable
from dataclasses import dataclass, field

from migcompat.analysis.stream_tools.destination import describe_destination
from migcompat.analysis.stream_tools.report import StreamReport
from migcompat.analysis.stream_tools.rewrite import RewriteResult, rewrite_stream
from migcompat.analysis.stream_tools.text import report_lines, verdict_lines
from migcompat.analysis.stream_tools.validate import DestModel, validate_report
from migcompat.analysis.stream_tools.walk import analyze_stream
from migcompat.errors import MigcompatError, SchemaFileError
from migcompat.stream.vmdesc import locate_vmdesc
from migcompat.vmstate.layouts import schema_from_vmdesc
from migcompat.vmstate.schema import SchemaResolver

INTERESTING32 = (0, 1, 2, 0x7F, 0x80, 0xFF, 0x100, 0xFFFF, 0x10000, 0x7FFFFFFF, 0x80000000,
                 0xFFFFFFFE, 0xFFFFFFFF)
INTERESTING_JSON: tuple[object, ...] = (
    0, 1, -1, 255, 256, 65536, 2**31 - 1, 2**31, 2**32, 2**63, -2**63, 10**30,
    "", "x", "uint8", "struct", None, True, [], {})


class Crash(Exception):
    """The tools raised something other than a migcompat error, or an oracle failed."""


@dataclass
class Seed:
    """A stream to mutate, with what the mutator and the oracles need of it."""

    name: str
    data: bytes
    resolver: SchemaResolver
    report: StreamReport
    dest: DestModel
    hot: list[tuple[int, int]] = field(default_factory=list)  # (start, end): not page data
    vmdesc_at: int | None = None  # offset of the 0x06 marker
    head: int = 0  # where the first section starts (after the magic and configuration)
    units: list[tuple[int, int]] = field(default_factory=list)  # sections and commands


def own_layout(data: bytes) -> tuple[SchemaResolver | None, int | None]:
    """The stream's own trailing description as a resolver, as ``stream_layout`` gets it."""
    found = locate_vmdesc(lambda n: data[len(data) - n:], len(data))
    if found is None:
        return None, None
    at, length = found
    try:
        return schema_from_vmdesc(data[at + 5:at + 5 + length], "fuzz", at + 5).resolver, at
    except SchemaFileError:
        return None, at


def make_seed(name: str, data: bytes) -> Seed:
    resolver, at = own_layout(data)
    if resolver is None:
        raise ValueError(f"{name}: a seed needs its trailing description")
    report = analyze_stream(data, resolver, "vmdesc")
    if report.error is not None:
        raise ValueError(f"{name}: not a whole stream: {report.error}")
    seed = Seed(name, data, resolver, report, describe_destination(report, None, None),
                vmdesc_at=at)
    seed.hot = hot_ranges(report, len(data))
    units = [(i.offset, i.offset + (i.size or 0)) for i in report.items
             if i.kind not in ("eof", "vmdesc", "part")]
    seed.units = units
    seed.head = units[0][0] if units else 0
    return seed


def substream(rng: random.Random, seed: Seed) -> bytes:
    """The stream's head, one to four of its sections and commands in a row (RAM pages
    left out), and EOF: a real stream in miniature, read with the seed's layout. Most
    inputs are these, so a campaign spends its time on the parsers' decisions rather
    than on re-reading the same sections before the one mutated."""
    i = rng.randrange(len(seed.units))
    run = seed.units[i:i + rng.randint(1, 4)]
    return seed.data[:seed.head] + b"".join(seed.data[a:b] for a, b in run) + b"\x1f"


def hot_ranges(report: StreamReport, size: int) -> list[tuple[int, int]]:
    """Everything but the RAM PART sections' bodies, plus each PART's first 64 bytes (the
    page record headers the decoder starts on)."""
    cold = sorted((s.offset + 64, s.offset + (s.size or 0)) for s in report.sections
                  if s.kind == "part" and (s.size or 0) > 64)
    out, pos = [], 0
    for start, end in cold:
        if start > pos:
            out.append((pos, start))
        pos = max(pos, end)
    if pos < size:
        out.append((pos, size))
    return out


def _position(rng: random.Random, seed: Seed, size: int) -> int:
    if size == 0:
        return 0
    if rng.random() < 0.9 and seed.hot:
        start, end = rng.choice(seed.hot)
        return min(rng.randrange(start, max(end, start + 1)), size - 1)
    return rng.randrange(size)


def _mutate_vmdesc(rng: random.Random, data: bytes, at: int) -> bytes:
    """Change one value of the trailing description's JSON, length kept consistent."""
    try:
        doc = json.loads(data[at + 5:])
    except ValueError:
        return data
    nodes: list[tuple[object, object]] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            nodes.extend((node, k) for k in node)
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            nodes.extend((node, i) for i in range(len(node)))
            for v in node:
                walk(v)
    walk(doc)
    if not nodes:
        return data
    parent, key = rng.choice(nodes)
    if rng.random() < 0.15 and isinstance(parent, dict):
        del parent[key]
    else:
        parent[key] = rng.choice(INTERESTING_JSON)  # type: ignore[index]
    body = json.dumps(doc).encode()
    return data[:at] + b"\x06" + struct.pack(">I", len(body)) + body


def mutate(rng: random.Random, seed: Seed, others: list[Seed]) -> bytes:
    """One to four mutations of ``seed``'s stream, or (19 times in 20) of a
    :func:`substream` of it."""
    whole = rng.random() < 0.05 or not seed.units
    data = seed.data if whole else substream(rng, seed)
    for _ in range(rng.randint(1, 4)):
        op = rng.random()
        at = _position(rng, seed, len(data)) if whole else rng.randrange(max(len(data), 1))
        if op < 0.30:
            data = data[:at] + bytes((rng.randrange(256),)) + data[at + 1:]
        elif op < 0.50 and len(data) >= 4:
            at = min(at, len(data) - 4)
            value = rng.choice(INTERESTING32)
            data = data[:at] + struct.pack(">I", value) + data[at + 4:]
        elif op < 0.58:
            data = data[:at]
        elif op < 0.66:
            data = data[:at] + rng.randbytes(rng.randint(1, 8)) + data[at:]
        elif op < 0.74:
            data = data[:at] + data[at + rng.randint(1, 64):]
        elif op < 0.82:  # a stretch of the stream repeated (a section twice)
            n = rng.randint(1, 512)
            data = data[:at] + data[at:at + n] + data[at:]
        elif op < 0.90 and others:  # the tail of another stream
            other = rng.choice(others)
            data = data[:at] + other.data[_position(rng, other, len(other.data)):]
        elif whole and seed.vmdesc_at is not None and \
                data[seed.vmdesc_at:seed.vmdesc_at + 1] == b"\x06":
            data = _mutate_vmdesc(rng, data, seed.vmdesc_at)
    return data


def _guard(what: str, fn: Callable[[], object]) -> object:
    try:
        return fn()
    except MigcompatError:
        return None
    except Exception as exc:  # any other exception is the finding
        raise Crash(f"{what}: {type(exc).__name__}: {exc}") from exc


def run_one(data: bytes, seed: Seed) -> bool:
    """All three tools on ``data``; True when analyze read it whole. Raises Crash."""
    resolver, _ = own_layout(data)
    layout_from = "vmdesc"
    if resolver is None:
        resolver, layout_from = seed.resolver, "schema:vmdesc"

    def analyze() -> StreamReport:
        report = analyze_stream(data, resolver, layout_from)
        json.dumps(report.to_json())
        report_lines("fuzz.mig", report)
        return report
    report = _guard("analyze", analyze)

    def validate() -> None:
        # validate_described without its second read: with the stream's own layout it
        # refuses an unreadable stream and checks a readable one's report.
        assert isinstance(report, StreamReport)
        if report.error is None:
            verdict = validate_report(report, seed.dest)
            json.dumps(verdict.to_json())
            verdict_lines("fuzz.mig", "--against seed", verdict)
    if isinstance(report, StreamReport):
        _guard("validate", validate)

    def rewrite() -> bytes:
        return b"".join(rewrite_stream(data, resolver, [], [], RewriteResult()))
    out = _guard("rewrite", rewrite)
    whole = isinstance(report, StreamReport) and report.complete
    if whole and out is not None and out != data:
        raise Crash("rewrite: a stream analyze reads whole did not re-encode byte-exactly")
    return whole
