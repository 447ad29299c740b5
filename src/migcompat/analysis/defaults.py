"""What every type of a release gets under each machine type: the input of ``diff`` and ``lint``.

A VM sees a property's value after the class default, ``instance_init``, the machine's compat
list, the board's sugar and, at realize, the resolution of sentinel ("auto") defaults. The same
builder that realizes a user's VM (``model/vm.py``) evaluates each type here, once per group of
machine types that cannot differ for it: two machine types give a type the same values when
their compat lists hold the same entries for the drivers it is (its ancestors and interfaces,
and its child's). Most types match no entry at all and are evaluated once. Realize runs at
each vCPU count of ``SMPS``, since "auto" defaults follow the vCPUs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from migcompat.errors import MigcompatError
from migcompat.gctools import collector_paused
from migcompat.model.globals import GlobalProperty
from migcompat.model.machines import MachineType
from migcompat.model.props import Value
from migcompat.model.release import Release
from migcompat.model.types import RealizeRule
from migcompat.model.vm import Builder, DeviceObject, Layer, VMConfig

SMPS = (1, 4)  # one vCPU and several: what "auto" defaults resolve against


@dataclass(frozen=True)
class Outcome:
    """One property of one object, as a VM of some machine types gets it.

    ``pre`` is the value before realize (what a compat entry sets); ``realized`` the value
    after realize at each of ``SMPS``; ``provenance`` the layers at the last of them.
    """

    kind: str
    pre: Value
    realized: tuple[Value, ...]
    provenance: tuple[Layer, ...]
    declared_by: str
    file: str = ""
    line: int = 0


# An object of a type's VM: "" is the device itself, else its child's name ("virtio-backend").
Key = tuple[str, str]  # (object, property)


@dataclass(frozen=True)
class Group:
    machines: tuple[str, ...]
    outcomes: Mapping[Key, Outcome]


@dataclass(frozen=True)
class TypeDefaults:
    type: str
    groups: tuple[Group, ...]
    error: str = ""  # why the type could not be evaluated (then groups is empty)

    def group_of(self, machine: str) -> Group | None:
        for group in self.groups:
            if machine in group.machines:
                return group
        return None


def evaluable_types(release: Release) -> list[str]:
    """Concrete types with properties: devices, CPUs and objects such as ``migration``."""
    types = release.types
    return [n for n in types.names() if not types[n].abstract and types.properties(n)
            and "interface" not in types.ancestors(n)]


class _Index:
    """Each machine's compat list plus the board's sugar, by driver, with positions."""

    def __init__(self, release: Release, machines: Iterable[MachineType]) -> None:
        self.by_machine: dict[str, dict[str, list[tuple[int, GlobalProperty]]]] = {}
        self.drivers: set[str] = set()
        ms = release.machines
        for machine in machines:
            family = ms.families.get(machine.family)
            entries = [*ms.compat_list(machine), *(family.sugar if family else ())]
            index: dict[str, list[tuple[int, GlobalProperty]]] = {}
            for pos, entry in enumerate(entries):
                index.setdefault(entry.driver, []).append((pos, entry))
            self.by_machine[machine.name] = index
            self.drivers.update(index)

    def key(self, machine: str, drivers: set[str],
            props: frozenset[str] | None = None) -> tuple[object, ...]:
        index = self.by_machine[machine]
        found = [item for d in drivers for item in index.get(d, ())
                 if props is None or item[1].property in props]
        found.sort(key=lambda item: item[0])
        return tuple((e.driver, e.property, e.value, e.table, e.index, e.source)
                     for _, e in found)


def _with_child(release: Release, name: str) -> list[str]:
    """The type and the type of its child (a virtio proxy's backend), if it has one."""
    child = release.types.child_of(name)
    return [name] if child is None else [name, child.type]


def _drivers(release: Release, name: str) -> set[str]:
    types = release.types
    out: set[str] = set()
    for n in _with_child(release, name):
        out.update(types.ancestors(n))
        out.update(types.interfaces_of(n))
    return out


def _rules(release: Release, name: str) -> list[RealizeRule]:
    """The realize rules of the type and of its child."""
    types = release.types
    return [rule for n in _with_child(release, name) if n in types
            for rule in types.realize_rules(n)]


def _rule_sources(release: Release, name: str, op: str) -> list[str]:
    """The ``source`` of each realize rule with ``op`` of the type and its child."""
    return [rule.source for rule in _rules(release, name) if rule.op == op]


def _declared(release: Release, type_name: str) -> dict[str, str]:
    """Each property of a type -> the type whose class declares it (the most derived)."""
    out: dict[str, str] = {}
    for anc in release.types.ancestors(type_name):
        info = release.types.get(anc)
        if info is not None:
            for prop in info.properties:
                out.setdefault(prop, anc)
    return out


def _objects(obj: DeviceObject) -> list[tuple[str, DeviceObject]]:
    out = [("", obj)]
    if obj.child is not None:
        out.append((obj.child_name, obj.child))
    return out


def _evaluate(release: Release, machine: MachineType, type_name: str,
              smps: tuple[int, ...]) -> dict[Key, Outcome]:
    runs: list[DeviceObject] = []
    for smp in smps:
        builder = Builder(VMConfig(release, machine.name, smp=smp), machine, lenient=True)
        obj = builder.create(type_name, type_name, None)
        builder.realize(obj)
        runs.append(obj)
    out: dict[Key, Outcome] = {}
    parts = [_objects(run) for run in runs]
    for i, (role, part) in enumerate(parts[-1]):
        declared = _declared(release, part.type)
        for name, eff in part.props.items():
            if len(runs) == 1:
                realized = (eff.value,) * len(SMPS)
            else:
                realized = tuple(p[i][1].props[name].value for p in parts)
            pre = eff.value
            for layer in reversed(eff.provenance):
                if layer.source != "realize":
                    pre = layer.value
                    break
            out[(role, name)] = Outcome(eff.prop.kind, pre, realized, tuple(eff.provenance),
                                        declared.get(name, part.type), eff.prop.file,
                                        eff.prop.line)
    return out


def type_defaults(release: Release, names: Iterable[str] | None = None,
                  machines: Iterable[str] | None = None,
                  only: str | None = None) -> dict[str, TypeDefaults]:
    """Evaluate ``names`` (default: every evaluable type) under ``machines`` (default: all).

    With ``only``, just that property's outcomes are sure: machine types are grouped by the
    compat entries of it and of the properties its realize rules read, so the groups are
    fewer (lint asks about one property at a time); other outcomes are a member's."""
    with collector_paused():  # millions of objects, all kept (gctools.py)
        return _type_defaults(release, names, machines, only)


def _reads(release: Release, name: str, prop: str) -> frozenset[str]:
    """``prop`` and every property its realize rules read, transitively (type and child)."""
    rules = _rules(release, name)
    out = {prop}
    grew = True
    while grew:
        grew = False
        for rule in rules:
            if rule.prop in out:
                more = {rule.source} if rule.op == "property" and rule.source else set()
                more |= {key for key, _ in rule.require}
                if not more <= out:
                    out |= more
                    grew = True
    return frozenset(out)


def _type_defaults(release: Release, names: Iterable[str] | None,
                   machines: Iterable[str] | None,
                   only: str | None = None) -> dict[str, TypeDefaults]:
    ms = release.machines
    chosen = [ms.machines[m] for m in (machines if machines is not None else ms.names())]
    index = _Index(release, chosen)
    out: dict[str, TypeDefaults] = {}
    for name in (names if names is not None else evaluable_types(release)):
        drivers = _drivers(release, name) & index.drivers
        smps = SMPS if _rule_sources(release, name, "vcpus") else SMPS[:1]
        # A machine-type class field (hw_version...) read at realize splits the groups too.
        fields = _rule_sources(release, name, "machine")
        props = _reads(release, name, only) if only is not None else None
        keyed: dict[tuple[object, ...], list[MachineType]] = {}
        for machine in chosen:
            key = index.key(machine.name, drivers, props) if drivers else ()
            if fields:
                key = (*key, *(ms.field(machine, f) for f in fields))
            keyed.setdefault(key, []).append(machine)
        groups: list[Group] = []
        try:
            for members in keyed.values():
                outcomes = _evaluate(release, members[0], name, smps)
                groups.append(Group(tuple(m.name for m in members), outcomes))
        except MigcompatError as exc:
            out[name] = TypeDefaults(name, (), error=str(exc))
            continue
        out[name] = TypeDefaults(name, tuple(groups))
    return out
