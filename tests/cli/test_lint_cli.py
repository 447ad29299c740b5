"""``migcompat lint`` and ``diff`` as a user runs them: exit codes, JSON, SARIF, bad input."""

from __future__ import annotations

import pytest

from cli_run import run

BROKEN = ("lint", "--catalog", "tutorial", "qemu-5.1", "qemu-5.2-broken")


def test_text_names_the_fix_and_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    result = run(capsys, *BROKEN)
    assert result.code == 1
    assert 'fix, in hw_compat_5_1: { "virtio-blk-device", "num-queues", "1" },' in result.out
    assert "also restores virtio-blk-pci.vectors" in result.out
    assert result.out.startswith("lint qemu-5.1 -> qemu-5.2-broken: 1 error(s), 0 warning(s)")


def test_clean_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    result = run(capsys, "lint", "--catalog", "tutorial", "qemu-5.1", "qemu-5.2")
    assert result.code == 0, result.err
    assert "0 error(s), 0 warning(s), 0 note(s)" in result.out


def test_fail_on_sets_the_threshold(capsys: pytest.CaptureFixture[str]) -> None:
    # 7.2 -> 10.0 has warnings (no catalog vmsd says those types migrate state), no errors
    assert run(capsys, "lint", "--catalog", "qemu", "7.2", "10.0").code == 1
    assert run(capsys, "lint", "--catalog", "qemu", "7.2", "10.0", "--fail-on", "error",
               "--type", "pvpanic*").code == 0


def test_json(capsys: pytest.CaptureFixture[str]) -> None:
    doc = run(capsys, *BROKEN, "--format", "json").json()
    assert (doc["schema"], doc["command"]) == (1, "lint")
    (f,) = doc["findings"]
    assert {k: f[k] for k in ("kind", "driver", "property", "old_value", "table", "fix",
                              "verified", "severity")} == {
        "kind": "changed-default", "driver": "virtio-blk-device", "property": "num-queues",
        "old_value": "1", "table": "hw_compat_5_1",
        "fix": '{ "virtio-blk-device", "num-queues", "1" },', "verified": True,
        "severity": "error"}
    assert f["machines"] == ["pc-5.1"]


def test_sarif(capsys: pytest.CaptureFixture[str]) -> None:
    log = run(capsys, "lint", "--catalog", "qemu", "7.2", "10.0", "--type", "pvpanic*",
              "--format", "sarif").json()
    assert log["version"] == "2.1.0"
    (sarif_run,) = log["runs"]
    rules = [r["id"] for r in sarif_run["tool"]["driver"]["rules"]]
    assert "changed-default" in rules
    results = {(r["properties"]["driver"], r["ruleId"]): r for r in sarif_run["results"]}
    isa = results[("pvpanic", "changed-default")]
    assert isa["level"] == "warning"
    assert rules[isa["ruleIndex"]] == "changed-default"
    location = isa["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "hw/misc/pvpanic-isa.c"
    assert location["region"]["startLine"] > 0
    assert '{ "pvpanic", "events", "3" },' in isa["message"]["text"]
    assert all(r["level"] in ("error", "warning", "note") for r in sarif_run["results"])


@pytest.mark.parametrize(("args", "says"), [
    (("lint", "--catalog", "tutorial", "qemu-5.1", "qemu-9.9"), "unknown release 'qemu-9.9'"),
    (("lint", "./no/such/tree", "qemu-5.1"), "./no/such/tree: no such directory"),
    (("lint", "--catalog", "tutorial", "qemu-5.1"), "lint needs OLD and NEW"),
    (("diff", "--catalog", "tutorial", "qemu-5.1", "nope"), "unknown release 'nope'"),
])
def test_bad_input_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str],
                                          args: tuple[str, ...], says: str) -> None:
    result = run(capsys, *args)
    assert result.code == 2
    assert says in result.err
    assert len(result.err.strip().splitlines()) == 1, result.err
    assert "Traceback" not in result.err


def test_diff_text_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    text = run(capsys, "diff", "--catalog", "tutorial", "qemu-5.1", "qemu-5.2-broken")
    assert text.code == 0
    assert "unpinned  virtio-blk-pci.virtio-backend/num-queues" in text.out
    doc = run(capsys, "diff", "--catalog", "tutorial", "qemu-5.1", "qemu-5.2",
              "--format", "json").json()
    props = {(p["type"], p["object"], p["property"]): p for p in doc["properties"]}
    nq = props[("virtio-blk-pci", "virtio-backend", "num-queues")]
    assert nq["class"] == "pinned"
    (row,) = nq["rows"]
    assert row["new"]["realized"] == {"smp1": 1, "smp4": 1}
    assert [layer["source"] for layer in row["new"]["provenance"]] == ["default", "compat"]
    assert row["new"]["provenance"][1]["table"] == "hw_compat_5_1"
    assert doc["counts"]["unpinned"] == 0
    assert all(p["class"] != "equal" for p in doc["properties"])  # without --all
