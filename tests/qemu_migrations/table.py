"""The table of real migrations: each test adds a row; the run prints them all at the end.

Rows travel through files because under pytest-xdist the tests run in worker processes and
only the controller prints the terminal summary. ``tests/conftest.py`` wires the hooks.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest

ENV = "MIGCOMPAT_REAL_MIGRATIONS_TABLE"
_KEY = pytest.StashKey[str]()
COLUMNS = ("source", "destination", "machine", "case", "predicted", "actual", "validate", "why")
# "why": check's breaking reasons, then QEMU's first error line


def configure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput") or os.environ.get(ENV):
        return  # a worker (inherits the controller's directory) or already set
    # The controller makes the directory before it starts any worker, which inherit ENV.
    os.environ[ENV] = tempfile.mkdtemp(prefix="migcompat-table-")
    config.stash[_KEY] = os.environ[ENV]


def unconfigure(config: pytest.Config) -> None:
    path = config.stash.get(_KEY, None)
    if path:
        shutil.rmtree(path, ignore_errors=True)
        os.environ.pop(ENV, None)



def add_row(**row: Any) -> None:
    """Record one migration (called by the tests, in any process)."""
    base = os.environ.get(ENV)
    if not base:
        return
    with (Path(base) / f"rows-{os.getpid()}.jsonl").open("a") as f:
        f.write(json.dumps(row) + "\n")


def rows() -> list[dict[str, Any]]:
    base = os.environ.get(ENV)
    found: list[dict[str, Any]] = []
    for path in sorted(Path(base).glob("rows-*.jsonl")) if base else []:
        found += [json.loads(line) for line in path.read_text().splitlines() if line]
    return sorted(found, key=lambda r: (r["order"], r["case"]))


def format_table(table: list[dict[str, Any]]) -> list[str]:
    widths = {c: max([len(c), *(len(str(r.get(c, "-"))) for r in table)]) for c in COLUMNS[:-1]}
    lines = ["  ".join(c.ljust(widths[c]) for c in COLUMNS[:-1]) + "  why"]
    for r in table:
        mark = ("" if r["predicted"] == r["actual"]
                else "   <-- known limit" if r.get("known") else "   <-- MISMATCH")
        lines.append("  ".join(str(r.get(c, "-")).ljust(widths[c]) for c in COLUMNS[:-1])
                     + f"  {r['why']}{mark}")
    return lines


def summary(reporter: Any) -> None:
    table = rows()
    if not table:
        return
    agree = sum(r["predicted"] == r["actual"] for r in table)
    reporter.write_sep("=", f"real QEMU migrations: check agrees on {agree}/{len(table)}")
    streams = [r for r in table if r.get("validate", "-") != "-"]
    answered = [r for r in streams if r["validate"] != "no answer"]
    wrong = [r for r in answered if r["validate"] == "loaded" and r["actual"] != "loaded"]
    reporter.write_line(f"validate --dest answers on {len(answered)}/{len(streams)} streams, "
                        f"agrees with QEMU on {sum(r['validate'] == r['actual'] for r in answered)}"
                        f", false 'will load': {len(wrong)}")
    versions: dict[str, str] = {}
    for r in table:
        versions.update(r.get("versions", {}))
    reporter.write_line("builds: " + ", ".join(f"{k} = Debian {v}"
                                               for k, v in sorted(versions.items())))
    for line in format_table(table):
        reporter.write_line(line)
