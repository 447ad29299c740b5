"""lint and diff on the bundled catalogs: the document's example and real QEMU history.

The real cases are QEMU facts, checked in the pinned source trees: virtio-gpu's resolution
went from 1024x768 to 1280x800 between 5.2 and 7.2 with no compat entry; pvpanic's
``events`` (ISA and PCI) went from 3 to 7 and nec-usb-xhci's ``streams`` from off to on
between 7.2 and 10.0, likewise; and QEMU moved ``{ "virtio-device", "use-disabled-flag",
"false" }`` from hw_compat_4_1 (5.2's hw/core/machine.c) to hw_compat_4_2 (7.2's), which
changed what pc-*-4.2 gives every virtio device.
"""

from __future__ import annotations

import pytest

from migcompat.analysis.defaults import type_defaults
from migcompat.analysis.diff import ReleaseDiff, compare
from migcompat.analysis.lint import Finding, lint, mismatches, with_entries
from migcompat.catalog.load import open_catalog
from migcompat.model.globals import GlobalProperty, entry_text


def _lint(catalog: str, old: str, new: str) -> tuple[ReleaseDiff, list[Finding]]:
    cat = open_catalog(catalog)
    diff = compare(cat.release(old), cat.release(new))
    return diff, lint(diff)


@pytest.fixture(scope="module")
def real_52_72() -> tuple[ReleaseDiff, list[Finding]]:
    return _lint("qemu", "5.2", "7.2")


@pytest.fixture(scope="module")
def real_72_100() -> tuple[ReleaseDiff, list[Finding]]:
    return _lint("qemu", "7.2", "10.0")


def _changed(findings: list[Finding]) -> dict[tuple[str, str], Finding]:
    return {(f.driver, f.property): f for f in findings if f.kind == "changed-default"}


def test_the_documents_forgotten_entry_is_the_one_finding() -> None:
    _, findings = _lint("tutorial", "qemu-5.1", "qemu-5.2-broken")
    assert len(findings) == 1
    (f,) = findings
    assert (f.kind, f.driver, f.property, f.old_value) == (
        "changed-default", "virtio-blk-device", "num-queues", "1")
    assert f.table == "hw_compat_5_1"
    assert f.fix == '{ "virtio-blk-device", "num-queues", "1" },'
    assert f.machines == ["pc-5.1"]
    assert f.verified
    assert f.severity == "error"  # virtio-blk migrates state
    # vectors follows num-queues at realize: inside the finding, not beside it
    assert [(d["driver"], d["property"]) for d in f.derived] == [("virtio-blk-pci", "vectors")]
    assert "4 at 4 vCPUs" in f.message  # "auto" resolved at several vCPUs


def test_the_correct_release_is_clean() -> None:
    diff, findings = _lint("tutorial", "qemu-5.1", "qemu-5.2")
    assert findings == []
    classes = {(p.type, p.object, p.property): p for p in diff.properties}
    num_queues = classes[("virtio-blk-pci", "virtio-backend", "num-queues")]
    assert num_queues.cls == "pinned"  # default changed to auto; hw_compat_5_1 keeps 1
    lat_stats = classes[("virtio-blk-device", "", "lat-stats")]
    assert lat_stats.cls == "new" and lat_stats.pinned_new
    assert "u2f-emulated" in diff.new_types


def test_virtio_gpu_resolution_between_52_and_72(
        real_52_72: tuple[ReleaseDiff, list[Finding]]) -> None:
    changed = _changed(real_52_72[1])
    for prop, old, new in (("xres", "1024", "1280"), ("yres", "768", "800")):
        f = changed[("virtio-gpu-device", prop)]
        assert (f.old_value, f.new_value, f.table) == (old, new, "hw_compat_5_2")
        assert f.verified
        assert {"virtio-gpu-pci", "virtio-gpu-device"} <= set(f.types)
        # where SARIF points: the properties array's VIRTIO_GPU_BASE_PROPERTIES line (7.2)
        assert (f.file, f.line) == ("hw/display/virtio-gpu.c", 1440)


def test_an_entry_moved_between_tables_needs_two_to_undo(
        real_52_72: tuple[ReleaseDiff, list[Finding]]) -> None:
    f = _changed(real_52_72[1])[("virtio-device", "use-disabled-flag")]
    assert f.machines == ["pc-i440fx-4.2", "pc-q35-4.2"]
    assert [(e.table, e.value) for e in f.entries] == [("hw_compat_4_2", "on"),
                                                      ("hw_compat_4_1", "off")]
    assert f.verified
    assert len(f.types) > 50  # one entry on the declaring type reaches every virtio device


def test_pvpanic_and_xhci_between_72_and_100(
        real_72_100: tuple[ReleaseDiff, list[Finding]]) -> None:
    changed = _changed(real_72_100[1])
    # events is declared by each pvpanic type: one entry for each driver
    for driver in ("pvpanic", "pvpanic-pci"):
        f = changed[(driver, "events")]
        assert (f.old_value, f.new_value, f.table, f.verified) == ("3", "7", "hw_compat_7_2",
                                                                   True)
    xhci = changed[("nec-usb-xhci", "streams")]
    assert (xhci.old_value, xhci.new_value, xhci.verified) == ("off", "on", True)
    assert xhci.fix == '{ "nec-usb-xhci", "streams", "off" },'
    # qemu-xhci has streams too and did not change: an entry on the declaring base-xhci
    # would move it, so the driver is the type that changed
    assert ("base-xhci", "streams") not in changed


def test_pinned_changes_are_not_findings(real_72_100: tuple[ReleaseDiff, list[Finding]]) -> None:
    diff, findings = real_72_100
    pinned = {(p.declared_by, p.property) for p in diff.properties if p.cls == "pinned"}
    # hw_compat_9_0's sd-card spec_version 2 keeps the old default on old machine types
    assert ("sd-card", "spec_version") in pinned
    assert ("sd-card", "spec_version") not in _changed(findings)


def test_an_entry_that_is_not_enough_is_not_verified(
        real_52_72: tuple[ReleaseDiff, list[Finding]]) -> None:
    diff, _ = real_52_72
    # The first entry alone overrides hw_compat_4_1's on 4.1 and older: those move.
    only = GlobalProperty("virtio-device", "use-disabled-flag", "on", source="compat",
                          table="hw_compat_4_2")
    wrong = mismatches(diff, "virtio-device", "use-disabled-flag", [only])
    assert wrong and all(value == "off" for _, value in wrong)
    assert "pc-i440fx-4.1" in dict(wrong) and "pc-i440fx-4.2" not in dict(wrong)


def test_a_table_the_release_lacks_is_created_for_its_machine_type() -> None:
    release = open_catalog("tutorial").release("qemu-5.1")
    assert "hw_compat_5_1" not in release.machines.tables
    entry = GlobalProperty("virtio-blk-device", "queue-size", "128", source="compat",
                           table="hw_compat_5_1")
    patched = with_entries(release, [entry], [])
    assert "hw_compat_5_1" in patched.machines.machines["pc-5.1"].compat
    got = type_defaults(patched, ["virtio-blk-device"], ["pc-5.1"])["virtio-blk-device"]
    group = got.group_of("pc-5.1")
    assert group is not None and group.outcomes[("", "queue-size")].realized == (128, 128)
    before = type_defaults(release, ["virtio-blk-device"], ["pc-5.1"])["virtio-blk-device"]
    assert before.groups[0].outcomes[("", "queue-size")].realized == (256, 256)
    assert entry_text(entry) == '{ "virtio-blk-device", "queue-size", "128" },'
