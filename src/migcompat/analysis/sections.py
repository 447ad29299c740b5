"""Section-level rules for ``check``: what the source will send against what the destination
can load, from the two releases' schemas (never by running the migration).

For each section the source sends: the destination must have it (idstr and instance), accept
its version (reference §2.6), know every subsection the source's properties make it send,
and expect the same layout: the same fields with the same element sizes and counts, and the
same values in "equal" fields. Counts and sizes come from each side's own properties, which
is how a forgotten compat entry shows up as a layout difference.
"""

from __future__ import annotations

from collections.abc import Mapping

from migcompat.analysis.reasons import Reason
from migcompat.analysis.wire import describe, first_difference, tokens
from migcompat.errors import RuleError, StateError
from migcompat.model.vm import VM
from migcompat.vm.captured import CapturedPlan, max_length, plan_captured, probe_refusal_words
from migcompat.vm.live import Section, plan_sections
from migcompat.vmstate.rules import RuleContext
from migcompat.vmstate.schema import Amount, FromField, VMStateDescription

Shape = tuple[str, str, int, int]  # field, info, element size, count


def _amount(a: Amount | None, props: Mapping[str, object]) -> int | None:
    if a is None or isinstance(a, int):
        return a
    if isinstance(a, FromField):
        return None  # known only from the data; the loader checks it
    value = props.get(a.property)
    return value * a.multiply if isinstance(value, int) else None


def _shape(vmsd: VMStateDescription, version: int, props: Mapping[str, object]) -> list[Shape]:
    shape: list[Shape] = []
    for f in vmsd.fields:
        if f.version_id > version:
            continue
        count = _amount(f.count, props)
        size = -1 if f.struct is not None else (_amount(f.element_size(), props) or -1)
        shape.append((f.name, f.info, size, 1 if f.count is None else (count or -1)))
        if f.struct is not None:
            sv = f.struct_version if f.struct_version is not None else f.struct.version_id
            shape += [(f"{f.name}.{n}", i, s, c) for n, i, s, c in _shape(f.struct, sv, props)]
    return shape


def _locals(vmsd: VMStateDescription, props: Mapping[str, object]) -> dict[str, object]:
    out: dict[str, object] = {}
    for f in vmsd.fields:
        if f.local is not None:
            out[f.name] = f.local if isinstance(f.local, int) else props.get(f.local.property)
    return out


def _needed(vmsd: VMStateDescription, props: Mapping[str, object]) -> list[VMStateDescription]:
    ctx = RuleContext(props, {})
    needed = []
    for sub in vmsd.subsections:
        try:
            if sub.needed.evaluate(ctx):
                needed.append(sub)
        except RuleError:
            needed.append(sub)  # depends on state values: assume it may be sent
    return needed


def compare_section(src: Section, dst: Section) -> list[Reason]:
    sv, dv = src.vmsd, dst.vmsd
    name = src.idstr
    if sv.version_id > dv.version_id:
        return [Reason("section-version", f"savevm: unsupported version {sv.version_id} for "
                       f"'{name}' v{dv.version_id}", section=name)]
    if sv.version_id < dv.minimum_version_id:
        return [Reason("section-version", f"{dv.name}: incoming version_id {sv.version_id} is "
                       f"too old for local minimum version_id  {dv.minimum_version_id}",
                       section=name)]
    compare = _compare_wire if src.captured and dst.captured else _compare_layout
    reasons = compare(name, sv, dv, sv.version_id, src.properties, dst.properties)
    if src.captured and dst.captured:
        reasons += struct_versions(name, sv, dv)
    for sub in _needed(sv, src.properties):
        mine = dv.subsection(sub.name)
        if mine is None:
            reasons.append(Reason("unknown-subsection",
                                  f"the source sends subsection '{sub.name}', which the "
                                  "destination does not know (the load fails with ENOENT)",
                                  section=name))
        elif sub.version_id > mine.version_id or sub.version_id < mine.minimum_version_id:
            reasons.append(Reason("subsection-version",
                                  f"{sub.name}: incoming version_id {sub.version_id} is not "
                                  f"within {mine.minimum_version_id}..{mine.version_id}",
                                  section=name))
        elif sub.complete and mine.complete:  # a layout known from both sides
            reasons += compare(name, sub, mine, sub.version_id, src.properties,
                                       dst.properties)
    return reasons


