"""QOM-style types: parents, interfaces, abstract flags, and the properties they declare."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from migcompat.model.props import Property


@dataclass(frozen=True)
class RealizeRule:
    """Declarative realize-time resolution of a sentinel ("auto") default.

    When ``prop`` still holds ``when`` at realize (or, with ``unset``, has no value at all:
    a string property without default that nothing set; or, with ``always``, whatever it
    holds: realize forces it), and every property in ``require`` holds its value (``if`` in
    data files, e.g. pci-bridge's msi is forced off only when shpc is off), it becomes:
    - ``op == "vcpus"``: min(boot vCPUs, ``cap``) (``virtio_pci_optimal_num_queues``);
    - ``op == "property"``: the value of ``source`` plus ``add`` (vectors = num-queues + 1),
      at least ``floor`` when given; a non-integer source is copied as is (``add`` 0);
    - ``op == "machine"``: the machine type's class field ``source`` (inherited along the
      family's version chain like its compat tables), else ``value``;
    - ``op == "constant"``: ``value``;
    - ``op == "pcie-port"``: ``value`` when the device sits behind a PCIe port (an express
      bus that is not the root bus: virtio_pci_realize), else ``otherwise``.
    With ``bus``, the rule applies only to a device on a bus whose name starts with it
    (a transport's behaviour: microvm's legacy virtio-mmio). A proxy's rules run before its
    child's, as QEMU's proxy realize resolves before it realizes the child.
    """

    prop: str
    when: object
    op: str
    cap: int = 0
    source: str = ""
    add: int = 0
    value: object = None
    otherwise: object = None
    unset: bool = False
    always: bool = False
    require: tuple[tuple[str, object], ...] = ()
    floor: int | None = None
    bus: str = ""  # only on a bus whose name starts with this ("virtio-mmio-bus")
    file: str = ""
    line: int = 0


@dataclass(frozen=True)
class InitValue:
    """A value a type's instance_init writes over the class default, before any compat
    entry or global (reference §2.2 step 2); may target a child's aliased property."""

    prop: str
    value: object


@dataclass(frozen=True)
class Child:
    """A child object created in instance_init whose properties are aliased onto the parent."""

    name: str
    type: str


@dataclass(frozen=True)
class TypeInfo:
    name: str
    parent: str | None = None
    interfaces: tuple[str, ...] = ()
    abstract: bool = False
    properties: Mapping[str, Property] = field(default_factory=dict)
    child: Child | None = None
    realize: tuple[RealizeRule, ...] = ()
    init: tuple[InitValue, ...] = ()
    # Names of properties whose value changes the migrated state layout or what the guest
    # sees (checked by `check`; see docs/check.md). None: not stated by the catalog.
    guest_visible: frozenset[str] | None = None
    # Of those, the ones that matter only when the device sits behind a PCIe port: they
    # shape a PCIe capability that QEMU gives the device only there (virtio-pci).
    express_only: frozenset[str] = frozenset()
    # And the ones whose difference QEMU's loader does not check (the stream loads, the
    # guest sees other hardware): check's "guest-visible" verdict.
    guest_only: frozenset[str] = frozenset()
    vmsd: str | None = None
    # Whether the release's real build has this type (the catalog's `built`, else the
    # release's `built_default`): False for another target's device, a disabled CONFIG_
    # option, a module not installed. None: the catalog does not say.
    built: bool | None = None
    file: str = ""
    line: int = 0
    extra: Mapping[str, Any] = field(default_factory=dict)


class TypeRegistry:
    """All types of one release, with QOM's `is a` relation."""

    def __init__(self, types: Iterable[TypeInfo]) -> None:
        self._types: dict[str, TypeInfo] = {t.name: t for t in types}
        # A release's types never change once built, and is_a runs for every compat entry
        # against every object created: remember each type's closure.
        self._isa: dict[str, frozenset[str]] = {}

    def __contains__(self, name: object) -> bool:
        return name in self._types

    def __getitem__(self, name: str) -> TypeInfo:
        return self._types[name]

    def get(self, name: str) -> TypeInfo | None:
        return self._types.get(name)

    def names(self) -> list[str]:
        return sorted(self._types)

    def __len__(self) -> int:
        return len(self._types)

    def ancestors(self, name: str) -> list[str]:
        """The type itself, then its parents up to the root (cycle-safe)."""
        chain: list[str] = []
        current: str | None = name
        while current is not None and current not in chain:
            chain.append(current)
            info = self._types.get(current)
            current = info.parent if info else None
        return chain

    def interfaces_of(self, name: str) -> set[str]:
        """Interfaces implemented by the type or any ancestor, with the interfaces' parents."""
        found: set[str] = set()
        for anc in self.ancestors(name):
            info = self._types.get(anc)
            if info is None:
                continue
            for iface in info.interfaces:
                found.update(self.ancestors(iface))
        return found

    def is_a(self, name: str, driver: str) -> bool:
        """QOM's object_dynamic_cast: exact type, any ancestor, or an interface.

        An unknown driver never matches (that is how ARM entries in hw_compat are harmless
        on x86).
        """
        return driver in self.isa(name)

    def isa(self, name: str) -> frozenset[str]:
        """Every known type a ``name`` object is: itself, its ancestors, their interfaces
        (cached: applying a compat list asks it for every entry of every object)."""
        closure = self._isa.get(name)
        if closure is None:
            found = {*self.ancestors(name), *self.interfaces_of(name)}
            closure = frozenset(n for n in found if n in self._types)
            self._isa[name] = closure
        return closure

    def properties(self, name: str) -> dict[str, Property]:
        """Class properties of a type: inherited from the root down, most derived last."""
        props: dict[str, Property] = {}
        for anc in reversed(self.ancestors(name)):
            info = self._types.get(anc)
            if info is not None:
                props.update(info.properties)
        return props

    def realize_rules(self, name: str) -> list[RealizeRule]:
        rules: list[RealizeRule] = []
        for anc in reversed(self.ancestors(name)):
            info = self._types.get(anc)
            if info is not None:
                rules.extend(info.realize)
        return rules

    def init_values(self, name: str) -> list[tuple[str, InitValue]]:
        """(declaring type, value) of every instance_init write, parent types first."""
        out: list[tuple[str, InitValue]] = []
        for anc in reversed(self.ancestors(name)):
            info = self._types.get(anc)
            if info is not None:
                out.extend((anc, v) for v in info.init)
        return out

    def child_of(self, name: str) -> Child | None:
        for anc in self.ancestors(name):
            info = self._types.get(anc)
            if info is not None and info.child is not None:
                return info.child
        return None

    def guest_visible(self, name: str) -> frozenset[str] | None:
        found: set[str] = set()
        stated = False
        for anc in self.ancestors(name):
            info = self._types.get(anc)
            if info is not None and info.guest_visible is not None:
                stated = True
                found |= info.guest_visible
        return frozenset(found) if stated else None

    def express_only(self, name: str) -> frozenset[str]:
        return self._inherited(name, "express_only")

    def guest_only(self, name: str) -> frozenset[str]:
        return self._inherited(name, "guest_only")

    def _inherited(self, name: str, key: str) -> frozenset[str]:
        found: set[str] = set()
        for anc in self.ancestors(name):
            info = self._types.get(anc)
            if info is not None:
                found |= getattr(info, key)
        return frozenset(found)

    def built(self, name: str) -> bool | None:
        """Whether the release's real build has type ``name``; None when the catalog does
        not say (no probe of the build, a hand-written catalog) or the type is unknown.
        Only the type's own mark counts: a parent's is not inherited."""
        info = self._types.get(name)
        return None if info is None else info.built

    def vmsd_of(self, name: str) -> str | None:
        for anc in self.ancestors(name):
            info = self._types.get(anc)
            if info is not None and info.vmsd:
                return info.vmsd
        return None

    @cached_property
    def device_types(self) -> list[str]:
        return [n for n, t in sorted(self._types.items())
                if not t.abstract and self.is_a(n, "device")]
