"""A fleet's plan (issue #15), each answer checked on the real builds: `plan --from 7.2 --to
10.0` on a fleet of real configs, then, for every VM, what real QEMU does.

- A live answer (``none``, or ``pin`` with its pins): the VM migrates 7.2 -> 10.0 with
  the pins on the 10.0 host, and back 10.0 -> 7.2 (the rollback), both loads completing;
  each pin gives the real 10.0 device the value the real 7.2 device has.
- ``cold-boot``: the real 10.0 refuses to start the machine type, as the plan says; once
  cold-booted onto the plan's ``target_machine``, the VM migrates both ways.
- ``cannot-move``: the real migration does not go through.

The fleet mixes the machine types (old pc-i440fx types, pc-q35-5.x, the ``q35`` alias)
and device sets operators run; every VM is its own distinct config.
"""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from qemu.qmp import ExecuteError

from migcompat.cli.main import main
from migcompat.qemu.debian.builds import QemuBuild
from plan_fleet import FLEET, VM, write_inventory
from qemu_helpers import load_stream, make_stream, qom_values
from qemu_migrations.migration_cases import classify, get_build

pytestmark = pytest.mark.qemu


LIVE = ("none", "pin")


@pytest.fixture(scope="module")
def plan(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    inventory = write_inventory(tmp_path_factory.mktemp("fleet") / "fleet.args")
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as info:
        main(["plan", "--catalog", "qemu", str(inventory), "--to", "10.0", "--format", "json"])
    doc: dict[str, Any] = json.loads(out.getvalue())
    cannot = doc["summary"]["by_action"]["cannot-move"]
    assert info.value.code == (1 if cannot else 0)
    return doc


def _plan_of(doc: dict[str, Any], name: str) -> dict[str, Any]:
    (vm,) = [v for v in doc["vms"] if v["name"] == name]
    (config,) = [c for c in doc["configs"] if c["id"] == vm["config"]]
    return config


def test_the_sample_has_twenty_live_answers_and_every_other_action(plan: dict[str, Any]) -> None:
    # the sample is not vacuous: most VMs migrate live, and each other action is there
    actions = [_plan_of(plan, vm.name)["action"] for vm in FLEET]
    assert sum(a in LIVE for a in actions) >= 20
    assert {"none", "pin", "cold-boot", "cannot-move"} <= set(actions)
    assert plan["summary"]["configs"] == len(FLEET)


def _migrate(tmp: Path, src: QemuBuild, src_machine: str, src_args: list[str],
             dst: QemuBuild, dst_machine: str, dst_args: list[str], vm: VM,
             name: str) -> tuple[bool, str]:
    stream = make_stream(tmp, src_machine, src_args, smp=vm.smp, mem=vm.mem, qemu=src,
                         name=f"{name}.mig")
    res = load_stream(stream, dst_machine, dst_args, smp=vm.smp, mem=vm.mem, qemu=dst)
    stream.unlink()
    return res.ok, classify(res).why


def _both_ways(tmp: Path, vm: VM, machine: str, pins: list[str]) -> None:
    """7.2 -> 10.0 with the pins on 10.0, then 10.0 (pinned) -> 7.2: both must load."""
    old, new = get_build("7.2"), get_build("10.0")
    src_machine = vm.machine if machine == _resolved(vm) else machine
    ok, why = _migrate(tmp, old, src_machine, vm.args(), new, machine, [*pins, *vm.args()],
                       vm, "forward")
    assert ok, f"{vm.name} 7.2 -> 10.0 on {machine} {pins}: {why}"
    ok, why = _migrate(tmp, new, machine, [*pins, *vm.args()], old, machine, vm.args(), vm,
                       "back")
    assert ok, f"{vm.name} 10.0 -> 7.2 on {machine} {pins}: {why}"


def _resolved(vm: VM) -> str:
    return "pc-q35-7.2" if vm.machine == "q35" else vm.machine


def _device_ids(vm: VM) -> dict[str, str]:
    """driver -> id of the VM's -device options."""
    found = {}
    for word in vm.args():
        driver, _, rest = word.partition(",")
        opts = dict(o.split("=", 1) for o in rest.split(",") if "=" in o)
        if "id" in opts:
            found[driver] = opts["id"]
    return found


def _pins_match_the_source(vm: VM, machine: str, pin_args: list[str]) -> None:
    """Each ``-global DRIVER.PROP=VALUE`` pin makes the real 10.0 device read what the real
    7.2 device reads (a pin on a device the VM names by id)."""
    ids = _device_ids(vm)
    asked = []
    for flag, value in zip(pin_args[::2], pin_args[1::2], strict=True):
        assert flag == "-global", pin_args
        target, _, _ = value.partition("=")
        driver, _, prop = target.partition(".")
        if driver in ids:
            asked.append((f"/machine/peripheral/{ids[driver]}", prop))
    assert asked, f"no pin of {vm.name} names one of its devices: {pin_args}"
    base = ["-nodefaults", "-display", "none", "-S", "-accel", "tcg"]
    old = qom_values(machine, [*base, *vm.args()], asked, qemu=get_build("7.2"))
    new = qom_values(machine, [*base, *pin_args, *vm.args()], asked, qemu=get_build("10.0"))
    unpinned = qom_values(machine, [*base, *vm.args()], asked, qemu=get_build("10.0"))
    assert new == old, f"{vm.name}: pinned 10.0 {new} vs 7.2 {old}"
    assert unpinned != old, f"{vm.name}: the pins {pin_args} change nothing on the real 10.0"


def _refuses_machine(build: QemuBuild, machine: str) -> str:
    run = subprocess.run([build.binary, *build.args(), "-M", machine, "-nodefaults",
                          "-display", "none", "-S", "-qmp", "stdio"],
                         input='{"execute":"qmp_capabilities"}\n{"execute":"quit"}\n',
                         capture_output=True, text=True, env=build.env, timeout=60,
                         check=False)
    assert run.returncode != 0, f"10.0 started {machine}"
    return run.stderr


@pytest.mark.parametrize("vm", FLEET, ids=[vm.name for vm in FLEET])
def test_each_answer_of_the_plan_is_what_real_qemu_does(vm: VM, plan: dict[str, Any],
                                                        tmp_path: Path) -> None:
    config = _plan_of(plan, vm.name)
    action, machine = config["action"], config["machine"]
    assert machine == _resolved(vm)
    if action in LIVE:
        _both_ways(tmp_path, vm, machine, config["pin_args"])
        if action == "pin":
            _pins_match_the_source(vm, machine, config["pin_args"])
    elif action == "cold-boot":
        cold = config["cold_boot"]
        assert cold["missing_in"] == ["10.0"]
        stderr = _refuses_machine(get_build("10.0"), machine)
        assert "unsupported machine type" in stderr, stderr
        after = cold["after"]
        assert after["machine"] == cold["target_machine"]
        assert after["action"] in LIVE, after  # these fleets' cold boots all end live
        _both_ways(tmp_path, vm, after["machine"], after["pin_args"])
    else:
        assert action == "cannot-move", action
        try:
            ok, why = _migrate(tmp_path, get_build("7.2"), machine, vm.args(),
                               get_build("10.0"), machine, vm.args(), vm, "forward")
        except ExecuteError as exc:  # the source refused to send (a migration blocker)
            ok, why = False, str(exc)
        assert not ok, f"{vm.name}: the plan says cannot move, real QEMU moved it"
        assert why in " ".join(config["advice"]), (why, config["advice"])
