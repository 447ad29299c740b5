"""The report's renderers as text (migcompat/report/), and ``diff --html`` on the command
line: hostile names escaped, the fleet chart, the calendar, atomic writes, bad paths."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest

import browser_helpers
from cli_run import run
from migcompat.analysis.diff import ReleaseDiff, compare
from migcompat.catalog.load import find_release, validate_catalog
from migcompat.report.calendar_grid import calendar_section
from migcompat.report.diffmap import diff_section
from migcompat.report.page import ACTIONS, bar_chart, fleet_section, json_script, page

HOSTILE = '<img src=x onerror="alert(1)">&</script>'


def bars(svg: str) -> list[tuple[str, int]]:
    return [(k, int(n)) for k, n in re.findall(r'data-key="([^"]*)" data-count="(\d+)"', svg)]


def test_fleet_section_draws_a_bar_per_action_in_order() -> None:
    summary = {"cannot-move": 5, "pin": 70, "none": 900, "cold-boot": 25, HOSTILE: 1}
    out = fleet_section(summary, note=HOSTILE)
    assert bars(out)[:4] == [(a, summary[a]) for a in ACTIONS]
    assert len(bars(out)) == 5
    assert "1001 VMs" in out
    assert HOSTILE not in out and "<img" not in out and "&lt;img" in out
    widths = [int(w) for w in re.findall(r'<rect x="\d+" y="\d+" width="(\d+)"', out)]
    assert widths[0] == max(widths) and min(widths) >= 2  # 1 VM is still a visible bar


def test_a_zero_count_has_no_bar_and_no_keys_no_crash() -> None:
    assert re.search(r'width="0"', bar_chart({"none": 0, "pin": 3}, ACTIONS, "t", "c"))
    assert bars(fleet_section({})) == []


def test_json_for_the_script_cannot_close_its_element() -> None:
    out = json_script("d", {"name": HOSTILE})
    assert out.count("</script>") == 1 and out.endswith("</script>")
    assert "<img" not in out


def test_page_is_self_contained() -> None:
    assert HOSTILE not in page(HOSTILE, [fleet_section({"none": 1})], subtitle=HOSTILE)
    text = page("t", [fleet_section({"none": 1})], subtitle="s")
    # nothing to fetch: no external scripts, styles, images or fonts
    assert not re.search(r'<(link|img|iframe)\b|\bsrc=|@import|url\(', text)
    assert re.findall(r"https?://[^\s\"']+", text) == ["http://www.w3.org/2000/svg"]


@pytest.fixture(scope="module")
def tutorial_diff() -> ReleaseDiff:
    _, old = find_release("qemu-5.1", "tutorial")
    _, new = find_release("qemu-5.2", "tutorial")
    return compare(old, new)


def test_diff_section_has_a_cell_per_machine_and_escapes_names(
        tutorial_diff: ReleaseDiff) -> None:
    result = tutorial_diff
    shown = [p for p in result.properties if p.cls != "equal"]
    evil = replace(shown[0], type=HOSTILE, property=HOSTILE, declared_by=HOSTILE)
    result.properties.append(evil)
    try:
        out = diff_section(result, HOSTILE, "qemu-5.2")
    finally:
        result.properties.remove(evil)
    assert HOSTILE not in out and "<img" not in out
    assert out.count('<tr class="f hm"') == len(shown) + 1
    assert out.count("<td class=") == (len(shown) + 1) * len(result.machines)
    assert 'data-cls="pinned"' in out and "<td class=p>" in out


def test_calendar_section_rows_and_states() -> None:
    cat, _ = find_release("qemu-5.1", "tutorial")
    releases = validate_catalog(cat)
    out = calendar_section(releases, future=2)
    names = {n for r in releases for n in r.machines.machines}
    assert out.count('<tr class="f cal"') == len(names)
    assert out.count('<th class="col">') == len(releases) + 2
    states = set(re.findall(r'data-state="([a-z-]+)"', out))
    assert "present" in states
    one = calendar_section(releases, machines={sorted(names)[0]})
    assert one.count('<tr class="f cal"') == 1
    assert "No releases" in calendar_section([])


def test_diff_html_writes_the_page(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    target = tmp_path / "d.html"
    plain = run(capsys, "diff", "--catalog", "tutorial", "qemu-5.1", "qemu-5.2")
    result = run(capsys, "diff", "--catalog", "tutorial", "qemu-5.1", "qemu-5.2",
                 "--html", target)
    assert result.code == plain.code == 0
    assert result.out == plain.out  # the text report is unchanged
    text = target.read_text()
    assert text.startswith("<!DOCTYPE html>") and 'id="heatmap"' in text
    assert 'id="calendar-grid"' in text and 'id="q"' in text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.html"]


@pytest.mark.parametrize("where", ["missing/d.html", "."])
def test_a_bad_path_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str],
                                           tmp_path: Path, where: str) -> None:
    target = tmp_path / where
    before = sorted(tmp_path.rglob("*"))
    result = run(capsys, "diff", "--catalog", "tutorial", "qemu-5.1", "qemu-5.2",
                 "--html", target)
    assert result.code == 2
    assert len(result.err.strip().splitlines()) == 1 and "--html" in result.err
    assert sorted(tmp_path.rglob("*")) == before  # nothing half written


def test_a_failing_diff_leaves_no_page(capsys: pytest.CaptureFixture[str],
                                       tmp_path: Path) -> None:
    # the file is opened before the releases are read; the error discards it
    result = run(capsys, "diff", "--catalog", "tutorial", "qemu-5.1", "no-such-release",
                 "--html", tmp_path / "d.html")
    assert result.code == 2 and "no-such-release" in result.err
    assert list(tmp_path.iterdir()) == []


def test_no_chromium_fails_under_ci_and_skips_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(browser_helpers, "CHROMIUM", "no-such-chromium-binary")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        browser_helpers.require_chromium()
    monkeypatch.setenv("CI", "")
    with pytest.raises(pytest.skip.Exception):
        browser_helpers.require_chromium()


def test_machines_calendar_html(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    target = tmp_path / "c.html"
    result = run(capsys, "machines", "--calendar", "--catalog", "tutorial", "--html", target)
    assert result.code == 0 and "pc-5.1" in result.out
    text = target.read_text()
    assert text.count('<section id="calendar-tutorial">') == 1
    assert re.search(r'<th class="row">pc-5\.1</th>', text)
    refused = run(capsys, "machines", "qemu-5.2", "--html", target)
    assert refused.code == 2 and "--calendar" in refused.err


def test_plan_report_escapes_what_the_inventory_names(capsys: pytest.CaptureFixture[str],
                                                      tmp_path: Path) -> None:
    # a VM name and a device id are the inventory's own text: a hostile one stays text
    inventory = tmp_path / "fleet.args"
    inventory.write_text("<script>alert(1)</script>\t7.2\t-machine pc-q35-7.2 -nodefaults "
                         "-device virtio-net-pci,id=n0\n")
    out = tmp_path / "plan.html"
    result = run(capsys, "plan", "--catalog", "qemu", inventory, "--to", "10.0",
                 "--html", out)
    assert result.code == 0, result.err
    text = out.read_text()
    assert "<script>alert" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert text.count("<script>") == 1  # the page's own
