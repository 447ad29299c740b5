"""``check``: predict whether a migration from one VM to another will work, without moving it.

The rules (docs/check.md states them for users):
- both sides must know the machine type, and resolve it to the same name;
- every device the source has must exist on the destination with the same type
  (an extra device on the destination is fine: QEMU leaves it in its reset state);
- a property both sides have must have the same effective value if it matters: it changes
  the state layout or what the guest sees (the catalog's ``guest_visible``; when a type
  states nothing, every property counts);
- a property only one side has is not a break by itself (newer releases add properties and
  compat entries pin them on old machine types). It is one when the catalog lists it as
  guest-visible and nothing pinned it: its value came from the class default or from
  realize, not from a compat entry, sugar, a global or a device option;
- the device-state sections the source will send must be loadable by the destination
  (see ``analysis.sections``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Literal

from migcompat.analysis.reasons import Category
from migcompat.analysis.reasons import Reason as Reason  # re-exported: callers import it here
from migcompat.analysis.sections import SECTION_RULES
from migcompat.errors import (
    DeviceError,
    GlobalPropertyError,
    MachineError,
    MigcompatError,
    UsageError,
)
from migcompat.model.machine_options import HOST_ONLY
from migcompat.model.props import format_value
from migcompat.model.vm import VM, DeviceObject, Effective, VMConfig, board_devices, realize_vm

PINNED = frozenset({"compat", "sugar", "global", "device"})
Verdict = Literal["compatible", "guest-visible", "incompatible", "refused"]
VERDICTS: tuple[Verdict, ...] = ("compatible", "guest-visible", "incompatible", "refused")
# Reasons that stop the migration before a byte moves (QEMU refuses to start it).
REFUSING = frozenset({"unknown-machine", "unknown-device", "cannot-start",
                      "migration-blocked"})


@dataclass
class CheckResult:
    source: VMConfig
    dest: VMConfig
    reasons: list[Reason]
    src_vm: VM | None = None
    dst_vm: VM | None = None

    @property
    def loads(self) -> bool:
        """The prediction of what the real destination does with the stream: it loads
        unless a finding is ``breaking`` (or the migration never starts)."""
        return not any(r.breaking for r in self.reasons)

    @property
    def compatible(self) -> bool:
        """``loads``, and nothing blocks the move (the key JSON has always had)."""
        return self.loads

    @property
    def refused(self) -> bool:
        """The migration never starts: a side cannot start the VM (an unknown machine type
        or device type), or the source refuses to migrate it (a blocker)."""
        return self.src_vm is None or self.dst_vm is None or any(
            r.code in REFUSING and r.breaking for r in self.reasons)

    @property
    def verdict(self) -> Verdict:
        """``refused``, ``incompatible`` (it does not load), ``guest-visible`` (it loads,
        but the guest sees different hardware) or ``compatible``."""
        if self.refused:
            return "refused"
        if not self.loads:
            return "incompatible"
        if any(r.category == "guest-visible" for r in self.reasons):
            return "guest-visible"
        return "compatible"

    def breaking(self) -> list[Reason]:
        return [r for r in self.reasons if r.breaking]

    def of(self, category: Category) -> list[Reason]:
        return [r for r in self.reasons if r.category == category]

    def fails(self, fail_on: Category = "breaking") -> bool:
        """Whether the verdict is a failure (exit 1) for a caller that fails on
        ``fail_on``: ``breaking`` (the default), or also ``guest-visible``."""
        return self.verdict in ("refused", "incompatible") or (
            fail_on == "guest-visible" and self.verdict == "guest-visible")


SectionRule = Callable[[VM, VM], list[Reason]]


def _unknown_devices(config: VMConfig) -> list[str]:
    types = config.release.types
    return [d.driver for d in config.devices
            if d.driver not in types or not types.is_a(d.driver, "device")]


# Realized VMs shared by the checks of one plan (analysis/plan.py): a chain there checks
# each side two to four times (the way there, the way back, each fix verified), and
# realizing was a third of the time. Off unless asked: a VM is only read by the rules.
_SHARED: ContextVar[dict[tuple[object, ...], VM | DeviceError | GlobalPropertyError] | None] = \
    ContextVar("shared_realizations", default=None)


@contextlib.contextmanager
def shared_realizations() -> Iterator[None]:
    """Within the block, ``check`` realizes each distinct VM config once."""
    token = _SHARED.set({})
    try:
        yield
    finally:
        _SHARED.reset(token)


def _key(config: VMConfig) -> tuple[object, ...]:
    return (id(config.release), config.machine, tuple(config.machine_options),
            tuple(config.devices), tuple(config.globals), tuple(config.objects),
            config.smp, config.mem)


def _realize_shared(config: VMConfig) -> VM | DeviceError | GlobalPropertyError:
    shared = _SHARED.get()
    if shared is None:
        try:
            return realize_vm(config)
        except (DeviceError, GlobalPropertyError) as exc:
            return exc
    key = _key(config)
    found = shared.get(key)
    if found is None:
        try:
            found = realize_vm(config)
        except (DeviceError, GlobalPropertyError) as exc:
            found = exc
        shared[key] = found
    return found


def _realize(config: VMConfig, side: str, reasons: list[Reason]
             ) -> VM | DeviceError | GlobalPropertyError | None:
    """The side's VM; None when it cannot start for a reason now in ``reasons``; or the
    error its configuration gave, which is the caller's to judge."""
    rel = config.release
    unknown = _unknown_devices(config)
    if unknown:
        for driver in unknown:
            reasons.append(Reason("unknown-device",
                                  f"{side} release {rel.id} has no device type '{driver}'",
                                  device=driver))
        return None
    try:
        return _realize_shared(config)
    except MachineError:
        reasons.append(Reason(
            "unknown-machine",
            f"{side} release {rel.id} does not know machine type '{config.machine}' "
            f"(known: {', '.join(rel.machines.names())})"))
        return None


