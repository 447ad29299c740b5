"""Fleet plans: what each VM needs before every step of an upgrade path (issue #15).

A plan takes one VM config on its host's release and a path of releases (7.2 -> 10.0 ->
10.2), and says which of four actions the VM needs, with the facts behind it:

- ``none``: the chain (``check_chain`` with the way back) is compatible on every hop;
- ``pin``: ``chain_fixes`` finds destination pins that make the whole chain, both ways,
  compatible (each fix says ``verified``);
- ``cold-boot``: a release on the path lacks the VM's machine type (QEMU refuses to start
  it there, "unknown-machine"), so the VM must be restarted on another machine type before
  that step. The plan names ``min_machine``, the oldest type of the family every release of
  the path still has (``calendar.oldest_surviving``), and ``target_machine``, the newest
  type all of them know, and checks the chain again on ``target_machine`` (``after``);
- ``cannot-move``: neither: no verified fix (a guest-visible difference included, since the
  guest would see other hardware after the move).

Fleets repeat configs, so :class:`Planner` memoizes on :func:`config_key`: a fleet of a
million VMs with a few hundred distinct configs runs ``check`` a few hundred times.
Pure: the caller gives the releases and the VM configs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from migcompat.analysis.chain import ChainResult, HopFix, chain_fixes, check_chain
from migcompat.analysis.check import shared_realizations
from migcompat.errors import UsageError
from migcompat.model.calendar import MachineLife, calendar, gone_in, oldest_surviving
from migcompat.model.devspec import DeviceSpec
from migcompat.model.machines import version_key
from migcompat.model.release import Release
from migcompat.model.vm import VMConfig

Action = Literal["none", "pin", "cold-boot", "cannot-move"]
ACTIONS: tuple[Action, ...] = ("none", "pin", "cold-boot", "cannot-move")
WEAK_CODE = "state-not-compared"  # a release without device-state schemas (10.2 today)


# Device options whose value is one VM's own and never changes a plan: every side of a
# path runs the VM with the same value, it sizes no state, and a pin never names it (a
# plan's pins are globals: its sides share their -device options). libvirt gives every VM
# its own MAC address and disk serial; keyed with them, no two VMs of a fleet would share.
IDENTITY_OPTIONS = frozenset({"mac", "serial", "wwn"})


def _device_key(spec: DeviceSpec) -> object:
    if not any(k in IDENTITY_OPTIONS for k, _ in spec.options):
        return spec
    return (spec.driver, spec.id, spec.bus, tuple((k, "" if k in IDENTITY_OPTIONS else v)
                                                  for k, v in spec.options))


def config_key(config: VMConfig) -> tuple[object, ...]:
    """What makes two VM configs the same VM for a plan: the release and everything
    ``check`` reads (machine type and options, devices in order, globals, objects, vCPUs
    and RAM), but the values of :data:`IDENTITY_OPTIONS`. Device ids are part of it."""
    return (config.release.id, config.machine, tuple(config.machine_options),
            tuple(_device_key(d) for d in config.devices), tuple(config.globals),
            tuple(config.objects), config.smp, config.mem)


@dataclass(frozen=True)
class Step:
    """One step of the path, both ways: ``forward`` moves the VM from ``source`` to
    ``dest``, ``back`` is the rollback of that step."""

    source: str
    dest: str
    machine: str
    forward: str  # check's verdict
    back: str
    weak: bool  # device state not compared on this step (a release without schemas)

    def to_json(self) -> dict[str, object]:
        return {"from": self.source, "to": self.dest, "machine": self.machine,
                "forward": self.forward, "back": self.back, "state_compared": not self.weak}


@dataclass(frozen=True)
class Horizon:
    """The machine type's calendar entry, as far as the plan needs it."""

    machine: str
    deprecated: str | None
    deprecated_how: str | None
    removed: str | None
    removed_how: str | None
    gone_on_path: str | None  # the first release of the path that lacks it

    def to_json(self) -> dict[str, object]:
        return {"machine": self.machine, "deprecated": self.deprecated,
                "deprecated_how": self.deprecated_how, "removed": self.removed,
                "removed_how": self.removed_how, "gone_on_path": self.gone_on_path}


