"""Lint: every machine type the old release knows must see, in the new one, what it saw there.

A violation is a finding that names the compat entry which restores the old value, written
as QEMU writes it (``{ "virtio-blk-device", "num-queues", "1" },``), and the table it goes in:
``hw_compat_X_Y`` where X.Y is the newest machine version affected, or ``pc_compat_X_Y`` for
PC-only types. The inferences made are listed in ``docs/lint.md``:

- the driver is the type that declares the property (QEMU's entries name it, and it reaches
  every type that inherits or aliases the property); when the types under it disagree, each
  affected type gets its own entry;
- the value is the one the old release had before realize, so "auto" stays "auto" when only
  its resolution changed; a value realize derives from a flagged property (virtio-blk
  ``vectors`` from ``num-queues``) is folded into that property's finding;
- a new boolean property that defaults to on, on a type that migrates state, is taken to be a
  feature bit: old machine types keep it off.

Each entry is verified: applied to the new release, it must give every affected machine type
its old value and change nothing else of that property.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace

from migcompat.analysis.defaults import SMPS, Outcome, type_defaults
from migcompat.analysis.diff import PropertyDiff, ReleaseDiff, Row
from migcompat.gctools import collector_paused
from migcompat.model.globals import GlobalProperty, entry_text
from migcompat.model.machines import CompatTable, MachineSet, MachineType, version_key
from migcompat.model.props import BOOL_KINDS, format_value
from migcompat.model.release import Release
from migcompat.vmstate.findings import VmstateFinding

SEVERITIES = ("error", "warning", "note")
KINDS = {
    "changed-default": "a machine type both releases know gets another value in the new one",
    "new-property": "a property the new release adds to a type that migrates state",
    "removed-property": "a property the new release no longer has (globals naming it fail)",
}  # and the vmstate-* kinds of vmstate/findings.py
PC_PATHS = ("hw/i386/", "target/i386/", "hw/isa/lpc_ich9.c", "hw/acpi/ich9")


@dataclass
class Finding:
    kind: str
    driver: str
    property: str
    old_value: str | None
    new_value: str | None
    severity: str
    machines: list[str]
    table: str = ""
    fix: str = ""
    verified: bool = False
    types: list[str] = field(default_factory=list)  # the types a user creates that see it
    derived: list[dict[str, object]] = field(default_factory=list)
    # Every entry of the fix, newest table first (``table``/``fix`` are the first): a change
    # that moved an entry between tables needs one per table to put each machine type back.
    entries: list[GlobalProperty] = field(default_factory=list)
    file: str = ""
    line: int = 0
    message: str = ""

    @builtins.property
    def entry(self) -> GlobalProperty | None:
        if not self.fix or self.old_value is None:
            return None
        return GlobalProperty(self.driver, self.property, self.old_value, source="compat",
                              table=self.table)


def fix_entries(findings: Iterable[Finding]) -> dict[str, list[GlobalProperty]]:
    """Every entry the findings' fixes need, by table, each once."""
    by_table: dict[str, list[GlobalProperty]] = {}
    for f in findings:
        for entry in f.entries or ([f.entry] if f.entry else []):
            if entry is not None and entry.table:
                listed = by_table.setdefault(entry.table, [])
                if all(entry_text(e) != entry_text(entry) for e in listed):
                    listed.append(entry)
    return by_table


def vmstate_findings(found: Iterable[VmstateFinding]) -> list[Finding]:
    """Schema findings (``vmstate/compare.py``) as lint findings: the section is the driver,
    the field path the property; there is no compat entry to write for them."""
    return [Finding(v.kind, v.section, v.field, None if v.old is None else str(v.old),
                    None if v.new is None else str(v.new), v.severity, [], message=v.message)
            for v in found]


def severity_at_least(severity: str, threshold: str) -> bool:
    return SEVERITIES.index(severity) <= SEVERITIES.index(threshold)


def table_name(release: Release, driver: str, version: str, file: str) -> str:
    """``pc_compat_X_Y`` for a PC-only driver, else ``hw_compat_X_Y``."""
    suffix = version.replace(".", "_")
    return f"{'pc' if _pc_only(release, driver, file) else 'hw'}_compat_{suffix}"


