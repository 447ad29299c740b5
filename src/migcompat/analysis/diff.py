"""Two releases side by side: every property of every type under each machine type both know.

The question a QEMU developer asks (the document's rule): does every machine type that the
old release knows still give each device what it gave there? So the comparison is per
versioned machine type, on the values a VM gets after realize (at each of ``SMPS``). A
property falls in one class:

- ``pinned``: its default changed (on the newest machine type of a family, or its class
  default), and every machine type both know still sees the old value;
- ``unpinned``: some machine type both know sees another value in the new release;
- ``new`` / ``removed``: on a type both releases have, only one side declares it;
- ``equal``: nothing changed;
- ``unknown``: a side whose default the catalog could not compute (``unresolved``) differs,
  so nothing can be said.

Unversioned machine types (``isapc``, ``microvm``, ``none``) promise nothing across
releases and are left out. Types only one release has are listed by name.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from migcompat.analysis.defaults import Group, Key, Outcome, TypeDefaults, type_defaults
from migcompat.analysis.defaults import evaluable_types as _evaluable
from migcompat.gctools import collector_paused
from migcompat.model.machines import version_key
from migcompat.model.release import Release

CLASSES = ("unpinned", "pinned", "new", "removed", "equal", "unknown")


@dataclass(frozen=True)
class Row:
    """Machine types that see the same pair of outcomes."""

    machines: tuple[str, ...]
    old: Outcome | None
    new: Outcome | None
    same: bool


@dataclass(frozen=True)
class PropertyDiff:
    type: str  # the type a user creates
    object: str  # "" for the type itself, else its child ("virtio-backend")
    object_type: str  # the type of that object
    property: str
    cls: str
    declared_by: str  # the declaring type (new side when both have it)
    rows: tuple[Row, ...]
    newest: tuple[Outcome | None, Outcome | None] = (None, None)  # on each side's newest machine

    @builtins.property
    def pinned_new(self) -> bool:
        """A new property that a compat entry sets on every machine type both know."""
        return self.cls == "new" and bool(self.rows) and all(
            row.new is not None and any(layer.source == "compat" for layer in row.new.provenance)
            for row in self.rows)

    @builtins.property
    def changed_machines(self) -> list[str]:
        return [m for row in self.rows if not row.same for m in row.machines]


@dataclass
class ReleaseDiff:
    old: Release
    new: Release
    machines: list[str]  # versioned machine types both know, oldest first
    properties: list[PropertyDiff] = field(default_factory=list)
    new_types: list[str] = field(default_factory=list)
    removed_types: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)  # type -> why it was not evaluated
    not_built: list[str] = field(default_factory=list)  # types a side's build lacks
    old_defaults: Mapping[str, TypeDefaults] = field(default_factory=dict)
    new_defaults: Mapping[str, TypeDefaults] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(CLASSES, 0)
        for p in self.properties:
            out[p.cls] += 1
        return out


def shared_machines(old: Release, new: Release, pattern: str = "*") -> list[str]:
    """Versioned machine types both releases know, by family then version."""
    names = [n for n in old.machines.names() if n in new.machines.machines
             and old.machines.machines[n].versioned and new.machines.machines[n].versioned
             and fnmatchcase(n, pattern)]
    return names


def newest_machines(release: Release) -> dict[str, str]:
    """Family -> its newest versioned machine type."""
    out: dict[str, str] = {}
    for m in release.machines.machines.values():
        if not m.versioned:
            continue
        best = out.get(m.family)
        if best is None or version_key(m.version) > version_key(
                release.machines.machines[best].version):
            out[m.family] = m.name
    return out


def _same(release: Release, a: Outcome | None, b: Outcome | None, object_type: str,
          name: str) -> bool:
    if a is None or b is None:
        return a is b
    if a.realized == b.realized:
        return True
    prop = release.types.properties(object_type).get(name)
    if prop is None or not prop.equivalent:
        return False
    return all(x == y or prop.equivalent_group(x, y) is not None
               for x, y in zip(a.realized, b.realized, strict=True))


def _object_type(release: Release, type_name: str, obj: str) -> str:
    if not obj:
        return type_name
    child = release.types.child_of(type_name)
    return child.type if child is not None else type_name


def _classify(rows: list[Row], newest: tuple[Outcome | None, Outcome | None],
              newest_same: bool) -> str:
    old, new = newest
    if old is None:
        return "new"
    if new is None:
        return "removed"
    if not all(row.same for row in rows):
        differing = [row for row in rows if not row.same]
        if any(_unresolved(row.old) or _unresolved(row.new) for row in differing):
            return "unknown"
        return "unpinned"
    changed = not newest_same or old.provenance[0].value != new.provenance[0].value
    # Changed, and old machine types keep their value through a compat entry (not because
    # realize happens to resolve both defaults alike).
    pinned = any(row.new is not None and any(layer.source == "compat"
                                             for layer in row.new.provenance) for row in rows)
    return "pinned" if changed and pinned else "equal"


def _unresolved(outcome: Outcome | None) -> bool:
    """Nothing set a value the catalog could not compute from source."""
    if outcome is None:
        return False
    last = outcome.provenance[-1]
    return last.source == "default" and last.detail.startswith("unresolved")


def compare(old: Release, new: Release, machine: str = "*", type_glob: str = "*",
            types: Iterable[str] | None = None) -> ReleaseDiff:
    """Compare every evaluable type (or ``types``) matching ``type_glob``."""
    with collector_paused():  # every type's defaults on both sides, all kept (gctools.py)
        return _compare(old, new, machine, type_glob, types)


def _compare(old: Release, new: Release, machine: str, type_glob: str,
             types: Iterable[str] | None) -> ReleaseDiff:
    machines = shared_machines(old, new, machine)
    old_top, new_top = newest_machines(old), newest_machines(new)
    every = set(_evaluable(old)) | set(_evaluable(new)) if types is None else set(types)
    names = sorted(n for n in every if fnmatchcase(n, type_glob))
    result = ReleaseDiff(old, new, machines)
    # A type a side's real build lacks (another target's device, a disabled CONFIG_) is no
    # VM's business there: counted, not compared.
    result.not_built = [n for n in names
                        if old.types.built(n) is False or new.types.built(n) is False]
    names = [n for n in names if n not in set(result.not_built)]
    both = [n for n in names if n in old.types and n in new.types]
    result.new_types = [n for n in names if n not in old.types]
    result.removed_types = [n for n in names if n not in new.types]
    want_old = sorted(set(machines) | set(old_top.values()))
    want_new = sorted(set(machines) | set(new_top.values()))
    result.old_defaults = old_d = type_defaults(old, both, want_old)
    result.new_defaults = new_d = type_defaults(new, both, want_new)
    families = sorted(set(old_top) & set(new_top))
    for name in both:
        od, nd = old_d[name], new_d[name]
        if od.error or nd.error:
            result.errors[name] = od.error or nd.error
            continue
        result.properties.extend(_type_diffs(old, new, name, od, nd, machines,
                                             [(old_top[f], new_top[f]) for f in families]))
    return result


def _type_diffs(old: Release, new: Release, name: str, od: TypeDefaults, nd: TypeDefaults,
                machines: list[str], tops: list[tuple[str, str]]) -> list[PropertyDiff]:
    # Machine types that see the same pair of groups are compared once.
    pairs: dict[tuple[int, int], list[str]] = {}
    for m in machines:
        og, ng = od.group_of(m), nd.group_of(m)
        if og is None or ng is None:
            continue
        pairs.setdefault((od.groups.index(og), nd.groups.index(ng)), []).append(m)
    keys: set[Key] = set()
    for g in (*od.groups, *nd.groups):
        keys.update(g.outcomes)
    out: list[PropertyDiff] = []
    for key in sorted(keys):
        obj, prop = key
        otype = _object_type(new, name, obj) if obj else name
        rows = []
        for (oi, ni), members in pairs.items():
            a, b = od.groups[oi].outcomes.get(key), nd.groups[ni].outcomes.get(key)
            rows.append(Row(tuple(members), a, b, _same(new, a, b, otype, prop)))
        newest_old, newest_new, newest_same = None, None, True
        for old_m, new_m in tops:
            a, b = _at(od.group_of(old_m), key), _at(nd.group_of(new_m), key)
            newest_old, newest_new = newest_old or a, newest_new or b
            newest_same = newest_same and _same(new, a, b, otype, prop)
        if newest_old is None and newest_new is None:
            newest_old = next((r.old for r in rows if r.old), None)
            newest_new = next((r.new for r in rows if r.new), None)
        cls = _classify(rows, (newest_old, newest_new), newest_same)
        known = newest_new or newest_old
        declared = known.declared_by if known is not None else otype
        out.append(PropertyDiff(name, obj, otype, prop, cls, declared, tuple(rows),
                                (newest_old, newest_new)))
    return out


def _at(group: Group | None, key: Key) -> Outcome | None:
    return group.outcomes.get(key) if group is not None else None
