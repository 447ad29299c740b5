"""``machines --calendar``: the calendar of a catalog or of one release's machine types."""

from __future__ import annotations

import pytest

from cli_run import run


def test_the_calendar_of_a_release_lists_its_machine_types(
        capsys: pytest.CaptureFixture[str]) -> None:
    listed = run(capsys, "machines", "--catalog", "qemu", "10.2", "--format", "json").json()
    result = run(capsys, "machines", "--calendar", "10.2", "--catalog", "qemu",
                 "--format", "json")
    assert result.code == 0
    doc = result.json()
    assert doc["schema"] == 1 and doc["command"] == "machines-calendar"
    assert [m["name"] for m in doc["machines"]] == [m["name"] for m in listed["machines"]]
    rows = {m["name"]: m for m in doc["machines"]}
    # 10.2 marks pc-q35-7.2 deprecated (seen there); the policy removes it in 13.2
    assert rows["pc-q35-7.2"]["deprecated"]["release"] == "10.2"
    assert rows["pc-q35-7.2"]["removed"]["how"] == "predicted"


def test_the_whole_catalog_has_what_no_release_has_any_more(
        capsys: pytest.CaptureFixture[str]) -> None:
    result = run(capsys, "machines", "--calendar", "--catalog", "qemu")
    assert result.code == 0
    line = next(x for x in result.out.splitlines() if " pc-i440fx-2.4 " in x)
    assert "(seen 10.2)" in line  # the release that no longer has it


def test_machines_without_release_or_calendar_is_a_usage_error(
        capsys: pytest.CaptureFixture[str]) -> None:
    result = run(capsys, "machines", "--catalog", "qemu")
    assert result.code == 2
    assert result.err.strip().splitlines() == [
        "migcompat: error: machines needs a RELEASE (or --calendar)"]