@dataclass(frozen=True)
class ColdBoot:
    missing_in: tuple[str, ...]  # the path's releases that lack the machine type
    min_machine: str | None  # oldest type of the family all releases of the path keep
    target_machine: str | None  # newest type of the family all releases know
    after: ConfigPlan | None  # the plan on target_machine, once cold-booted onto it

    def to_json(self) -> dict[str, object]:
        after = self.after
        return {"missing_in": list(self.missing_in), "min_machine": self.min_machine,
                "target_machine": self.target_machine,
                "after": None if after is None else {
                    "machine": after.machine, "action": after.action,
                    "verdict": after.verdict, "pin_args": list(after.pin_args),
                    "state_compared": not after.weak, "advice": list(after.advice)}}


@dataclass(frozen=True)
class ConfigPlan:
    """The plan of one distinct config; every VM with that config shares it."""

    action: Action
    release: str
    machine: str
    path: tuple[str, ...]  # release ids, the VM's host first
    verdict: str  # the chain's, both ways
    steps: tuple[Step, ...]
    pins: tuple[HopFix, ...]  # verified and carried when action is "pin"
    cold_boot: ColdBoot | None
    horizon: Horizon | None
    advice: tuple[str, ...]  # sentences for people, the first says what to do

    @property
    def weak(self) -> bool:
        return any(s.weak for s in self.steps)

    @property
    def pin_args(self) -> tuple[str, ...]:
        """The destination arguments every later host gives the VM (all pins joined)."""
        return tuple(a for p in self.pins for a in p.fix.args)

    def to_json(self) -> dict[str, Any]:
        return {"action": self.action, "release": self.release, "machine": self.machine,
                "path": list(self.path), "verdict": self.verdict,
                "steps": [s.to_json() for s in self.steps],
                "pins": [p.to_json() for p in self.pins], "pin_args": list(self.pin_args),
                "cold_boot": None if self.cold_boot is None else self.cold_boot.to_json(),
                "horizon": None if self.horizon is None else self.horizon.to_json(),
                "state_compared": not self.weak, "advice": list(self.advice)}


def _steps(res: ChainResult, machine: str) -> tuple[Step, ...]:
    n = len(res.hops)
    steps = []
    for i, fwd in enumerate(res.hops):
        back = res.back[n - 1 - i]  # the way back runs the chain reversed
        weak = any(r.code == WEAK_CODE for r in (*fwd.reasons, *back.reasons))
        steps.append(Step(fwd.source.release.id, fwd.dest.release.id, machine,
                          fwd.verdict, back.verdict, weak))
    return tuple(steps)


def _version(release: Release) -> str:
    return release.version or release.id


def newest_common(releases: Sequence[Release], family: str) -> str | None:
    """The newest versioned machine type of ``family`` every release knows."""
    names = [{n for n, m in r.machines.machines.items()
              if m.family == family and m.versioned} for r in releases]
    common = set.intersection(*names) if names else set()
    return max(common, key=lambda n: version_key(releases[0].machines.machines[n].version),
               default=None)