def _pc_only(release: Release, driver: str, file: str) -> bool:
    if file.startswith(PC_PATHS):
        return True
    info = release.types.get(driver)
    if info is not None and info.file.startswith(PC_PATHS):
        return True
    # A driver that QEMU's own tables pin only in pc_compat tables is PC-only to them.
    seen = {t.name.split("_compat_")[0] for t in release.machines.tables.values()
            if any(e.driver == driver for e in t.entries)}
    return seen == {"pc"}


def _text(kind: str, value: object) -> str:
    return format_value(kind, value)  # type: ignore[arg-type]


def lint(diff: ReleaseDiff) -> list[Finding]:
    """The findings of a comparison, most severe first."""
    with collector_paused():  # evaluations again, all kept (gctools.py)
        findings = _changed(diff) + _added_removed(diff)
    findings.sort(key=lambda f: (SEVERITIES.index(f.severity), f.kind, f.driver, f.property))
    return findings


def _migrates(release: Release, type_name: str) -> bool:
    return release.types.vmsd_of(type_name) is not None


def _may_migrate(release: Release, type_name: str, states_vmsd: bool) -> bool:
    """Known to migrate state (its catalog names a vmsd), or, in a catalog that names none
    (a source import does not read dc->vmsd), any device: assume it may."""
    if _migrates(release, type_name):
        return True
    return not states_vmsd and release.types.is_a(type_name, "device")


def _changed(diff: ReleaseDiff) -> list[Finding]:
    # (driver, property, old value) -> the rows of every type that needs it.
    wanted: dict[tuple[str, str, str], list[tuple[PropertyDiff, Row]]] = {}
    for p in diff.properties:
        if p.cls != "unpinned":
            continue
        for row in p.rows:
            if row.same or row.old is None or row.new is None:
                continue
            wanted.setdefault((p.declared_by, p.property, _text(row.old.kind, row.old.pre)),
                              []).append((p, row))
    findings: list[Finding] = []
    for (driver, prop, old_value), hits in sorted(wanted.items()):
        findings.extend(_entries_for(diff, driver, prop, old_value, hits))
    _fold_derived(diff, findings)
    return findings


def _entries_for(diff: ReleaseDiff, driver: str, prop: str, old_value: str,
                 hits: list[tuple[PropertyDiff, Row]]) -> list[Finding]:
    """Name the driver as QEMU would: the declaring type when one entry there fixes every
    type it reaches; else each affected object's type (the backend a proxy aliases); else
    each type a user creates (a global on a proxy reaches its child through the alias)."""
    levels = [
        [(driver, hits)],
        _split(hits, lambda p: p.object_type),
        _split(hits, lambda p: p.type),
    ]
    tried: list[Finding] = []
    for level in levels:
        tried = []
        for name, part in level:
            finding = _finding(diff, name, prop, old_value, part)
            settle(diff, finding)
            tried.append(finding)
        if all(f.verified for f in tried):
            return tried
    return tried


def _split(hits: list[tuple[PropertyDiff, Row]],
           by: Callable[[PropertyDiff], str]) -> list[tuple[str, list[tuple[PropertyDiff, Row]]]]:
    parts: dict[str, list[tuple[PropertyDiff, Row]]] = {}
    for p, row in hits:
        parts.setdefault(by(p), []).append((p, row))
    return sorted(parts.items())


def _finding(diff: ReleaseDiff, driver: str, prop: str, old_value: str,
             hits: list[tuple[PropertyDiff, Row]]) -> Finding:
    new = diff.new
    machines = sorted({m for _, row in hits for m in row.machines},
                      key=lambda m: (version_key(new.machines.machines[m].version), m))
    first = hits[0][1]
    assert first.new is not None and first.old is not None
    version = new.machines.machines[machines[-1]].version
    severity = "error" if any(_migrates(new, p.object_type) for p, _ in hits) else "warning"
    return Finding(
        "changed-default", driver, prop, old_value, _text(first.new.kind, first.new.pre),
        severity, machines, table_name(new, driver, version, first.new.file),
        f'{{ "{driver}", "{prop}", "{old_value}" }},', types=sorted({p.type for p, _ in hits}),
        file=first.new.file, line=first.new.line,
        message=f"{len(machines)} machine type(s) up to {machines[-1]} get {prop}="
                f"{_realized(first.new)} in {diff.new.id}; they got {_realized(first.old)} in "
                f"{diff.old.id}")


