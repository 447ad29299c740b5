"""``check A B C ...``: a chain on the command line, its text, JSON and exit codes, and the
two-side form left as it was."""

from __future__ import annotations

import pytest

from cli_run import run

VM = ["--catalog", "tutorial", "--device", "virtio-blk-pci", "--smp", "4"]
# The document's A -> B -> C with a B (and C) whose hw_compat_5_1 forgot num-queues.
BROKEN = ["qemu-5.1:pc-5.1", "qemu-5.2-broken", "qemu-5.2-broken"]


def test_the_documents_chain_is_compatible(capsys: pytest.CaptureFixture[str]) -> None:
    got = run(capsys, "check", "qemu-5.1:pc-5.1", "qemu-5.2", "qemu-5.2", *VM)
    assert got.code == 0, got.err
    lines = got.out.splitlines()
    heads = [ln for ln in lines if ln.startswith("hop ")]
    assert heads == ["hop 1: qemu-5.1:pc-5.1 -> qemu-5.2:pc-5.1  compatible (0 breaking, 0 "
                     "guest-visible, 2 notes)",
                     "hop 2: qemu-5.2:pc-5.1 -> qemu-5.2:pc-5.1  compatible (0 breaking, 0 "
                     "guest-visible, 0 notes)"]
    assert lines[-1] == ("chain qemu-5.1:pc-5.1 -> qemu-5.2:pc-5.1 -> qemu-5.2:pc-5.1: "
                         "compatible")


def test_a_failing_hop_is_named_with_why_and_the_fix_carried_on(
        capsys: pytest.CaptureFixture[str]) -> None:
    got = run(capsys, "check", *BROKEN, *VM)
    assert got.code == 1, got.err
    lines = got.out.splitlines()
    assert lines[0].startswith("hop 1: qemu-5.1:pc-5.1 -> qemu-5.2-broken:pc-5.1  "
                               "INCOMPATIBLE (")
    hop1 = lines[1:lines.index(next(ln for ln in lines if ln.startswith("hop 2:")))]
    assert any("num-queues is 1 on the source" in ln and "4 on the destination" in ln
               for ln in hop1)
    assert next(ln for ln in lines if ln.startswith("hop 2:")).endswith(
        "compatible (0 breaking, 0 guest-visible, 0 notes)")
    chain = next(ln for ln in lines if ln.startswith("chain "))
    assert chain.endswith(": INCOMPATIBLE at hop 1 (property-differs)")
    assert lines[-1] == ("  fix (verified): hop 1 destination and every later side: -global "
                         "virtio-blk-pci.num-queues=1 -> compatible: the destination keeps "
                         "the source's values")


def test_a_later_failing_hop_fails_the_chain(capsys: pytest.CaptureFixture[str]) -> None:
    got = run(capsys, "check", "qemu-5.1:pc-5.1", "qemu-5.2", "qemu-5.2-broken", *VM,
              "--format", "json")
    assert got.code == 1
    doc = got.json()
    assert doc["command"] == "check" and doc["schema"] == 1
    assert doc["verdict"] == "incompatible" and doc["failed_hop"] == "hop 2"
    assert doc["loads"] is False and doc["compatible"] is False
    assert doc["sides"] == ["qemu-5.1:pc-5.1", "qemu-5.2:pc-5.1", "qemu-5.2-broken:pc-5.1"]
    assert [h["verdict"] for h in doc["hops"]] == ["compatible", "incompatible"]
    assert doc["hops"][1]["source"]["release"] == "qemu-5.2"
    assert doc["hops"][1]["destination"]["release"] == "qemu-5.2-broken"
    assert {r.get("property") for r in doc["hops"][1]["reasons"]} >= {"num-queues"}
    assert "back" not in doc
    [fix] = doc["fixes"]
    assert fix["hop"] == "hop 2" and fix["carried"] is True and fix["verified"] is True