def _started(outcome: VM | DeviceError | GlobalPropertyError | None, side: str,
             release: str, reasons: list[Reason]) -> VM | None:
    if isinstance(outcome, DeviceError | GlobalPropertyError):
        reasons.append(Reason("cannot-start", f"the {side}'s QEMU {release} refuses the "
                              f"configuration: {outcome}"))
        return None
    return outcome


def check(source: VMConfig, dest: VMConfig,
          section_rules: tuple[SectionRule, ...] = SECTION_RULES) -> CheckResult:
    """Compare two VM configurations; raises UsageError for a device neither side knows.

    The device-state rules (``analysis.sections``) run unless ``section_rules=()`` asks
    for the configuration and property rules alone."""
    both = set(_unknown_devices(source)) & set(_unknown_devices(dest))
    if both:
        raise UsageError(f"device type '{sorted(both)[0]}' is known to neither "
                         f"{source.release.id} nor {dest.release.id}")
    reasons: list[Reason] = []
    a = _realize(source, "source", reasons)
    b = _realize(dest, "destination", reasons)
    if isinstance(a, MigcompatError) and isinstance(b, MigcompatError):
        raise a  # neither side starts it: the configuration itself is wrong (bad input)
    src = _started(a, "source", source.release.id, reasons)
    dst = _started(b, "destination", dest.release.id, reasons)
    result = CheckResult(source, dest, reasons, src, dst)
    if src is None or dst is None:
        return result
    if src.machine.name != dst.machine.name:
        reasons.append(Reason(
            "machine-mismatch",
            f"Machine type received is '{src.machine.name}' and local is '{dst.machine.name}'"))
        return result
    if not src.machine.versioned and src.release.id != dst.release.id:
        # QEMU keeps an unversioned board's hardware only within one release: comparing its
        # properties would list every change as if a compat table had been forgotten.
        reasons.append(Reason(
            "unversioned-machine",
            f"{src.machine.name} is not a versioned machine type: QEMU does not keep its "
            f"hardware the same between releases ({src.release.id} -> {dst.release.id}), so "
            "migrating it across them is unsupported"))
        return result
    reasons.extend(compare_machine_options(src, dst))
    reasons.extend(compare_devices(src, dst))
    reasons.extend(compare_board(src, dst))
    reasons.extend(compare_backends(src, dst))
    for rule in section_rules:
        reasons.extend(rule(src, dst))
    return result


def _objects(vm: VM) -> dict[str, DeviceObject]:
    return {o.path: o for o in vm.all_objects()}


def compare_devices(src: VM, dst: VM) -> list[Reason]:
    reasons: list[Reason] = []
    theirs = _objects(dst)
    for path, obj in _objects(src).items():
        other = theirs.get(path)
        if other is None:
            reasons.append(Reason("device-missing",
                                  f"the destination has no device '{path}' ({obj.type}); "
                                  "its state would be an unknown section", device=path))
            continue
        if other.type != obj.type:
            reasons.append(Reason("device-type-differs",
                                  f"device '{path}' is {obj.type} on the source and "
                                  f"{other.type} on the destination", device=path))
            continue
        reasons.extend(compare_properties(path, obj, other, src, dst))
    mine = _objects(src)
    for path, obj in theirs.items():
        if path not in mine:
            reasons.append(Reason("device-extra",
                                  f"the destination has an extra device '{path}' ({obj.type}); "
                                  "it keeps its reset state", device=path))
    return reasons


