"""Fleet plans on the real qemu catalog: the actions, their facts, and the memo."""

from __future__ import annotations

from dataclasses import replace

import pytest

from migcompat.analysis import plan as plan_module
from migcompat.analysis.check import check
from migcompat.analysis.plan import Planner, config_key
from migcompat.catalog.load import open_catalog
from migcompat.model.devspec import parse_device
from migcompat.model.globals import parse_global
from migcompat.model.machines import version_key
from migcompat.model.release import Release
from migcompat.model.vm import VMConfig

CAT = open_catalog("qemu")
R72, R100, R102 = (CAT.release(r) for r in ("7.2", "10.0", "10.2"))


def vm(machine: str, *devices: str, release: Release = R72, smp: int = 1) -> VMConfig:
    return VMConfig(release, machine, [parse_device(d) for d in devices], smp=smp)


def planner(*path: Release) -> Planner:
    return Planner(list(path), [R72, R100, R102])


def family_names(release: Release, family: str) -> set[str]:
    return {n for n, m in release.machines.machines.items()
            if m.family == family and m.versioned}


def test_an_old_i440fx_vm_must_be_cold_booted_before_the_step_that_lacks_its_type() -> None:
    plan = planner(R100, R102).plan(vm("pc-i440fx-2.4", "virtio-blk-pci"))
    assert plan.action == "cold-boot"
    assert plan.cold_boot is not None
    # the catalog itself: 10.2 has no pc-i440fx-2.4, 7.2 and 10.0 do
    assert "pc-i440fx-2.4" in R100.machines.machines
    assert "pc-i440fx-2.4" not in R102.machines.machines
    assert plan.cold_boot.missing_in == ("10.2",)
    every = set.intersection(*(family_names(r, "pc-i440fx") for r in (R72, R100, R102)))
    assert plan.cold_boot.min_machine == min(every, key=lambda n: version_key(n.split("-")[-1]))
    assert plan.cold_boot.min_machine == "pc-i440fx-5.0"
    assert plan.cold_boot.target_machine == max(every,
                                                key=lambda n: version_key(n.split("-")[-1]))
    assert plan.cold_boot.target_machine == "pc-i440fx-7.2"
    assert plan.advice[0].startswith("pc-i440fx-2.4 is gone in 10.2: cold boot onto "
                                     "pc-i440fx-5.0 or newer before that step")
    assert plan.horizon is not None and plan.horizon.gone_on_path == "10.2"
    # once on the target type, the VM makes the path: check says so hop by hop
    after = plan.cold_boot.after
    assert after is not None and after.machine == "pc-i440fx-7.2"
    on_target = vm("pc-i440fx-7.2", "virtio-blk-pci")
    direct = check(on_target, replace(on_target, release=R100))
    assert (after.action == "none") == (direct.verdict == "compatible")


def test_the_same_old_vm_to_10_0_alone_needs_no_cold_boot() -> None:
    plan = planner(R100).plan(vm("pc-i440fx-2.4", "virtio-blk-pci"))
    assert plan.action != "cold-boot"
    assert plan.cold_boot is None
    # deprecated in 10.0 (the catalog marks it), and removed later: the horizon says when
    assert R100.machines.machines["pc-i440fx-2.4"].deprecated is not None
    assert plan.horizon is not None and plan.horizon.removed == "10.1"
    assert any("removed in QEMU 10.1" in a for a in plan.advice)


def test_pvpanic_and_nec_xhci_get_the_pins_check_verifies() -> None:
    config = vm("pc-q35-7.2", "pvpanic", "nec-usb-xhci")
    plan = planner(R100).plan(config)
    assert plan.action == "pin"
    assert plan.pin_args == ("-global", "pvpanic.events=3", "-global",
                             "nec-usb-xhci.streams=off")
    assert all(p.fix.verified and p.carried for p in plan.pins)
    # independently: without the pins 7.2 <-> 10.0 breaks, with them on 10.0 it loads
    dst = replace(config, release=R100)
    assert check(config, dst).verdict == "incompatible"
    pinned = replace(dst, globals=[parse_global("pvpanic.events=3"),
                                   parse_global("nec-usb-xhci.streams=off")])
    assert check(config, pinned).verdict == "compatible"
    assert check(pinned, config).verdict == "compatible"
    assert [(s.forward, s.back) for s in plan.steps] == [("incompatible", "incompatible")]