class Planner:
    """Plans configs along one path, memoized on :func:`config_key`. ``path`` is the
    releases after the VM's host, in order; ``releases`` every release a host may run
    (for the calendar). ``checks`` counts the configs really planned."""

    def __init__(self, path: Sequence[Release], releases: Sequence[Release]) -> None:
        if not path:
            raise UsageError("a plan needs at least one release to go to (--to)")
        self.path = list(path)
        self.lives: dict[str, MachineLife] = {
            life.name: life for life in calendar({r.id: r for r in [*releases, *path]}.values())}
        self.memo: dict[tuple[object, ...], ConfigPlan] = {}
        self.checks = 0

    def plan(self, config: VMConfig) -> ConfigPlan:
        key = config_key(config)
        found = self.memo.get(key)
        if found is None:
            with shared_realizations():
                found = self.memo[key] = self._plan(config)
        return found

    def _sides(self, config: VMConfig) -> list[Release]:
        """The VM's host, then the releases of the path still ahead of it: a VM already on
        a release of the path starts there (a fleet half-way through its upgrade)."""
        ids = [r.id for r in self.path]
        if config.release.id in ids:
            return self.path[ids.index(config.release.id):]
        return [config.release, *self.path]

    def _plan(self, config: VMConfig) -> ConfigPlan:
        self.checks += 1
        releases = self._sides(config)
        if len(releases) < 2:
            return self._done(config, releases, "none", "compatible", (), (), None,
                              ["already on the last release of the path"])
        machine = config.release.machines.resolve(config.machine, config.release.id)
        # the VM runs the versioned type its host resolved (an alias means another
        # version elsewhere): every later host is given that name, as libvirt keeps it
        config = replace(config, machine=machine.name)
        missing = tuple(r.id for r in releases[1:] if machine.name not in r.machines.machines)
        horizon = self._horizon(machine.name, releases, missing)
        if missing:
            return self._cold_boot(config, releases, missing, horizon)
        configs = [config, *(replace(config, release=r) for r in releases[1:])]
        res = check_chain(configs, back=True)
        steps = _steps(res, machine.name)
        if res.verdict == "compatible":
            return self._done(config, releases, "none", res.verdict, steps, (), horizon,
                              ["live-migrates both ways with no change"])
        fixes = chain_fixes(res)
        pins = tuple(f for f in fixes if f.carried)
        if pins and all(f.carried and f.fix.verified for f in fixes):
            args = " ".join(a for p in pins for a in p.fix.args)
            return self._done(config, releases, "pin", res.verdict, steps, pins, horizon,
                              [f"start it on every later host with {args} (verified)"])
        why = next((f.fix.why for f in fixes if f.fix.why), None) or \
            f"the chain is {res.verdict} and check has no verified fix"
        return self._done(config, releases, "cannot-move", res.verdict, steps, (), horizon,
                          [f"cannot move: {why}"])

    def _cold_boot(self, config: VMConfig, releases: list[Release], missing: tuple[str, ...],
                   horizon: Horizon) -> ConfigPlan:
        family = config.release.machines.machines[config.machine].family
        oldest = oldest_surviving(self.lives.values(), family, [_version(r) for r in releases])
        target = newest_common(releases, family)
        after = None
        if target is not None:  # in every release: its own plan is no cold boot
            # memoized: the VMs of every older type of the family land on the same one
            after = self.plan(replace(config, machine=target))
        low = oldest.name if oldest is not None else target
        advice = [f"{config.machine} is gone in {missing[0]}: cold boot onto {low} or newer "
                  f"before that step" + (f" (newest all know: {target})" if target else "")]
        if target is None:
            advice = [f"{config.machine} is gone in {missing[0]} and no {family} machine "
                      "type is in every release of the path"]
        elif after is not None:
            advice.append(f"once on {target}: {after.advice[0]}")
        return self._done(config, releases, "cold-boot", "refused", (), (), horizon, advice,
                          ColdBoot(missing, low, target, after))

    def _horizon(self, machine: str, releases: list[Release],
                 missing: tuple[str, ...]) -> Horizon:
        life = self.lives.get(machine)
        gone = next((r.id for r in releases if life is not None and gone_in(life, _version(r))),
                    missing[0] if missing else None)
        if life is None:
            return Horizon(machine, None, None, None, None, gone)
        dep, rem = life.deprecated, life.removed
        return Horizon(machine, dep.version if dep else None, dep.how if dep else None,
                       rem.version if rem else None, rem.how if rem else None, gone)

    def _done(self, config: VMConfig, releases: list[Release], action: Action, verdict: str,
              steps: tuple[Step, ...], pins: tuple[HopFix, ...], horizon: Horizon | None,
              advice: list[str], cold: ColdBoot | None = None) -> ConfigPlan:
        if horizon is not None and horizon.removed and action != "cold-boot":
            when = "will be removed" if horizon.removed_how == "predicted" else "is removed"
            advice.append(f"{horizon.machine} {when} in QEMU {horizon.removed}"
                          + (f" (deprecated in {horizon.deprecated})"
                             if horizon.deprecated else ""))
        weak = [f"{s.source} -> {s.dest}" for s in steps if s.weak]
        if weak:
            advice.append(f"device state not compared on {', '.join(weak)} (a release there "
                          "has no captured state): those verdicts rest on properties alone")
        return ConfigPlan(action, config.release.id, config.machine,
                          tuple(r.id for r in releases), verdict, steps, pins, cold, horizon,
                          tuple(advice))


@dataclass
class Summary:
    """VMs counted by action, and the distinct configs behind each."""

    vms: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ACTIONS, 0))
    configs: dict[int, tuple[ConfigPlan, int]] = field(default_factory=dict)  # by id()

    def add(self, plan: ConfigPlan) -> None:
        self.vms[plan.action] += 1
        seen = self.configs.get(id(plan))
        self.configs[id(plan)] = (plan, 1 if seen is None else seen[1] + 1)

    @property
    def total(self) -> int:
        return sum(self.vms.values())

    def to_json(self) -> dict[str, object]:
        return {"vms": self.total, "configs": len(self.configs), "by_action": dict(self.vms)}
