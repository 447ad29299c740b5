"""The fix: the smallest set of pins that makes a migration compatible, in the order an
operator would try them, each verified by running ``check`` again with it applied.

1. A destination ``-global DRIVER.PROP=VALUE`` for each property whose value differs: the
   destination keeps what the source has (what a forgotten compat entry would have done);
   where the destination's own ``-device`` option sets the property, that option is
   edited instead, since a global would lose to it.
2. A machine-type pin: a destination started with the source's versioned machine type
   (the alias ``q35`` means another version on each release); or, when the destination
   does not know the source's type, the newest machine type both releases know, which
   needs the VM to be cold-booted onto it first.
3. No safe pin, with the reason, when neither helps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

from migcompat.analysis.check import CheckResult, check
from migcompat.analysis.reasons import Reason
from migcompat.model.devspec import DeviceSpec, parse_device
from migcompat.model.globals import GlobalProperty, parse_global
from migcompat.model.machines import version_key
from migcompat.model.props import format_value
from migcompat.model.release import Release
from migcompat.model.vm import VM, VMConfig

Side = Literal["source", "destination"]
Kind = Literal["global", "device", "machine", "none"]


@dataclass(frozen=True)
class Fix:
    side: Side
    kind: Kind
    args: tuple[str, ...]  # QEMU's arguments for that side, e.g. ("-global", "pvpanic.events=3")
    verified: bool  # check says compatible with it applied (both ways when asked)
    needs_cold_boot: bool  # the VM must be restarted on another machine type first
    why: str
    verdict: str = ""  # check's verdict with the fix applied

    def to_json(self) -> dict[str, object]:
        return {"side": self.side, "kind": self.kind, "args": list(self.args),
                "verified": self.verified, "needs_cold_boot": self.needs_cold_boot,
                "why": self.why, "verdict": self.verdict}


@dataclass(frozen=True)
class _Pin:
    """One property the destination should give the source's value: a ``-global`` for a
    value it takes from its defaults, or an edit of its own ``-device`` option when the
    destination's command line sets the property itself (a global would lose to it)."""

    driver: str
    prop: str
    value: str
    device: int | None = None  # the index in the destination's devices to edit


def _pin(r: Reason, vm: VM) -> _Pin | None:
    """The pin for a differing property, on the device type a user would name (a proxy's
    aliased property on the proxy)."""
    if r.code not in ("property-differs", "board-global-differs") or r.device is None \
            or r.property is None:
        return None
    source = r.detail.get("source")
    if not isinstance(source, dict) or "value" not in source:
        return None
    if r.code == "board-global-differs":  # the board made it: only a -global reaches it
        board = next((o for o in vm.board if o.path == r.device), None)
        if board is None:
            return None
        eff = board.lookup(r.property)
        return _Pin(board.type, r.property,
                    format_value(eff.prop.kind if eff is not None else "", source["value"]))
    obj = vm.find(r.device)
    if obj is None:
        return None
    driver, prop = obj.type, r.property
    top = vm.find(r.device.split("/", 1)[0])
    if top is not None and top.child is obj and prop in top.aliases:
        driver = top.type
    eff = obj.lookup(prop)
    value = format_value(eff.prop.kind if eff is not None else "", source["value"])
    if eff is not None and top is not None and any(lay.source == "device"
                                                    for lay in eff.provenance):
        # The board's own devices come first in vm.devices and have no -device option.
        index = vm.devices.index(top) - (len(vm.devices) - len(vm.config.devices))
        if index >= 0:
            return _Pin(top.type, prop, value, index)
    return _Pin(driver, prop, value)


def _edited(spec: DeviceSpec, pins: Sequence[_Pin]) -> DeviceSpec:
    values = {p.prop: p.value for p in pins}
    options = tuple((k, values.pop(k, v)) for k, v in spec.options)
    return replace(spec, options=options + tuple(values.items()))


def _with(config: VMConfig, pins: Sequence[_Pin] = (), machine: str | None = None) -> VMConfig:
    devices = [_edited(spec, [p for p in pins if p.device == n])
               for n, spec in enumerate(config.devices)]
    globals_ = [GlobalProperty(p.driver, p.prop, p.value) for p in pins if p.device is None]
    return replace(config, globals=[*config.globals, *globals_], devices=devices,
                   machine=machine or config.machine)


def _args(config: VMConfig, pins: Sequence[_Pin]) -> tuple[str, ...]:
    """The destination's arguments that change: its edited -device options, then globals."""
    edited = sorted({p.device for p in pins if p.device is not None})
    devices = [a for n in edited for a in ("-device", _edited(config.devices[n], [
        p for p in pins if p.device == n]).text())]
    return (*devices, *(a for p in pins if p.device is None
                        for a in ("-global", f"{p.driver}.{p.prop}={p.value}")))


def _ok(results: Sequence[CheckResult]) -> tuple[bool, str]:
    worst = max((r.verdict for r in results),
                key=("compatible", "guest-visible", "incompatible", "refused").index)
    return worst == "compatible", worst