def _structs(vmsd: VMStateDescription, path: str = "") -> dict[str, tuple[str, int]]:
    """Every nested struct of a described section (and its subsections), by field path:
    its vmsd name and version."""
    out: dict[str, tuple[str, int]] = {}
    for f in vmsd.fields:
        if f.struct is not None:
            at = f"{path}.{f.name}" if path else f.name
            out[at] = (f.struct.name, f.struct.version_id)
            out.update(_structs(f.struct, at))
    for sub in vmsd.subsections:
        out.update(_structs(sub, f"{path}[{sub.name}]"))
    return out


def struct_versions(name: str, sv: VMStateDescription, dv: VMStateDescription
                    ) -> list[Reason]:
    """A nested struct the destination describes at a newer version than the source sends
    (esp v6 in 7.2, v7 in 10.0). Its loader then reads the older version by field tests
    that no stream description shows: the bytes it expects cannot be told from either
    side's, and real QEMU 10.0 does fail on 7.2's esp ("Missing section footer"), although
    both describe 116 bytes. Predicted as failing: the cost is a false "incompatible" where
    the newer loader happens to cope (7.2 reads 5.2's esp v4), never a false "compatible".
    A destination at an older nested version reads its own fields (10.0's esp loads into
    7.2): the byte layouts, compared above, decide."""
    theirs = _structs(dv)
    out = []
    for at, (vmsd, version) in _structs(sv).items():
        other = theirs.get(at)
        if other is not None and other[0] == vmsd and other[1] > version:
            out.append(Reason("struct-version", f"{name}: the nested {vmsd} ({at}) is "
                              f"version {version} on the source and {other[1]} on the "
                              "destination, whose loader picks the fields of an older version "
                              "by tests the stream descriptions do not show", section=name))
    return out


def _compare_layout(name: str, sv: VMStateDescription, dv: VMStateDescription, version: int,
                    sp: Mapping[str, object], dp: Mapping[str, object]) -> list[Reason]:
    a, b = _shape(sv, version, sp), _shape(dv, version, dp)
    for x, y in zip(a, b, strict=False):
        if x != y:
            return [Reason("layout-differs",
                           f"{sv.name}: the source sends {x[0]} as {_fmt(x)}, the destination "
                           f"expects {y[0]} as {_fmt(y)}", section=name,
                           detail={"field": x[0]})]
    if len(a) != len(b):
        return [Reason("layout-differs", f"{sv.name}: the source sends {len(a)} fields, the "
                       f"destination expects {len(b)}", section=name)]
    la, lb = _locals(sv, sp), _locals(dv, dp)
    for field, value in la.items():
        if field in lb and lb[field] != value:
            return [Reason("equal-check", f"{sv.name}:{field}: the destination requires "
                           f"{lb[field]}, the source sends {value}", section=name,
                           detail={"field": field})]
    return []


def _compare_wire(name: str, sv: VMStateDescription, dv: VMStateDescription, version: int,
                  sp: Mapping[str, object], dp: Mapping[str, object]) -> list[Reason]:
    """Captured schemas of two builds: compare the bytes each reads (analysis/wire.py)."""
    diff = first_difference(tokens(sv, version), tokens(dv, version))
    if diff is None:
        return []
    mine, theirs = diff
    at = mine or theirs
    return [Reason("layout-differs", f"{sv.name}: the source sends {describe(mine)}, the "
                   f"destination reads {describe(theirs)}", section=name,
                   detail={"field": at.field if at is not None else ""})]