def test_a_plain_vm_needs_nothing_and_its_10_2_step_is_weaker() -> None:
    config = vm("pc-q35-7.2", "virtio-net-pci")
    plan = planner(R100, R102).plan(config)
    assert plan.action == "none"
    assert plan.pins == () and plan.cold_boot is None
    assert [(s.source, s.dest) for s in plan.steps] == [("7.2", "10.0"), ("10.0", "10.2")]
    assert all(s.forward == s.back == "compatible" for s in plan.steps)
    # 10.2 has no captured device state: its step rests on the properties alone
    assert [s.weak for s in plan.steps] == [False, True]
    assert any("device state not compared on 10.0 -> 10.2" in a for a in plan.advice)


def test_an_alias_runs_as_the_versioned_type_its_host_resolved() -> None:
    plan = planner(R100).plan(vm("q35", "virtio-net-pci"))
    assert plan.machine == R72.machines.resolve("q35").name == "pc-q35-7.2"
    assert plan.action == "none"


def test_a_vm_already_on_the_last_release_has_nothing_to_do() -> None:
    plan = planner(R100).plan(vm("pc-q35-7.2", "virtio-net-pci", release=R100))
    assert plan.action == "none" and plan.steps == ()


def test_a_vm_half_way_through_the_path_plans_the_steps_ahead_of_it() -> None:
    plan = planner(R100, R102).plan(vm("pc-q35-7.2", "virtio-net-pci", release=R100))
    assert plan.path == ("10.0", "10.2")
    assert [(s.source, s.dest) for s in plan.steps] == [("10.0", "10.2")]
    # pc-i440fx-2.4 on a 10.0 host: the step ahead lacks it
    old = planner(R100, R102).plan(vm("pc-i440fx-2.4", "virtio-blk-pci", release=R100))
    assert old.action == "cold-boot" and old.cold_boot is not None
    assert old.cold_boot.missing_in == ("10.2",)


def test_the_same_config_twice_is_planned_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = plan_module.check_chain

    def counting(configs: list[VMConfig], back: bool = False) -> object:
        calls.append(len(configs))
        return real(configs, back)

    monkeypatch.setattr(plan_module, "check_chain", counting)
    p = planner(R100)
    first = p.plan(vm("pc-q35-7.2", "virtio-net-pci,id=n0"))
    again = p.plan(vm("pc-q35-7.2", "virtio-net-pci,id=n0"))  # built anew, equal
    assert again is first and len(calls) == 1
    p.plan(vm("pc-q35-7.2", "virtio-net-pci,id=n0", smp=2))  # another config
    assert len(calls) == 2 and p.checks == 2


def test_config_key_tells_configs_apart() -> None:
    a = vm("pc-q35-7.2", "virtio-net-pci")
    assert config_key(a) == config_key(vm("pc-q35-7.2", "virtio-net-pci"))
    for other in (vm("pc-q35-7.1", "virtio-net-pci"), vm("pc-q35-7.2", "e1000"),
                  vm("pc-q35-7.2", "virtio-net-pci", smp=4),
                  vm("pc-q35-7.2", "virtio-net-pci", release=R100),
                  replace(a, mem=a.mem * 2), replace(a, globals=[parse_global("e1000.x=1")])):
        assert config_key(other) != config_key(a)


def test_a_plan_to_json_is_plain_data() -> None:
    import json

    doc = planner(R100, R102).plan(vm("pc-i440fx-2.4", "virtio-blk-pci")).to_json()
    again = json.loads(json.dumps(doc))
    assert again["action"] == "cold-boot"
    assert again["cold_boot"]["min_machine"] == "pc-i440fx-5.0"
    assert again["path"] == ["7.2", "10.0", "10.2"]


def test_a_vm_own_mac_and_serial_share_a_plan_other_options_do_not() -> None:
    p = planner(R100)
    a = p.plan(vm("pc-q35-7.2", "virtio-net-pci,id=n0,mac=52:54:00:00:00:01"))
    b = p.plan(vm("pc-q35-7.2", "virtio-net-pci,id=n0,mac=52:54:00:00:00:02"))
    c = p.plan(vm("pc-q35-7.2", "virtio-net-pci,id=n0,mac=52:54:00:00:00:01,mq=on"))
    assert a is b and c is not a and p.checks == 2