def compare_machine_options(src: VM, dst: VM) -> list[Reason]:
    """Both sides' machine options must agree where they shape the board (an option not
    given is the machine type's default): vmport=off drops vmmouse's section, sata=off the
    AHCI's... The captures ran with the defaults, so a board with options is also not
    compared section by section."""
    reasons = []
    for name in sorted(set(src.machine_options) | set(dst.machine_options)):
        a, b = src.machine_options.get(name), dst.machine_options.get(name)
        if a == b:
            continue
        shown = [("default" if v is None else format_value("", v)) for v in (a, b)]
        if shown[0] == shown[1]:
            # A release without the family's option list keeps values as written ("off"),
            # the other typed them (False): the same option as QEMU reads it.
            continue
        reasons.append(Reason(
            "machine-option-differs", f"machine option {name} is {shown[0]} on the source "
            f"and {shown[1]} on the destination", property=name,
            category="note" if name in HOST_ONLY else "breaking"))
    board = [n for n in src.machine_options if n not in HOST_ONLY]
    if board and src.release.has_capture:
        reasons.append(Reason("state-not-captured", f"the board of {src.machine.name} was "
                              f"captured with its default options, not with "
                              f"{', '.join(board)}: its own sections are compared as "
                              "captured"))
    return reasons


def compare_backends(src: VM, dst: VM) -> list[Reason]:
    """A mapped backend's RAM travels as a RAM block: the destination's device must map
    one of the same size (QEMU: an unknown block, or "Size mismatch")."""
    reasons = []
    theirs = dst.mapped_backends()
    for (path, prop), mine in src.mapped_backends().items():
        other = theirs.get((path, prop))
        if other is None:
            reasons.append(Reason("unknown-ramblock", f"{path}.{prop}: the source maps "
                                  f"memory backend '{mine.id}', the destination none: its RAM "
                                  "block is unknown there (Unknown ramblock ..., cannot accept "
                                  "migration)", device=path, property=prop, section="ram"))
        elif other.id != mine.id:  # QEMU names the RAM block after the backend's id
            reasons.append(Reason("unknown-ramblock", f"{path}.{prop}: the source maps "
                                  f"memory backend '{mine.id}', the destination "
                                  f"'{other.id}' (Unknown ramblock \"{mine.id}\", cannot "
                                  "accept migration)", device=path, property=prop,
                                  section="ram"))
        elif other.size != mine.size:
            reasons.append(Reason("ramblock-size", f"{path}.{prop}: memory backend "
                                  f"'{mine.id}' is 0x{mine.size or 0:x} bytes on the source, "
                                  f"'{other.id}' 0x{other.size or 0:x} on the destination "
                                  "(Size mismatch: Invalid argument)", device=path,
                                  property=prop, section="ram"))
    return reasons


def _matters(vm: VM, obj: DeviceObject, name: str, unstated: bool = True) -> bool:
    """Does the property change the state layout or what the guest sees? The catalog says
    (``guest_visible``); ``unstated`` is the answer when the type says nothing."""
    if not obj.behind_express_port and name in vm.release.types.express_only(obj.type):
        return False  # it shapes a PCIe capability the device has only behind a port
    visible = vm.release.types.guest_visible(obj.type)
    return unstated if visible is None else name in visible


def _category(breaking: bool, loads: bool = False) -> Category:
    # A difference that matters breaks the move, unless the catalog says QEMU's loader
    # does not check it (``guest_only``): the guest then sees other hardware.
    if breaking:
        return "guest-visible" if loads else "breaking"
    return "note"


def _loads_anyway(src: VM, dst: VM, obj: DeviceObject, name: str) -> bool:
    return name in src.release.types.guest_only(obj.type) \
        and name in dst.release.types.guest_only(obj.type)