def _realized(outcome: Outcome | None) -> str:
    """``4`` or, when it follows the vCPUs, ``1 at 1 vCPU, 4 at 4 vCPUs``."""
    if outcome is None:
        return "?"
    values = [_text(outcome.kind, v) or '""' for v in outcome.realized]
    if len(set(values)) == 1:
        return values[0]
    return ", ".join(f"{v} at {n} vCPU{'s' if n > 1 else ''}"
                     for v, n in zip(values, SMPS, strict=True))


def _fold_derived(diff: ReleaseDiff, findings: list[Finding]) -> None:
    """A finding whose value realize derives from another finding's property goes inside it."""
    types = diff.new.types
    by_prop = {(t, f.property): f for f in findings for t in f.types}
    for finding in list(findings):
        for t in finding.types:
            rules = [*types.realize_rules(t)]
            child = types.child_of(t)
            if child is not None:
                rules.extend(types.realize_rules(child.type))
            for rule in rules:
                source = by_prop.get((t, rule.source)) if rule.op == "property" else None
                if rule.prop == finding.property and source is not None and source is not finding:
                    source.derived.append({"driver": finding.driver, "property": finding.property,
                                           "via": f"{rule.source} + {rule.add}" if rule.add
                                           else rule.source})
                    if finding in findings:
                        findings.remove(finding)


def _added_removed(diff: ReleaseDiff) -> list[Finding]:
    seen: dict[tuple[str, str, str], Finding] = {}
    states = {id(r): any(r.types[n].vmsd for n in r.types.names()) for r in (diff.old, diff.new)}
    for p in diff.properties:
        if p.cls not in ("new", "removed") or p.pinned_new:
            continue
        old, new = p.newest
        outcome = new if p.cls == "new" else old
        if outcome is None:
            continue
        release = diff.new if p.cls == "new" else diff.old
        key = (p.cls, p.declared_by, p.property)
        if key in seen:
            seen[key].types.append(p.type)
            continue
        migrates = _may_migrate(release, p.object_type, states[id(release)])
        if p.cls == "new":
            finding = _new_property(diff, p, outcome.kind, outcome.pre, migrates)
        else:
            finding = Finding("removed-property", p.declared_by, p.property,
                              _text(outcome.kind, outcome.pre), None,
                              "warning" if _migrates(release, p.object_type) else "note",
                              diff.machines,
                              types=[p.type], file=outcome.file, line=outcome.line,
                              message=f"{p.declared_by}.{p.property} is gone in {diff.new.id}; "
                                      "a -global or compat entry naming it now fails")
        seen[key] = finding
    return list(seen.values())


def _new_property(diff: ReleaseDiff, p: PropertyDiff, kind: str, default: object,
                  migrates: bool) -> Finding:
    # The machine types no compat entry sets it on (an entry may cover the older ones).
    open_rows = [row for row in p.rows if row.new is not None and not any(
        layer.source == "compat" for layer in row.new.provenance)]
    machines = sorted({m for row in open_rows for m in row.machines},
                      key=lambda m: (version_key(diff.new.machines.machines[m].version), m))
    version = diff.new.machines.machines[machines[-1]].version if machines else ""
    outcome = p.newest[1]
    file = outcome.file if outcome else ""
    finding = Finding("new-property", p.declared_by, p.property, None,
                      _text(kind, default), "note", machines, types=[p.type], file=file,
                      line=outcome.line if outcome else 0,
                      message=f"{p.declared_by}.{p.property} is new in {diff.new.id} "
                              f"(default {_text(kind, default)})")
    if migrates and kind in BOOL_KINDS and default is True and version:
        finding.old_value = "off"
        finding.table = table_name(diff.new, p.declared_by, version, file)
        finding.fix = f'{{ "{p.declared_by}", "{p.property}", "off" }},'
        finding.message += "; taken as a feature bit: old machine types keep it off"
        finding.severity = "warning"  # a likely break with a likely fix: review it
    elif not migrates:
        finding.message += "; the type migrates no state"
    return finding


