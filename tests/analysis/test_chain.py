"""Chains on the tutorial: the document's A -> B -> C lesson, hop by hop."""

from __future__ import annotations

from dataclasses import replace

import pytest

from migcompat.analysis.chain import chain_fixes, check_chain
from migcompat.analysis.check import check
from migcompat.analysis.fixes import Fix, applied
from migcompat.catalog.load import open_catalog
from migcompat.errors import UsageError
from migcompat.model.devspec import parse_device
from migcompat.model.globals import parse_global
from migcompat.model.vm import VMConfig

CAT = open_catalog("tutorial")
DEVICE = "virtio-blk-pci,id=vb0"


def cfg(side: str, *devices: str, globals_: tuple[str, ...] = ()) -> VMConfig:
    release, machine = side.split(":")
    return VMConfig(CAT.release(release), machine, [parse_device(d) for d in devices or
                                                    (DEVICE,)], smp=4,
                    globals=[parse_global(g) for g in globals_])


def chain(*sides: str) -> list[VMConfig]:
    return [cfg(s) for s in sides]


# The document's A, B and C: qemu-5.1/pc-5.1 -> qemu-5.2/pc-5.1 -> qemu-5.2/pc-5.1.
GOOD = ("qemu-5.1:pc-5.1", "qemu-5.2:pc-5.1", "qemu-5.2:pc-5.1")
# The same path with a B and C whose hw_compat_5_1 forgot num-queues: B -> C is case 3.
BROKEN = ("qemu-5.1:pc-5.1", "qemu-5.2-broken:pc-5.1", "qemu-5.2-broken:pc-5.1")


def test_the_documents_chain_works_when_pc_5_1_keeps_one_queue() -> None:
    res = check_chain(chain(*GOOD), back=True)
    assert [h.result.verdict for h in res.all_hops()] == ["compatible"] * 4
    assert res.verdict == "compatible" and not res.fails()
    assert chain_fixes(res) == []


def test_a_b_that_forgot_the_compat_entry_fails_hop_1_though_b_to_c_looks_fine() -> None:
    res = check_chain(chain(*BROKEN))
    assert [r.verdict for r in res.hops] == ["incompatible", "compatible"]
    assert res.verdict == "incompatible"
    first = res.first()
    assert first is not None and first.label == "hop 1"
    assert "num-queues" in {r.property for r in first.result.breaking()}
    # B -> C alone is the document's case 3: "we don't care"
    assert check(cfg(BROKEN[1]), cfg(BROKEN[2])).verdict == "compatible"


def test_the_failing_hop_is_named_when_it_is_not_the_first() -> None:
    res = check_chain(chain("qemu-5.1:pc-5.1", "qemu-5.2:pc-5.1", "qemu-5.2-broken:pc-5.1"))
    assert [r.verdict for r in res.hops] == ["compatible", "incompatible"]
    first = res.first()
    assert first is not None and first.label == "hop 2"


def test_the_path_back_is_the_chain_reversed() -> None:
    res = check_chain(chain("qemu-5.2:pc-5.1", "qemu-5.1:pc-5.1", "qemu-5.2-broken:pc-5.1"),
                      back=True)
    assert [h.label for h in res.all_hops()] == ["hop 1", "hop 2", "back hop 1", "back hop 2"]
    assert [r.source.release.id for r in res.back] == ["qemu-5.2-broken", "qemu-5.1"]
    assert [r.dest.release.id for r in res.back] == ["qemu-5.1", "qemu-5.2"]
    assert res.back[0].verdict == "incompatible" and res.back[1].verdict == "compatible"


def test_each_hop_starts_from_the_vm_the_hop_before_loaded_into() -> None:
    res = check_chain(chain(*GOOD))
    assert res.hops[1].source is res.hops[0].dest
    a, b = res.hops[0].dst_vm, res.hops[1].src_vm
    assert a is not None and b is not None
    values = [{(o.path, n): e.value for o in vm.all_objects() for n, e in o.props.items()}
              for vm in (a, b)]
    assert values[0] == values[1]


