"""`check` and `matrix` JSON: every reason has a `category` (docs/json.md), and `breaking`
says the same thing."""

from __future__ import annotations

import contextlib
import io
import json
from typing import Any

import pytest

from migcompat.analysis.reasons import REASON_CODES
from migcompat.cli.main import main

FORGOTTEN = ("--device", "virtio-blk-pci", "--smp", "4", "--format", "json")


def run_json(*args: str) -> tuple[int, Any]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as info:
        main(list(args))
    code = info.value.code
    return (code if isinstance(code, int) else 0), json.loads(out.getvalue())


def test_check_json_categories_of_the_forgotten_compat_entry() -> None:
    code, doc = run_json("check", "qemu-5.1:pc-5.1", "qemu-5.2-broken:pc-5.1", *FORGOTTEN)
    assert code == 1 and doc["compatible"] is False
    assert {r["code"] for r in doc["reasons"]} == {"property-differs", "layout-differs"}
    assert all(r["category"] == "breaking" and r["breaking"] is True for r in doc["reasons"])
    # lat-stats and x-ats-page-aligned: pinned by hw_compat_5_1, so notes
    assert {r["property"] for r in doc["notes"]} == {"lat-stats", "x-ats-page-aligned"}
    assert all(r["category"] == "note" and r["breaking"] is False for r in doc["notes"])


def test_check_json_both_directions_keeps_categories() -> None:
    code, doc = run_json("check", "qemu-5.2:pc-5.1", "qemu-5.1:pc-5.1", "--both-directions",
                         *FORGOTTEN)
    assert code == 0 and doc["compatible"] is True and doc["reasons"] == []
    notes = [r for d in doc["directions"] for r in d["notes"]]
    assert notes and all(r["category"] in REASON_CODES[r["code"]].categories
                         and r["breaking"] is (r["category"] == "breaking") for r in notes)


def test_matrix_json_rows_give_each_reasons_category() -> None:
    code, doc = run_json("matrix", "qemu-5.2-broken", "qemu-5.1", "--machines", "pc-5.1",
                         "--both-directions", *FORGOTTEN)
    assert code == 1
    [row] = doc["machines"]
    for side in (row, row["back"]):
        assert side["verdict"] == "incompatible" and side["loads"] is False
        assert {r["code"] for r in side["reasons"]} == {"property-differs", "layout-differs"}
        assert all(r["category"] == "breaking" for r in side["reasons"])


def test_check_json_gives_the_verdict_and_whether_it_loads() -> None:
    code, doc = run_json("check", "qemu-5.2-broken:pc-5.1", "qemu-5.1:pc-5.1", *FORGOTTEN)
    assert (code, doc["verdict"], doc["loads"], doc["compatible"]) == (
        1, "incompatible", False, False)
    code, doc = run_json("check", "qemu-5.1:pc-5.2", "qemu-5.1:pc-5.1", *FORGOTTEN)
    assert (code, doc["verdict"], doc["refused"]) == (1, "refused", True)
    code, doc = run_json("check", "qemu-5.2:pc-5.1", "qemu-5.1:pc-5.1", *FORGOTTEN,
                         "--both-directions", "--fail-on", "guest-visible")
    assert (code, doc["verdict"], doc["loads"]) == (0, "compatible", True)
    assert [d["verdict"] for d in doc["directions"]] == ["compatible", "compatible"]
