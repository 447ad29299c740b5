"""The ``diff --html`` report in a real browser: Debian's Chromium, headless, over the
DevTools protocol (tests/browser_helpers.py). Under CI=true a missing Chromium fails.

The page is the one ``migcompat diff --catalog qemu 7.2 10.0 --html`` writes; the same run's
``--format json`` gives what the page must show. The test reads the DOM after the page's
script ran, types into the search box, hovers and clicks a cell, watches for any error the
browser reports, and checks that a screenshot is not blank.
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

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    require_chromium()
    path = tmp_path_factory.mktemp("report") / "diff.html"
    out = io.StringIO()
    # (capsys is per test; the report is made once for the module)
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as info:
        main(["diff", "--catalog", "qemu", "7.2", "10.0", "--format", "json",
              "--html", str(path)])
    assert info.value.code in (0, None)
    doc: dict[str, Any] = json.loads(out.getvalue())
    return path, doc


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with Browser(1200, 900) as b:
        yield b


@pytest.fixture(scope="module")
def loaded(browser: Browser, report: tuple[Path, dict[str, Any]]) -> Browser:
    # Loaded once (a 2 MB page takes seconds to lay out); each test leaves it as it was.
    browser.errors.clear()
    browser.open(report[0].as_uri())
    return browser


@pytest.fixture
def page(loaded: Browser, report: tuple[Path, dict[str, Any]]) -> Iterator[Browser]:
    if not loaded.evaluate("location.href").startswith("file:"):
        loaded.errors.clear()
        loaded.open(report[0].as_uri())
    yield loaded


def test_the_heat_map_has_a_row_per_differing_property(
        page: Browser, report: tuple[Path, dict[str, Any]]) -> None:
    doc = report[1]
    props, machines = doc["properties"], doc["machines"]
    assert page.evaluate("document.querySelectorAll('#heatmap tbody tr').length") == len(props)
    assert page.evaluate("document.querySelectorAll('#heatmap thead th.col').length") \
        == len(machines)
    assert page.evaluate("document.querySelectorAll('#heatmap tbody td').length") \
        == len(props) * len(machines)
    per_class = page.evaluate(
        "(function(){var o={};document.querySelectorAll('#heatmap tr.hm').forEach("
        "function(tr){var c=tr.getAttribute('data-cls');o[c]=(o[c]||0)+1});return o})()")
    assert per_class == {c: n for c, n in doc["counts"].items() if n and c != "equal"}
    # an unpinned row has red cells exactly under the machine types whose values differ
    unpinned = [p for p in props if p["class"] == "unpinned"]
    assert unpinned and page.evaluate("document.querySelectorAll('#heatmap td.u').length") \
        == sum(len(r["machines"]) for p in unpinned for r in p["rows"] if not r["same"])
    # the bar chart's bars carry the counts
    bars = page.evaluate(
        "Array.from(document.querySelectorAll('#class-chart g.bar')).map("
        "function(g){return [g.getAttribute('data-key'),+g.getAttribute('data-count')]})")
    assert dict(bars) == doc["counts"]
    assert page.errors == []


def test_the_calendar_colours_each_release(page: Browser) -> None:
    cells = page.evaluate(
        "(function(){var o={};document.querySelectorAll('#calendar-grid tr.cal').forEach("
        "function(tr){o[tr.querySelector('th').textContent]=Array.from("
        "tr.querySelectorAll('td.m')).map(function(td){return td.dataset.state})});"
        "return o})()")
    heads = page.evaluate("Array.from(document.querySelectorAll('#calendar-grid thead th.col'))"
                          ".map(function(th){return th.textContent})")
    assert heads[:4] == ["5.2", "7.2", "10.0", "10.2"]
    # issue #15: pc-i440fx-2.4 is deprecated in 10.0 and gone in 10.2
    assert cells["pc-i440fx-2.4"][:4] == ["present", "present", "deprecated", "removed"]
    # 5.1 + six years: the policy removes pc-q35-5.1 in 11.1
    assert cells["pc-q35-5.1"][heads.index("11.1?")] == "predicted-removed"
    assert cells["pc-q35-5.1"][heads.index("11.0?")] == "deprecated"
    assert page.errors == []


def test_typing_in_the_search_box_filters_rows(
        page: Browser, report: tuple[Path, dict[str, Any]]) -> None:
    props = report[1]["properties"]
    total = page.evaluate("document.querySelectorAll('tr.f').length")
    page.type_text("#q", "pvpanic")
    shown = page.evaluate("Array.from(document.querySelectorAll('#heatmap tr.hm'))"
                          ".filter(function(tr){return !tr.hidden}).length")
    expected = [p for p in props
                if "pvpanic" in f"{p['type']} {p['property']} {p['declared_by']}".lower()]
    assert 0 < shown == len(expected) < len(props)
    assert page.evaluate("document.querySelectorAll('#calendar-grid tr.cal:not([hidden])')"
                         ".length") == 0
    assert page.evaluate("document.getElementById('qn').textContent") \
        == f"{shown} of {total} rows"
    page.type_text("#q", "-i440fx-2.4")  # the box now holds "pvpanic-i440fx-2.4": nothing
    assert page.evaluate("document.querySelectorAll('tr.f:not([hidden])').length") == 0
    page.evaluate("var q=document.getElementById('q');q.value='';"
                  "q.dispatchEvent(new Event('input'))")
    assert page.evaluate("document.querySelectorAll('tr.f:not([hidden])').length") == total
    assert page.errors == []


def test_a_cell_shows_both_sides_provenance(page: Browser) -> None:
    rect = page.evaluate(
        "(function(){var td=document.querySelector('#heatmap td.u');td.scrollIntoView("
        "{block:'center',inline:'center'});var r=td.getBoundingClientRect();"
        "return [r.x+r.width/2,r.y+r.height/2]})()")
    page.mouse(*rect)
    title = page.evaluate("document.querySelector('#heatmap td.u').title")
    assert "(unpinned)" in title and "\n7.2: " in title and "\n10.0: " in title
    assert "; default " in title and " -> " in title  # the layers, oldest first
    page.mouse(*rect, click=True)
    assert page.evaluate("document.getElementById('detail').textContent") == title
    assert page.errors == []


def test_the_page_loads_nothing_and_its_screenshot_is_not_blank(page: Browser) -> None:
    assert page.evaluate("performance.getEntriesByType('resource').length") == 0
    page.evaluate("window.scrollTo(0, 0)")  # the top: the chart and the heat map's first rows
    png = page.screenshot(scale=0.5)
    width, height, _ = png_pixels(png)
    assert width > 400 and height > 300  # half the viewport (less its scroll bars)
    counts = colour_counts(png)
    assert len(counts) > 16
    assert max(counts.values()) < 0.9 * width * height  # not one colour
    # the heat map's red (unpinned, #d62728) and the chart's blue (new, #1f77b4) are drawn
    assert counts.get(bytes((0xD6, 0x27, 0x28)), 0) > 50
    assert counts.get(bytes((0x1F, 0x77, 0xB4)), 0) > 50
    assert page.errors == []


def test_the_error_watch_sees_errors(browser: Browser) -> None:
    # The control for every "errors == []" above: a page that throws is caught. (It
    # navigates away; the page fixture reloads the report for any test after it.)
    browser.errors.clear()
    browser.open("data:text/html,<p>x</p><script>console.error('bad');"
                 "undefined_function()</script>")
    assert any("console.error" in e for e in browser.errors), browser.errors
    assert any("undefined_function" in e for e in browser.errors), browser.errors
