"""Versioned machine types and the cumulative compat lists of their families (reference §3).

Each version's options function calls the next newer one and then appends its own tables,
so the list of ``pc-q35-5.1`` is: family defaults, then the own tables of every newer
version from newest to oldest, and the machine's own tables last. Later entries win, so the
oldest (most specific) value decides.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache

from migcompat.errors import MachineError
from migcompat.model.globals import GlobalProperty


@cache  # machine lists are sorted by it again and again (diff, lint: ~50,000 calls)
def version_key(version: str) -> tuple[int, ...]:
    """Numeric sort key: 4.0 < 4.0.1 < 4.1 < 10.0."""
    return tuple(int(p) for p in re.findall(r"\d+", version))


@dataclass(frozen=True)
class MachineType:
    name: str
    family: str
    version: str
    compat: tuple[str, ...] = ()  # the machine's own tables, in the order it appends them
    alias: str | None = None
    is_default: bool = False
    deprecated: str | None = None  # the reason, when deprecated
    desc: str = ""
    file: str = ""
    line: int = 0
    # Class fields the machine's options function sets that are not compat properties
    # (reference §3.4), e.g. hw_version; inherited along the version chain.
    fields: Mapping[str, bool | int | str] = field(default_factory=dict)

    @property
    def versioned(self) -> bool:
        """A versioned machine type (``pc-q35-7.2``) keeps its hardware across releases;
        ``isapc``, ``microvm`` and ``none`` do not (a probe records their version as 0)."""
        return self.version not in ("", "0")


@dataclass(frozen=True)
class Family:
    name: str
    defaults: tuple[str, ...] = ()  # tables every version of the family starts with
    # Globals the board registers as "sugar" at init (e.g. q35's pcie-slot entry, §2.1).
    sugar: tuple[GlobalProperty, ...] = ()
    file: str = ""
    line: int = 0


@dataclass(frozen=True)
class CompatTable:
    name: str
    entries: tuple[GlobalProperty, ...]
    file: str = ""
    line: int = 0


class MachineSet:
    """The machine types of one release, with alias and default resolution."""

    def __init__(
        self,
        machines: Iterable[MachineType],
        families: Mapping[str, Family],
        tables: Mapping[str, CompatTable],
    ) -> None:
        self.machines: dict[str, MachineType] = {m.name: m for m in machines}
        self.families = dict(families)
        self.tables = dict(tables)
        self._lists: dict[str, tuple[GlobalProperty, ...]] = {}  # compat_list, by machine

    def names(self) -> list[str]:
        return sorted(self.machines, key=lambda n: (self.machines[n].family,
                                                    version_key(self.machines[n].version)))

    def resolve(self, name: str, release: str = "") -> MachineType:
        """A machine by its name or alias; raises MachineError naming the known ones."""
        if name in self.machines:
            return self.machines[name]
        for m in self.machines.values():
            if m.alias == name:
                return m
        known = ", ".join(self.names())
        where = f" in release {release}" if release else ""
        raise MachineError(
            f"unknown machine type '{name}'{where}; known: {known}", release=release, machine=name
        )

    def knows(self, name: str) -> bool:
        try:
            self.resolve(name)
        except MachineError:
            return False
        return True

    def default(self) -> MachineType | None:
        defaults = [m for m in self.machines.values() if m.is_default]
        return defaults[0] if len(defaults) == 1 else None

    def chain(self, machine: MachineType) -> list[MachineType]:
        """Versions of the family from newest down to ``machine`` (bugfix versions included)."""
        members = [m for m in self.machines.values() if m.family == machine.family]
        members.sort(key=lambda m: version_key(m.version), reverse=True)
        mine = version_key(machine.version)
        return [m for m in members if version_key(m.version) >= mine]

    def table_order(self, machine: MachineType) -> list[str]:
        """The table names in the order they are appended to the machine's compat list."""
        family = self.families.get(machine.family)
        order = list(family.defaults) if family else []
        for m in self.chain(machine):
            order.extend(m.compat)
        return order

    def field(self, machine: MachineType, name: str) -> bool | int | str | None:
        """A class field as the machine sees it: each options function of the chain (newest
        first) may set it, so the one nearest to ``machine`` wins."""
        value: bool | int | str | None = None
        for m in self.chain(machine):
            if name in m.fields:
                value = m.fields[name]
        return value

    def compat_list(self, machine: MachineType) -> list[GlobalProperty]:
        """The ordered compat list; never deduplicated (later entries must still win)."""
        cached = self._lists.get(machine.name)
        if cached is None or self.machines.get(machine.name) is not machine:
            entries: list[GlobalProperty] = []
            for name in self.table_order(machine):
                table = self.tables.get(name)
                if table is not None:
                    entries.extend(table.entries)
            cached = tuple(entries)
            if self.machines.get(machine.name) is machine:
                self._lists[machine.name] = cached
        return list(cached)