def test_two_sides_are_the_pair_check() -> None:
    sides = chain("qemu-5.2-broken:pc-5.1", "qemu-5.1:pc-5.1")
    res = check_chain(sides)
    pair = check(*sides)
    assert len(res.hops) == 1
    assert [r.message for r in res.hops[0].reasons] == [r.message for r in pair.reasons]


def test_one_side_is_not_a_chain() -> None:
    with pytest.raises(UsageError, match="two sides or more"):
        check_chain(chain("qemu-5.1:pc-5.1"))


def test_a_hop_neither_of_whose_sides_knows_the_machine_is_refused() -> None:
    res = check_chain(chain("qemu-5.2:pc-5.2", "qemu-5.1:pc-5.2", "qemu-5.1:pc-5.2"))
    assert [r.verdict for r in res.hops] == ["refused", "refused"]
    assert res.verdict == "refused"


def test_a_hop_whose_sides_lack_a_device_another_hop_has_is_refused_not_bad_input() -> None:
    # u2f-emulated is new in the tutorial's 5.2: check on the 5.1 -> 5.1 hop alone raises
    sides = [cfg(s, DEVICE, "u2f-emulated") for s in ("qemu-5.2:pc-5.1", "qemu-5.1:pc-5.1",
                                                      "qemu-5.1:pc-5.1")]
    with pytest.raises(UsageError):
        check(sides[1], sides[2])
    res = check_chain(sides)
    assert res.hops[1].verdict == "refused"
    assert [r.code for r in res.hops[1].reasons] == ["unknown-device"]
    assert "u2f-emulated" in res.hops[1].reasons[0].message


def test_no_side_starts_it_is_bad_input() -> None:
    with pytest.raises(UsageError):
        check_chain([cfg(s, "no-such-device") for s in GOOD])


def test_the_fix_of_a_hop_is_carried_on_to_every_later_side() -> None:
    res = check_chain(chain(*BROKEN))
    [fix] = chain_fixes(res)
    assert fix.hop == "hop 1" and fix.carried
    assert fix.fix.args == ("-global", "virtio-blk-pci.num-queues=1")
    assert fix.fix.verified and fix.fix.verdict == "compatible"
    # pinned on B alone, B -> C breaks: C still has four queues (reference §7.3)
    sides = chain(*BROKEN)
    pinned_b = applied(sides[1], fix.fix)
    assert pinned_b is not None
    only_b = check_chain([sides[0], pinned_b, sides[2]])
    assert [r.verdict for r in only_b.hops] == ["compatible", "incompatible"]
    carried = [sides[0], pinned_b, applied(sides[2], fix.fix)]
    assert check_chain([c for c in carried if c is not None]).verdict == "compatible"


def test_a_chain_fix_is_verified_both_ways_when_the_way_back_is_asked() -> None:
    res = check_chain(chain("qemu-5.2:pc-5.1", "qemu-5.1:pc-5.1", "qemu-5.2-broken:pc-5.1"),
                      back=True)
    fixes = chain_fixes(res)
    assert [f.hop for f in fixes] == ["hop 2"]
    assert fixes[0].fix.verified and fixes[0].fix.verdict == "compatible"


def test_applied_edits_the_device_it_was_made_from() -> None:
    config = cfg("qemu-5.2:pc-5.1", "virtio-blk-pci,id=vb0,num-queues=4", "virtio-blk-pci")
    fix = Fix("destination", "device", ("-device", "virtio-blk-pci,id=vb0,num-queues=1"),
              True, False, "")
    out = applied(config, fix)
    assert out is not None
    assert [d.text() for d in out.devices] == ["virtio-blk-pci,id=vb0,num-queues=1",
                                               "virtio-blk-pci"]
    other = replace(fix, args=("-device", "virtio-blk-pci,id=vb9,num-queues=1"))
    assert applied(config, other) is None
    assert applied(config, replace(fix, kind="none", args=())) is None
    machine = applied(config, replace(fix, kind="machine", args=("-machine", "pc-5.2")))
    assert machine is not None and machine.machine == "pc-5.2"