def _property_fix(src: VMConfig, dst: VMConfig, res: CheckResult,
                  both: bool) -> Fix | None:
    assert res.dst_vm is not None
    found = [p for r in res.reasons if r.category != "note"
             if (p := _pin(r, res.dst_vm)) is not None]
    pins = list({(p.device, p.driver, p.prop): p for p in found}.values())
    if not pins:
        return None

    def verify(chosen: list[_Pin]) -> tuple[bool, str]:
        pinned = _with(dst, chosen)
        results = [check(src, pinned)] + ([check(pinned, src)] if both else [])
        return _ok(results)

    ok, verdict = verify(pins)
    if ok:  # the smallest set: leave out each pin that is not needed
        for p in list(pins):
            rest = [q for q in pins if q is not p]
            if rest and verify(rest)[0]:
                pins = rest
    edits = any(p.device is not None for p in pins)
    why = ("the destination's own -device options take the source's values" if edits
           else "the destination keeps the source's values")
    return Fix("destination", "device" if edits else "global", _args(dst, pins), ok, False,
               why, verdict)


def _newest_common(a: Release, b: Release, family: str) -> str | None:
    common = [n for n in a.machines.names() if b.machines.machines.get(n) is not None
              and a.machines.machines[n].family == family and a.machines.machines[n].versioned]
    return max(common, key=lambda n: version_key(a.machines.machines[n].version), default=None)


def _machine_fix(src: VMConfig, dst: VMConfig, res: CheckResult, both: bool) -> Fix | None:
    codes = {r.code for r in res.breaking()}
    if "machine-mismatch" in codes and res.src_vm is not None:
        name = res.src_vm.machine.name  # the versioned type behind the source's alias
        pinned = _with(dst, machine=name)
        ok, verdict = _ok([check(src, pinned)] + ([check(pinned, src)] if both else []))
        return Fix("destination", "machine", ("-machine", name), ok, False,
                   f"the destination runs the source's machine type {name}", verdict)
    unknown = [r for r in res.breaking() if r.code == "unknown-machine"]
    if unknown and res.src_vm is not None:
        family = res.src_vm.machine.family
        newest = _newest_common(src.release, dst.release, family)
        if newest is None:
            return Fix("source", "none", (), False, False, f"{dst.release.id} has no machine "
                       f"type of the {family} family that {src.release.id} knows")
        a, b = _with(src, machine=newest), _with(dst, machine=newest)
        ok, verdict = _ok([check(a, b)] + ([check(b, a)] if both else []))
        return Fix("source", "none", ("-machine", newest), ok, True,
                   f"no safe pin: {dst.release.id} does not know {res.src_vm.machine.name}; "
                   f"the newest machine type both know is {newest}: cold boot the VM onto it "
                   "first", verdict)
    return None


def propose(src: VMConfig, dst: VMConfig, res: CheckResult, both: bool = False) -> list[Fix]:
    """The fixes for a result that is not compatible (none when it is)."""
    if res.verdict == "compatible":
        return []
    machine = _machine_fix(src, dst, res, both)
    if machine is not None:
        return [machine]
    if res.refused:
        why = "; ".join(r.message for r in res.breaking())
        return [Fix("source", "none", (), False, False, f"no safe pin: {why}")]
    found = _property_fix(src, dst, res, both)
    if found is not None:
        return [found]
    codes = ", ".join(dict.fromkeys(r.code for r in res.breaking())) or "guest-visible"
    return [Fix("destination", "none", (), False, False,
                f"no safe pin: no property or machine pin removes {codes}")]


def fixes_for(src: VMConfig, dst: VMConfig, results: list[CheckResult]) -> list[Fix]:
    """The fixes of the first direction that needs one, verified both ways when both were
    asked; for the way back, the sides are named as the user named them."""
    both = len(results) > 1
    if results[0].verdict != "compatible":
        return propose(src, dst, results[0], both)
    if both and results[1].verdict != "compatible":
        flip: dict[Side, Side] = {"source": "destination", "destination": "source"}
        return [replace(f, side=flip[f.side]) for f in propose(dst, src, results[1], both)]
    return []


def _edited_index(devices: Sequence[DeviceSpec], edited: DeviceSpec) -> int | None:
    """Which of ``devices`` ``edited`` is an edit of (``_edited`` keeps the driver, id, bus
    and the options' order, adding new ones at the end); None unless exactly one is."""
    keys = [k for k, _ in edited.options]
    found = [n for n, d in enumerate(devices)
             if (d.driver, d.id, d.bus) == (edited.driver, edited.id, edited.bus)
             and [k for k, _ in d.options] == keys[:len(d.options)]]
    return found[0] if len(found) == 1 else None


def applied(config: VMConfig, fix: Fix) -> VMConfig | None:
    """``config`` with ``fix``'s arguments added, as an operator adds them to that side's
    command line; None when the fix has nothing to apply (``none``) or an edited
    ``-device`` is not one of ``config``'s devices. A chain carries a destination's pin
    on to every later hop this way (analysis/chain.py)."""
    if fix.kind == "none":
        return None
    if fix.kind == "machine":
        return replace(config, machine=fix.args[1])
    devices, globals_ = list(config.devices), list(config.globals)
    for flag, value in zip(fix.args[::2], fix.args[1::2], strict=True):
        if flag == "-global":
            globals_.append(parse_global(value))
            continue
        spec = parse_device(value)
        index = _edited_index(devices, spec)
        if index is None:
            return None
        devices[index] = spec
    return replace(config, devices=devices, globals=globals_)