def test_both_directions_checks_the_way_back(capsys: pytest.CaptureFixture[str]) -> None:
    # the document's cases 5 then 6, and back: 6 then 5
    sides = ["qemu-5.2:pc-5.1", "qemu-5.1", "qemu-5.2"]
    got = run(capsys, "check", *sides, *VM, "--both-directions", "--format", "json")
    assert got.code == 0, got.err
    doc = got.json()
    assert [h["verdict"] for h in doc["hops"] + doc["back"]] == ["compatible"] * 4
    assert [h["source"]["release"] for h in doc["back"]] == ["qemu-5.2", "qemu-5.1"]
    # with a broken last side: hop 2 fails, and on the way back its first hop
    bad = run(capsys, "check", "qemu-5.2:pc-5.1", "qemu-5.2", "qemu-5.2-broken", *VM,
              "--both-directions")
    assert bad.code == 1
    heads = [ln.split(":")[0] for ln in bad.out.splitlines() if "hop " in ln.split(":")[0]]
    assert heads == ["hop 1", "hop 2", "back hop 1", "back hop 2"]
    assert "and back: INCOMPATIBLE at hop 2" in bad.out


@pytest.mark.parametrize("flag", [["--src-smp", "2"], ["--dst-device", "e1000"],
                                  ["--src-qemu-args", "-M pc-5.1"]])
def test_a_chain_refuses_the_options_of_one_side(
        capsys: pytest.CaptureFixture[str], flag: list[str]) -> None:
    got = run(capsys, "check", *BROKEN, *VM, *flag)
    assert got.code == 2 and got.out == ""
    [message] = got.err.strip().splitlines()
    assert message.startswith(f"migcompat: error: {flag[0]}: a chain of 3 sides runs one VM")
    assert "--src-*/--dst-*" in message


def test_one_side_is_bad_usage(capsys: pytest.CaptureFixture[str]) -> None:
    got = run(capsys, "check", "qemu-5.1:pc-5.1", *VM)
    assert got.code == 2
    assert "a migration needs two sides" in got.err


def test_the_first_side_needs_a_machine(capsys: pytest.CaptureFixture[str]) -> None:
    got = run(capsys, "check", "qemu-5.1", "qemu-5.2", "qemu-5.2", *VM)
    assert got.code == 2
    assert got.err.strip() == "migcompat: error: expected RELEASE:MACHINE, got 'qemu-5.1'"


def test_two_sides_keep_their_form(capsys: pytest.CaptureFixture[str]) -> None:
    got = run(capsys, "check", "qemu-5.1:pc-5.1", "qemu-5.2-broken", *VM)
    assert got.code == 1
    assert got.out.splitlines()[0].startswith(
        "qemu-5.1:pc-5.1 -> qemu-5.2-broken:pc-5.1: INCOMPATIBLE (")
    assert "hop " not in got.out and "chain " not in got.out
    doc = run(capsys, "check", "qemu-5.1:pc-5.1", "qemu-5.2-broken", *VM, "--format",
              "json").json()
    assert "hops" not in doc and doc["source"]["release"] == "qemu-5.1"
    assert doc["fixes"][0]["side"] == "destination" and "hop" not in doc["fixes"][0]
    # --dst-* still describes the destination of a pair
    pinned = run(capsys, "check", "qemu-5.1:pc-5.1", "qemu-5.2-broken", *VM,
                 "--dst-global", "virtio-blk-pci.num-queues=1")
    assert pinned.code == 0, pinned.out


def test_a_qemu_command_line_describes_the_vm_on_every_side(
        capsys: pytest.CaptureFixture[str]) -> None:
    got = run(capsys, "check", "--catalog", "tutorial", "qemu-5.1", "qemu-5.2",
              "qemu-5.2-broken", "--qemu-args",
              "-nodefaults -M pc-5.1 -smp 4 -device virtio-blk-pci", "--format", "json")
    assert got.code == 1, got.err
    doc = got.json()
    assert doc["sides"] == ["qemu-5.1:pc-5.1", "qemu-5.2:pc-5.1", "qemu-5.2-broken:pc-5.1"]
    assert [h["source"]["smp"] for h in doc["hops"]] == [4, 4]
    assert doc["failed_hop"] == "hop 2"
