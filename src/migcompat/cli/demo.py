"""``demo``: the compatibility document's cases, predicted by ``check`` and then really run
as migrations between separate processes over loopback TCP."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import click
from rich.table import Table

from migcompat.analysis.chain import check_chain
from migcompat.cli.options import VMArgs, catalog_choice, format_option, parse_side, side_config
from migcompat.cli.output import emit_json, out
from migcompat.errors import EXIT_INCOMPATIBLE
from migcompat.model.vm import VMConfig

DEVICE = "virtio-blk-pci,id=vb0"
SMP = 4
MEM = "64M"


@dataclass(frozen=True)
class Case:
    name: str
    hops: tuple[str, ...]  # RELEASE:MACHINE, source first
    about: str


CASES = (
    Case("case 1", ("qemu-5.2:pc-5.2", "qemu-5.2:pc-5.2"), "same QEMU, latest machine"),
    Case("case 2", ("qemu-5.1:pc-5.1", "qemu-5.1:pc-5.1"), "same QEMU, its latest machine"),
    Case("case 3", ("qemu-5.2:pc-5.1", "qemu-5.2:pc-5.1"), "same QEMU, older machine"),
    Case("case 4", ("qemu-5.1:pc-5.2", "qemu-5.1:pc-5.2"), "5.1 does not know pc-5.2"),
    Case("case 5", ("qemu-5.2:pc-5.1", "qemu-5.1:pc-5.1"), "newer to older"),
    Case("case 6", ("qemu-5.1:pc-5.1", "qemu-5.2:pc-5.1"), "older to newer"),
    Case("chain A->B->C", ("qemu-5.1:pc-5.1", "qemu-5.2:pc-5.1", "qemu-5.2:pc-5.1"),
         "pc-5.1 must always mean one queue"),
    Case("case 5 (broken)", ("qemu-5.2-broken:pc-5.1", "qemu-5.1:pc-5.1"),
         "hw_compat_5_1 forgot num-queues"),
    Case("case 6 (broken)", ("qemu-5.1:pc-5.1", "qemu-5.2-broken:pc-5.1"),
         "hw_compat_5_1 forgot num-queues"),
)


@dataclass
class Row:
    case: Case
    predicted: str = ""
    actual: str = ""
    why: str = ""
    digests: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def agree(self) -> bool:
        return self.predicted == self.actual

    def to_json(self) -> dict[str, Any]:
        return {"name": self.case.name, "hops": list(self.case.hops), "about": self.case.about,
                "predicted": self.predicted, "actual": self.actual, "why": self.why,
                "digests_match": bool(self.digests) and len(set(self.digests)) == 1,
                "digests": self.digests, "seconds": round(self.seconds, 3)}


VM = VMArgs((DEVICE,), (), SMP, MEM)


def _config(catalog: str, side: str) -> VMConfig:
    return side_config(side, catalog, VM)


def predict(catalog: str, case: Case) -> tuple[str, str]:
    # the real migrations stop at the first hop that fails: so does the prediction
    failed = check_chain([_config(catalog, side) for side in case.hops]).first()
    if failed is None:
        return "migrated", ""
    return ("refused" if failed.result.refused else "failed"), \
        failed.result.breaking()[0].message


def _argv(catalog: str, side: str, *extra: str) -> list[str]:
    release, machine = parse_side(side)
    return [sys.executable, "-m", "migcompat", *extra[:1], release, machine, "--catalog",
            catalog, "--device", DEVICE, "--smp", str(SMP), "-m", MEM, "--format", "json",
            *extra[1:]]


def _last_error(stderr: str) -> str:
    lines = [ln for ln in stderr.strip().splitlines() if ln.startswith("migcompat: error:")]
    return lines[-1].removeprefix("migcompat: error:").strip() if lines else stderr.strip()


def run_case(catalog: str, case: Case) -> Row:
    row = Row(case)
    start = time.perf_counter()
    row.predicted, why = predict(catalog, case)
    procs: list[subprocess.Popen[str]] = []
    try:
        next_uri = ""
        # Start the destinations from the last hop back, so each knows where to send on.
        for side in reversed(case.hops[1:]):
            extra = ["run", "--incoming", "tcp::0"] + (["--then-migrate", next_uri]
                                                       if next_uri else [])
            proc = subprocess.Popen(_argv(catalog, side, *extra), stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
            procs.insert(0, proc)
            assert proc.stdout is not None
            next_uri = proc.stdout.readline().strip()
            if not next_uri:  # the destination refused to start
                proc.wait()
                row.actual, row.why = "refused", _last_error(proc.stderr.read() if proc.stderr
                                                             else "")
                return row
        src = subprocess.run(_argv(catalog, case.hops[0], "migrate", "--to", next_uri),
                             capture_output=True, text=True)
        if src.returncode == 2:
            row.actual, row.why = "refused", _last_error(src.stderr)
            return row
        if src.returncode == 0:
            row.digests.append(json.loads(src.stdout)["digest"])
        for proc in procs:
            stdout, stderr = proc.communicate(timeout=60)
            if proc.returncode != 0:
                row.actual, row.why = "failed", _last_error(stderr)
                return row
            docs = _json_docs(stdout)
            row.digests += [d["digest"] for d in docs if d.get("command") == "run"]
        row.actual = "migrated" if src.returncode == 0 else "failed"
        row.why = why or _last_error(src.stderr)
        return row
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        row.seconds = time.perf_counter() - start


def _json_docs(stdout: str) -> list[dict[str, Any]]:
    """The JSON objects a `run` printed after its URI line (already read by the caller):
    one, or two when it migrated on."""
    docs: list[dict[str, Any]] = []
    decoder = json.JSONDecoder()
    text = stdout
    pos = 0
    while pos < len(text):
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            break
        doc, pos = decoder.raw_decode(text, pos)
        docs.append(doc)
    return docs


@click.command(epilog="""\b
Examples:
  migcompat demo
  migcompat demo --format json
""")
@catalog_choice(default="tutorial",
                help="A catalog with releases qemu-5.1, qemu-5.2 and qemu-5.2-broken.")
@format_option
def demo(catalog: str, fmt: str) -> None:
    """Run the document's six cases, the A->B->C chain and the broken compat table.

    Each row shows what `check` predicts and what a real migration between separate
    processes over loopback TCP did. Exit 0 when every prediction matches its outcome.
    """
    with ThreadPoolExecutor(max_workers=3) as pool:
        rows = list(pool.map(lambda c: run_case(catalog, c), CASES))
    agree = all(r.agree for r in rows)
    if fmt == "json":
        emit_json("demo", {"cases": [r.to_json() for r in rows], "all_agree": agree})
    else:
        table = Table("case", "path", "predicted", "actual", "digest", "why",
                      box=None, pad_edge=False)
        for r in rows:
            mark = "" if r.agree else " (MISMATCH)"
            digest = "same" if r.digests and len(set(r.digests)) == 1 else "-"
            table.add_row(r.case.name, " -> ".join(r.case.hops), r.predicted,
                          r.actual + mark, digest, r.why or r.case.about)
        out().print(table)
        out().print("every prediction matched the real migration" if agree
                    else "some predictions did not match", markup=False)
    if not agree:
        raise click.exceptions.Exit(EXIT_INCOMPATIBLE)


COMMANDS = [demo]
