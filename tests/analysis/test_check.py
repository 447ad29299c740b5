"""`check` on the tutorial: the document's cases come out as it says."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from builders import BASE_TYPES, make_release
from migcompat.analysis.check import check
from migcompat.catalog.load import open_catalog
from migcompat.errors import UsageError
from migcompat.model.devspec import parse_device
from migcompat.model.globals import parse_global
from migcompat.model.vm import VMConfig

CAT = open_catalog("tutorial")


def cfg(side: str, *devices: str, smp: int = 4, globals_: tuple[str, ...] = ()) -> VMConfig:
    release, machine = side.split(":")
    return VMConfig(CAT.release(release), machine, [parse_device(d) for d in devices], smp=smp,
                    globals=[parse_global(g) for g in globals_])


@pytest.mark.parametrize("src,dst,ok", [
    ("qemu-5.2:pc-5.2", "qemu-5.2:pc-5.2", True),    # case 1
    ("qemu-5.1:pc-5.1", "qemu-5.1:pc-5.1", True),    # case 2
    ("qemu-5.2:pc-5.1", "qemu-5.2:pc-5.1", True),    # case 3
    ("qemu-5.1:pc-5.2", "qemu-5.1:pc-5.2", False),   # case 4: refused
    ("qemu-5.2:pc-5.1", "qemu-5.1:pc-5.1", True),    # case 5
    ("qemu-5.1:pc-5.1", "qemu-5.2:pc-5.1", True),    # case 6
    ("qemu-5.2-broken:pc-5.1", "qemu-5.1:pc-5.1", False),
    ("qemu-5.1:pc-5.1", "qemu-5.2-broken:pc-5.1", False),
])
def test_document_cases(src: str, dst: str, ok: bool) -> None:
    res = check(cfg(src, "virtio-blk-pci,id=vb0"), cfg(dst, "virtio-blk-pci,id=vb0"))
    assert res.compatible is ok, [r.message for r in res.reasons]


def test_broken_names_num_queues_with_both_provenances() -> None:
    res = check(cfg("qemu-5.2-broken:pc-5.1", "virtio-blk-pci,id=vb0"),
                cfg("qemu-5.1:pc-5.1", "virtio-blk-pci,id=vb0"))
    [nq] = [r for r in res.breaking() if r.property == "num-queues"]
    assert nq.device == "vb0/virtio-backend"
    assert nq.detail["source"]["provenance"][-1]["source"] == "realize"
    assert nq.detail["destination"]["provenance"][-1]["source"] == "default"


def test_new_property_pinned_by_compat_is_not_a_break() -> None:
    res = check(cfg("qemu-5.2:pc-5.1", "virtio-blk-pci,id=vb0"),
                cfg("qemu-5.1:pc-5.1", "virtio-blk-pci,id=vb0"))
    one_side = {r.property for r in res.reasons if r.code == "property-one-side"}
    assert one_side == {"lat-stats", "x-ats-page-aligned"}
    assert all(not r.breaking for r in res.reasons)


def test_new_property_left_at_default_breaks_when_guest_visible() -> None:
    old_types = json.loads(json.dumps(BASE_TYPES))
    new_types = json.loads(json.dumps(BASE_TYPES))
    new_types["widget"]["properties"]["shiny"] = {"kind": "bool", "default": True}
    new_types["widget"]["guest_visible"] = ["shiny"]
    old, new = make_release(types=old_types), make_release(types=new_types)
    dev = [parse_device("widget,id=w")]
    # the builder's releases have no device-state schemas: the property rules alone
    res = check(VMConfig(new, "pc-1.0", dev), VMConfig(old, "pc-1.0", dev), section_rules=())
    [r] = res.reasons
    assert (r.code, r.property, r.breaking) == ("property-one-side", "shiny", True)
    # The same property pinned by a compat entry of the new release is fine.
    pinned = make_release(types=new_types, tables={"hw_compat_1_0": {"entries": [
        {"driver": "widget", "property": "shiny", "value": "off"}]}})
    assert check(VMConfig(pinned, "pc-1.0", dev), VMConfig(old, "pc-1.0", dev)).compatible
    # A property the type does not list as guest-visible never breaks.
    new_types["widget"]["guest_visible"] = []
    quiet = make_release(types=new_types)
    assert check(VMConfig(quiet, "pc-1.0", dev), VMConfig(old, "pc-1.0", dev)).compatible


def test_missing_and_extra_devices() -> None:
    res = check(cfg("qemu-5.2:pc-5.2", "virtio-blk-pci,id=a", "e1000,id=n"),
                cfg("qemu-5.2:pc-5.2", "virtio-blk-pci,id=a"))
    # the device rule and the state rule agree: the e1000's section is unknown there
    assert [r.code for r in res.breaking()] == ["device-missing", "unknown-section"]
    assert res.breaking()[0].device == "n"
    res = check(cfg("qemu-5.2:pc-5.2", "virtio-blk-pci,id=a"),
                cfg("qemu-5.2:pc-5.2", "virtio-blk-pci,id=a", "e1000,id=n"))
    assert res.compatible
    assert [r.code for r in res.reasons] == ["device-extra"]


def test_one_sided_global_forgotten_compat() -> None:
    res = check(cfg("qemu-5.2:pc-5.1", "virtio-blk-pci,id=vb0"),
                cfg("qemu-5.2:pc-5.1", "virtio-blk-pci,id=vb0",
                    globals_=("virtio-blk-device.num-queues=4",)))
    assert not res.compatible
    assert {r.property for r in res.breaking() if r.code == "property-differs"} == {
        "num-queues", "vectors"}
    # four queues on one side only: the virtio-blk section's vq array differs in length
    assert [r.code for r in res.breaking() if r.property is None] == ["layout-differs"]


def test_device_state_rules_run_unless_asked_not_to() -> None:
    # the forgotten compat entry: four queues on 5.2-broken's pc-5.1, one on 5.1's
    src = cfg("qemu-5.1:pc-5.1", "virtio-blk-pci,id=vb0")
    dst = cfg("qemu-5.2-broken:pc-5.1", "virtio-blk-pci,id=vb0")
    assert "layout-differs" in {r.code for r in check(src, dst).breaking()}
    alone = check(src, dst, section_rules=())
    assert {r.code for r in alone.breaking()} == {"property-differs"}


def test_unknown_machine_and_devices() -> None:
    res = check(cfg("qemu-5.2:pc-5.2", "virtio-blk-pci"), cfg("qemu-5.1:pc-5.2", "virtio-blk-pci"))
    assert res.refused and res.breaking()[0].code == "unknown-machine"
    res = check(cfg("qemu-5.2:pc-5.1", "u2f-emulated"), cfg("qemu-5.1:pc-5.1", "u2f-emulated"))
    assert res.refused and res.breaking()[0].code == "unknown-device"
    with pytest.raises(UsageError, match="known to neither"):
        check(cfg("qemu-5.2:pc-5.1", "nope"), cfg("qemu-5.1:pc-5.1", "nope"))


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "migcompat", *args], capture_output=True,
                          text=True)


def test_cli_exit_codes_and_json() -> None:
    ok = run("check", "qemu-5.2:pc-5.1", "qemu-5.1:pc-5.1", "--device", "virtio-blk-pci",
             "--smp", "4", "--both-directions", "--format", "json")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["compatible"] is True
    bad = run("check", "qemu-5.2-broken:pc-5.1", "qemu-5.1:pc-5.1", "--device",
              "virtio-blk-pci", "--smp", "4", "--format", "json")
    assert bad.returncode == 1
    doc = json.loads(bad.stdout)
    assert doc["compatible"] is False
    assert {"code", "message"} <= set(doc["reasons"][0])
    assert any(r.get("property") == "num-queues" for r in doc["reasons"])
    per_side = run("check", "qemu-5.2:pc-5.2", "qemu-5.2:pc-5.2", "--device", "virtio-blk-pci",
                   "--src-device", "e1000,id=n")
    assert per_side.returncode == 1 and "device-missing" in per_side.stdout
    usage = run("check", "qemu-5.2", "qemu-5.1:pc-5.1")
    assert usage.returncode == 2 and "expected RELEASE:MACHINE" in usage.stderr


def test_verdict_levels_and_what_fails() -> None:
    from migcompat.analysis.check import CheckResult
    from migcompat.analysis.reasons import Reason

    base = check(cfg("qemu-5.2:pc-5.1", "virtio-blk-pci"), cfg("qemu-5.1:pc-5.1",
                                                               "virtio-blk-pci"))
    assert (base.verdict, base.loads, base.fails()) == ("compatible", True, False)
    seen = Reason("property-differs", "x.events is 3 and 7", category="guest-visible")
    visible = CheckResult(base.source, base.dest, [*base.reasons, seen], base.src_vm,
                          base.dst_vm)
    assert (visible.verdict, visible.loads, visible.compatible) == ("guest-visible", True, True)
    assert not visible.fails() and visible.fails("guest-visible")
    blocked = CheckResult(base.source, base.dest, [Reason("migration-blocked", "nvme")],
                          base.src_vm, base.dst_vm)
    assert (blocked.verdict, blocked.refused, blocked.loads) == ("refused", True, False)
    broken = check(cfg("qemu-5.2-broken:pc-5.1", "virtio-blk-pci"),
                   cfg("qemu-5.1:pc-5.1", "virtio-blk-pci"))
    assert (broken.verdict, broken.fails(), broken.fails("guest-visible")) == (
        "incompatible", True, True)


def test_unversioned_machines_are_unsupported_between_releases() -> None:
    qemu = open_catalog("qemu")
    a, b = qemu.release("7.2"), qemu.release("10.0")
    across = check(VMConfig(a, "isapc"), VMConfig(b, "isapc"))
    assert [r.code for r in across.reasons] == ["unversioned-machine"]
    assert across.verdict == "incompatible"
    same = check(VMConfig(a, "microvm"), VMConfig(a, "microvm"), section_rules=())
    assert same.verdict == "compatible" and not same.reasons