def with_entries(release: Release, entries: Iterable[GlobalProperty],
                 machines: Sequence[str]) -> Release:
    """The release with ``entries`` added to their tables, as a patch would add them: a
    table the release lacks is created and appended to the machine type of its version."""
    tables = dict(release.machines.tables)
    added: dict[str, list[str]] = {}
    for entry in entries:
        old = tables.get(entry.table)
        index = len(old.entries) if old else 0
        entry = replace(entry, index=index)
        tables[entry.table] = CompatTable(entry.table, (*old.entries, entry) if old else (entry,))
        if old is None:
            added.setdefault(entry.table, [])
    ms = release.machines
    new_machines: list[MachineType] = []
    for m in ms.machines.values():
        extra = tuple(t for t in added if t.split("_compat_")[1] == m.version.replace(".", "_")
                      and t not in m.compat)
        new_machines.append(replace(m, compat=(*m.compat, *extra)) if extra else m)
    del machines
    return replace(release, machines=MachineSet(new_machines, ms.families, tables))


MAX_ENTRIES = 4  # a fix needing more entries than this is left to a human


def settle(diff: ReleaseDiff, finding: Finding) -> None:
    """Find the entries that give every machine type both know its old value back.

    Start from the finding's entry; while some machine type still differs, add an entry for
    the newest one still wrong, in the table of its version (a table reaches its version and
    every older one, and the older tables come later in the list, so they win). The finding
    is ``verified`` when nothing differs any more, every type the entries reach included.
    """
    first = finding.entry
    if first is None:
        return
    entries = [first]
    for _ in range(MAX_ENTRIES):
        wrong = mismatches(diff, finding.driver, finding.property, entries)
        if not wrong:
            finding.entries, finding.verified = entries, True
            return
        machine, value = wrong[-1]
        version = diff.new.machines.machines[machine].version
        table = table_name(diff.new, finding.driver, version, finding.file)
        if any(e.table == table for e in entries):
            break  # the same table twice: the types under the driver disagree
        entries.append(GlobalProperty(finding.driver, finding.property, value,
                                      source="compat", table=table))
    finding.entries, finding.verified = entries, False


def mismatches(diff: ReleaseDiff, driver: str, prop: str,
               entries: Sequence[GlobalProperty]) -> list[tuple[str, str]]:
    """(machine, old value) of every machine type on which some type reached by ``driver``
    gets another value of ``prop`` than in the old release once ``entries`` are added;
    oldest version first."""
    reached = [p for p in diff.properties if p.property == prop and p.cls != "new"
               and diff.new.types.is_a(p.object_type, driver)]
    patched = with_entries(diff.new, entries, diff.machines)
    after = type_defaults(patched, sorted({p.type for p in reached}), diff.machines, only=prop)
    wrong: dict[str, str] = {}
    for p in reached:
        for row in p.rows:
            if row.old is None:
                continue
            for m in row.machines:
                group = after[p.type].group_of(m)
                got = group.outcomes.get((p.object, p.property)) if group else None
                if got is None or (got.realized != row.old.realized and not _equivalent(
                        diff.new, p, row.old.realized, got.realized)):
                    wrong.setdefault(m, _text(row.old.kind, row.old.pre))
    return sorted(wrong.items(),
                  key=lambda mv: (version_key(diff.new.machines.machines[mv[0]].version), mv[0]))


def _equivalent(release: Release, p: PropertyDiff, a: tuple[object, ...],
                b: tuple[object, ...]) -> bool:
    prop = release.types.properties(p.object_type).get(p.property)
    return prop is not None and all(
        x == y or prop.equivalent_group(x, y) is not None  # type: ignore[arg-type]
        for x, y in zip(a, b, strict=True))