def _fmt(shape: Shape) -> str:
    _, info, size, count = shape
    what = info if size < 0 else f"{info} of {size} bytes"
    return what if count == 1 else f"{count} x {what}"


def has_state_schemas(vm: VM) -> bool:
    return bool(vm.release.vmstate) or vm.release.has_capture


def section_rule(src: VM, dst: VM) -> list[Reason]:
    missing = [vm.release.id for vm in (src, dst) if not has_state_schemas(vm)]
    if missing:  # nothing to compare with: say so, never call every section unknown
        return [Reason("state-not-compared", f"device state not compared: release "
                       f"{' and '.join(dict.fromkeys(missing))} has no device-state schemas "
                       "(neither vmstate nor captured state)")]
    try:
        mine, theirs = plan_sections(src), plan_sections(dst)
    except (KeyError, StateError) as exc:
        return [Reason("schema-missing", f"cannot plan device state: {exc}")]
    by_key = {(s.idstr, s.instance_id): s for s in theirs}
    reasons: list[Reason] = []
    for s in mine:
        other = by_key.get((s.idstr, s.instance_id))
        if other is None:
            reasons.append(Reason(
                "unknown-section",
                f"Unknown savevm section or instance '{s.idstr}' {s.instance_id}. Make sure "
                "that your current VM setup matches your saved VM setup, including any "
                "hotplugged devices", section=s.idstr))
            continue
        reasons += compare_section(s, other)
    return reasons


def captured_rule(src: VM, dst: VM) -> list[Reason]:
    """For real releases: what the captures cannot tell, and the RAM blocks (QEMU checks each
    incoming block against its own: unknown, or a size the block cannot take)."""
    mine, theirs = plan_captured(src), plan_captured(dst)
    reasons = [Reason("state-not-captured", f"{message}: its sections are not compared",
                      device=path or None)
               for plan in (mine, theirs) if plan is not None for path, message in plan.gaps]
    if mine is not None:  # the source's QEMU refuses to start the migration at all
        reasons += [Reason("migration-blocked", f"{path}: {words}", device=path)
                    for path, words in mine.blocked]
    if mine is not None and theirs is not None:
        reasons += cannot_start(src, dst, mine, theirs)
    if mine is None or theirs is None or any(p.gaps for p in (mine, theirs)):
        return reasons
    local = dict(theirs.ram)
    for name, size in mine.ram:
        if name in mine.backend_ram:  # check.compare_backends compares them by device
            continue
        if name not in local:
            reasons.append(Reason("unknown-ramblock",
                                  f'Unknown ramblock "{name}", cannot accept migration',
                                  section="ram"))
            continue
        limit = max_length(name, local[name])
        if size != local[name] and (limit is None or size > limit):
            what = (f"Size mismatch: {name}: 0x{size:x} != 0x{local[name]:x}" if limit is None
                    else f"Size too large: {name}: 0x{size:x} > 0x{limit:x}")
            reasons.append(Reason("ramblock-size", f"{what}: Invalid argument", section="ram"))
    return reasons


STARTED = ("ok", "blocked", "crashes")


def cannot_start(src: VM, dst: VM, mine: CapturedPlan, theirs: CapturedPlan) -> list[Reason]:
    """A device type one build started in the device probe and the other refused on the
    same machine family: that side's QEMU will not start the VM (QEMU's words). A type
    neither started says nothing (the probe gave it too little to start with)."""
    out = []
    for path, (dtype, there) in theirs.probed.items():
        here = mine.probed.get(path)
        if here is None or here[0] != dtype:
            continue
        for side, vm, a, b in (("destination", dst, here[1], there),
                               ("source", src, there, here[1])):
            if b.status == "cannot-start" and a.status in STARTED:
                words = probe_refusal_words(vm.release.id, dtype, vm.machine.family, b.words)
                out.append(Reason("cannot-start", f"the {side}'s {words}", device=path))
    return out


SECTION_RULES = (section_rule, captured_rule)
