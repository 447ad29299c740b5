"""The ``plan --html`` report in a real browser (headless Chromium, tests/browser_helpers.py).

The page is the one ``migcompat plan`` writes for the fleet of real configs
(tests/plan_fleet.py) over 7.2 -> 10.0 -> 10.2, and the same run's ``--format json`` says
what it must show: the VMs per action in the chart, the VMs per machine type split by
action, one row per distinct config with each step's verdicts, the fleet's machine types
in the calendar, and a search box that filters the rows.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from browser_helpers import Browser, colour_counts, png_pixels, require_chromium
from migcompat.cli.main import main
from plan_fleet import write_inventory

pytestmark = pytest.mark.browser
VERDICTS = ("compatible", "guest-visible", "incompatible", "refused")


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    require_chromium()
    tmp = tmp_path_factory.mktemp("plan-report")
    inventory = write_inventory(tmp / "fleet.args")
    path = tmp / "plan.html"
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as info:
        main(["plan", "--catalog", "qemu", str(inventory), "--to", "10.0", "--to", "10.2",
              "--format", "json", "--html", str(path)])
    doc: dict[str, Any] = json.loads(out.getvalue())
    assert info.value.code == (1 if doc["summary"]["by_action"]["cannot-move"] else 0)
    return path, doc


@pytest.fixture(scope="module")
def page(report: tuple[Path, dict[str, Any]]) -> Iterator[Browser]:
    with Browser(1300, 1000) as b:
        b.open(report[0].as_uri())
        yield b


def _js(page: Browser, body: str) -> Any:
    return page.evaluate(f"(function(){{{body}}})()")


def test_the_charts_count_the_vms(page: Browser, report: tuple[Path, dict[str, Any]]) -> None:
    doc = report[1]
    bars = _js(page, "return Array.from(document.querySelectorAll('#fleet-chart g.bar'))"
                     ".map(function(g){return [g.dataset.key,+g.dataset.count]})")
    assert dict(bars) == doc["summary"]["by_action"]
    per_machine: dict[str, dict[str, int]] = {}
    for c in doc["configs"]:
        row = per_machine.setdefault(c["machine"], {})
        row[c["action"]] = row.get(c["action"], 0) + c["vms"]
    drawn = _js(page, "var o={};document.querySelectorAll('#machine-chart g.mrow').forEach("
                      "function(g){var s={};g.querySelectorAll('rect.seg').forEach(function(r)"
                      "{s[r.dataset.action]=+r.dataset.count});o[g.dataset.machine]=s});"
                      "return o")
    assert drawn == per_machine
    assert page.errors == []


def _worse(forward: str, back: str) -> str:
    return max(forward, back, key=VERDICTS.index)


def test_a_row_per_config_with_each_steps_verdicts(
        page: Browser, report: tuple[Path, dict[str, Any]]) -> None:
    doc = report[1]
    heads = _js(page, "return Array.from(document.querySelectorAll('#configs-table thead th'))"
                      ".map(function(th){return th.textContent})")
    steps = [h.removesuffix("forward / back") for h in heads if "forward / back" in h]
    assert steps == ["7.2 → 10.0", "10.0 → 10.2"]
    rows = _js(page, "return Array.from(document.querySelectorAll('#configs-table tbody tr'))"
                     ".map(function(tr){return {action:tr.dataset.action,vms:+tr.dataset.vms,"
                     "label:tr.querySelector('td.cfgl').firstChild.textContent,"
                     "cells:Array.from(tr.querySelectorAll('td.st')).map(function(td)"
                     "{return td.dataset.state||''}),pins:tr.querySelector('td.pins')"
                     ".textContent}})")
    assert len(rows) == len(doc["configs"]) == doc["summary"]["configs"]
    by_label = {r["label"]: r for r in rows}
    for c in doc["configs"]:
        row = by_label[c["label"]]
        assert (row["action"], row["vms"], row["pins"]) == \
            (c["action"], c["vms"], " ".join(c["pin_args"]))
        if c["cold_boot"] is not None:
            missing = c["cold_boot"]["missing_in"]
            want = ["refused" if dst in missing else "not-checked"
                    for dst in ("10.0", "10.2")]
        else:
            want = [_worse(s["forward"], s["back"]) for s in c["steps"]]
        assert row["cells"] == want, c["label"]
    # the most pressing first: cannot-move, then cold-boot, pin, none
    order = ["cannot-move", "cold-boot", "pin", "none"]
    actions = [r["action"] for r in rows]
    assert actions == sorted(actions, key=order.index)
    assert page.errors == []


def test_the_calendar_holds_the_fleets_machine_types(
        page: Browser, report: tuple[Path, dict[str, Any]]) -> None:
    doc = report[1]
    names = set(_js(page, "return Array.from(document.querySelectorAll("
                          "'#calendar-grid tr.cal th')).map(function(th){return th.textContent})"))
    want = {c["machine"] for c in doc["configs"]}
    for c in doc["configs"]:
        if c["cold_boot"] is not None:
            want |= {c["cold_boot"]["min_machine"], c["cold_boot"]["target_machine"]}
    assert names == want
    # pc-i440fx-2.3 (a cold boot of this fleet) is gone in 10.0, pc-i440fx-2.4 in 10.2
    states = _js(page, "var o={};document.querySelectorAll('#calendar-grid tr.cal').forEach("
                       "function(tr){o[tr.querySelector('th').textContent]=Array.from("
                       "tr.querySelectorAll('td.m')).map(function(td){return td.dataset.state})"
                       "});return o")
    assert states["pc-i440fx-2.3"][1:3] == ["present", "removed"]
    assert states["pc-i440fx-2.4"][1:4] == ["present", "deprecated", "removed"]


def test_the_search_box_filters_the_configs(
        page: Browser, report: tuple[Path, dict[str, Any]]) -> None:
    doc = report[1]
    page.type_text("#q", "pvpanic.events")  # the configs that need this pin
    shown = _js(page, "return Array.from(document.querySelectorAll('#configs-table tr.cfg'))"
                      ".filter(function(tr){return !tr.hidden}).map(function(tr)"
                      "{return tr.dataset.action})")
    want = [c for c in doc["configs"] if "-global pvpanic.events=3" in " ".join(c["pin_args"])]
    assert want and len(shown) == len(want) and set(shown) == {"pin"}
    page.evaluate("var q=document.getElementById('q');q.value='';"
                  "q.dispatchEvent(new Event('input'))")
    assert _js(page, "return document.querySelectorAll('#configs-table tr.cfg:not([hidden])')"
                     ".length") == len(doc["configs"])
    assert page.errors == []


def test_the_page_loads_nothing_and_its_screenshot_is_not_blank(page: Browser) -> None:
    assert page.evaluate("performance.getEntriesByType('resource').length") == 0
    page.evaluate("window.scrollTo(0, 0)")
    png = page.screenshot(scale=0.5)
    width, height, _ = png_pixels(png)
    assert width > 400 and height > 300
    counts = colour_counts(png)
    assert max(counts.values()) < 0.97 * width * height  # the top: text and two charts
    # the chart's green (none, #2ca02c) and orange (cold-boot, #f0a030) are drawn
    assert counts.get(bytes((0x2C, 0xA0, 0x2C)), 0) > 50
    assert counts.get(bytes((0xF0, 0xA0, 0x30)), 0) > 50
    assert page.errors == []