def compare_board(src: VM, dst: VM) -> list[Reason]:
    """The devices the board creates (hpet, the RTC...) differ only where a user's -global
    set them on a side: the compat lists give both sides the machine type's values. Such a
    difference breaks unless the catalog says the property does not matter, as for a
    -device's: whether the destination checks the value is its build's business (10.0
    refuses pc-q35-7.2's hpet.timers=4 into 3, "hpet/num_timers must match"; 7.2 loads it),
    and the captured layouts are the same either way."""
    if not src.board and not dst.board:
        return []  # no -global on either side
    theirs = {obj.type: obj for obj in board_devices(dst)}
    reasons: list[Reason] = []
    for mine in board_devices(src):
        other = theirs.get(mine.type)
        if other is None:
            continue
        for name, ea in sorted(mine.props.items()):
            eb = other.props.get(name)
            if eb is None or ea.value == eb.value or not (_by_global(ea) or _by_global(eb)):
                continue
            breaking = _matters(src, mine, name) or _matters(dst, other, name)
            reasons.append(Reason(
                "board-global-differs",
                f"the board's {mine.type}.{name} is {format_value(ea.prop.kind, ea.value)} "
                f"on the source ({_decided(ea)}) and {format_value(eb.prop.kind, eb.value)} "
                f"on the destination ({_decided(eb)})",
                device=mine.path, property=name,
                category="breaking" if breaking else "guest-visible",
                detail={"source": {"value": ea.value, "provenance": _prov(ea)},
                        "destination": {"value": eb.value, "provenance": _prov(eb)}}))
    return reasons


def _by_global(eff: Effective) -> bool:
    return any(layer.source == "global" for layer in eff.provenance)


def _prov(eff: Effective) -> list[dict[str, Any]]:
    return [layer.to_json() for layer in eff.provenance]


def compare_properties(path: str, mine: DeviceObject, theirs: DeviceObject, src: VM,
                       dst: VM) -> list[Reason]:
    reasons: list[Reason] = []
    # Compare each object's own properties; a proxy's aliases are its child's, which is
    # compared as its own object.
    a, b = mine.props, theirs.props
    for name in sorted(set(a) | set(b)):
        if name in a and name in b:
            ea, eb = a[name], b[name]
            if ea.value == eb.value:
                continue
            breaking = _matters(src, mine, name) or _matters(dst, theirs, name)
            message = (f"{path}.{name} is {format_value(ea.prop.kind, ea.value)} on the "
                       f"source ({_decided(ea)}) and {format_value(eb.prop.kind, eb.value)} "
                       f"on the destination ({_decided(eb)})")
            detail: dict[str, Any] = {
                "source": {"value": ea.value, "provenance": _prov(ea)},
                "destination": {"value": eb.value, "provenance": _prov(eb)}}
            if not breaking and not (mine.behind_express_port or theirs.behind_express_port) \
                    and name in src.release.types.express_only(mine.type):
                message += (": no effect here (it shapes the PCIe capability, which "
                            f"{mine.type} has only behind a PCIe port)")
            same = _equivalent(ea, eb)
            if same is not None:
                # the catalog says both values give the same device: never a break
                group, why = same
                breaking = False
                message += ": equivalent values" + (f" ({why})" if why else "")
                detail["equivalent"] = {"values": list(group), "why": why}
            reasons.append(Reason("property-differs", message, device=path, property=name,
                                  category=_category(breaking, _loads_anyway(src, dst, mine,
                                                                             name)),
                                  detail=detail))
            continue
        side, vm, obj, eff = (("source", src, mine, a[name]) if name in a
                              else ("destination", dst, theirs, b[name]))
        pinned = eff.decided_by.source in PINNED
        # A new property is the normal case: it breaks only when it is known to matter.
        breaking = _matters(vm, obj, name, unstated=False) and not pinned
        how = f"pinned by {_decided(eff)}" if pinned else f"from {_decided(eff)}"
        reasons.append(Reason(
            "property-one-side",
            f"{path}.{name} exists only on the {side} "
            f"(= {format_value(eff.prop.kind, eff.value)}, {how})",
            device=path, property=name, category=_category(breaking),
            detail={side: {"value": eff.value, "provenance": _prov(eff)}}))
    return reasons


def _equivalent(ea: Effective, eb: Effective) -> tuple[tuple[Any, ...], str] | None:
    """The equivalence group (and its reason) either side's catalog declares for the two
    values (``equivalent`` in docs/catalog-format.md)."""
    for prop in (eb.prop, ea.prop):
        group = prop.equivalent_group(ea.value, eb.value)
        if group is not None:
            return group, prop.equivalent_why
    return None


def _decided(eff: Effective) -> str:
    layer = eff.decided_by
    text = layer.source
    if layer.table:
        text += f" {layer.table}"
    return text
