"""The fixes ``check`` proposes, on the tutorial's cases (the real builds prove them in
tests/qemu_migrations/test_fixes.py)."""

from __future__ import annotations

import pytest

from analysis.test_check import cfg
from cli_run import run
from migcompat.analysis.check import check
from migcompat.analysis.fixes import fixes_for, propose


def fixes(src: str, dst: str, *devices: str, both: bool = False) -> list[dict[str, object]]:
    a, b = cfg(src, *devices), cfg(dst, *devices)
    return [f.to_json() for f in propose(a, b, check(a, b), both)]


def test_a_compatible_migration_needs_no_fix() -> None:
    assert fixes("qemu-5.2:pc-5.1", "qemu-5.1:pc-5.1", "virtio-blk-pci") == []


def test_the_forgotten_compat_entry_becomes_a_destination_global() -> None:
    """The document's broken build: without its compat entry, 5.2 gives pc-5.1 four queues;
    the 5.1 destination given the source's values is what the entry would have done. On
    5.1 vectors is a plain default (2), not derived from num-queues: it needs its own pin."""
    [fix] = fixes("qemu-5.2-broken:pc-5.1", "qemu-5.1:pc-5.1", "virtio-blk-pci", both=True)
    assert fix["kind"] == "global" and fix["side"] == "destination"
    assert fix["args"] == ["-global", "virtio-blk-pci.vectors=5",
                           "-global", "virtio-blk-pci.num-queues=4"]
    assert fix["verified"] is True and fix["verdict"] == "compatible"


def test_a_type_the_destination_does_not_know_needs_a_cold_boot() -> None:
    """Case 4: 5.1 does not know pc-5.2; no pin moves the running VM, but one restarted
    on pc-5.1 (the newest type both know) migrates."""
    [fix] = fixes("qemu-5.2:pc-5.2", "qemu-5.1:pc-5.2", "virtio-blk-pci")
    assert (fix["kind"], fix["side"], fix["needs_cold_boot"]) == ("none", "source", True)
    assert fix["args"] == ["-machine", "pc-5.1"] and fix["verified"] is True
    assert "does not know pc-5.2" in str(fix["why"])


def test_an_explicit_option_is_edited_rather_than_outvoted() -> None:
    a = cfg("qemu-5.2:pc-5.2", "virtio-blk-pci,id=vb0,num-queues=2")
    b = cfg("qemu-5.2:pc-5.2", "virtio-blk-pci,id=vb0,num-queues=1")
    [fix] = propose(a, b, check(a, b))
    assert fix.kind == "device" and fix.verified
    assert fix.args == ("-device", "virtio-blk-pci,id=vb0,num-queues=2")


def test_different_devices_have_no_safe_pin() -> None:
    a, b = cfg("qemu-5.2:pc-5.2", "virtio-blk-pci"), cfg("qemu-5.2:pc-5.2")
    res = check(a, b)
    assert not res.compatible
    [fix] = propose(a, b, res)
    assert fix.kind == "none" and not fix.args and not fix.verified
    assert fix.why.startswith("no safe pin")


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_check_prints_the_fix(capsys: pytest.CaptureFixture[str], fmt: str) -> None:
    got = run(capsys, "check", "qemu-5.1:pc-5.1", "qemu-5.2-broken:pc-5.1", "--device",
              "virtio-blk-pci", "--smp", "4", "--both-directions", "--format", fmt)
    assert got.code == 1
    if fmt == "json":
        [fix] = got.json()["fixes"]
        assert fix["side"] == "destination" and fix["verified"] is True
        assert fix["args"] == ["-global", "virtio-blk-pci.num-queues=1"]
    else:
        assert ("fix (verified): destination: -global virtio-blk-pci.num-queues=1 -> "
                "compatible") in got.out


def test_the_fix_for_the_way_back_names_the_sides_as_the_user_did() -> None:
    """When only DESTINATION -> SOURCE breaks, the side to change is the user's SOURCE
    (the destination of the way back)."""
    a = cfg("qemu-5.1:pc-5.1", "virtio-blk-pci")
    b = cfg("qemu-5.2-broken:pc-5.1", "virtio-blk-pci")
    fine = check(a, a)
    [fix] = fixes_for(a, b, [fine, check(b, a)])
    assert fix.side == "source" and fix.args == ("-global", "virtio-blk-pci.vectors=5",
                                                 "-global", "virtio-blk-pci.num-queues=4")
