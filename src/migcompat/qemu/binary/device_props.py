"""Property kinds and defaults of a QEMU binary's device types, from QMP.

``device-list-properties`` (concrete devices) gives every property of an instance with its
QAPI type and static ``default-value`` (reference §5.5); ``qom-list-properties`` on an
abstract type gives its class properties without defaults (QEMU 7.2). A property is
attributed to the highest type that lists it, and its default to the value most of that
type's concrete descendants report; a descendant reporting another default gets its own
entry (a subclass that changes the default). Properties a proxy aliases from its child
(``virtio-backend``, ``xhci-core``...) are left to the child, as the catalog's ``child``
does the aliasing.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from typing import Any

# QOM bookkeeping, not settings (the source importer has none of them either).
SKIPPED = frozenset({"type", "parent_bus", "realized", "hotplugged", "hotpluggable"})
_INT_TYPES = {"uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64"}
_APPROX = {"int": "int64", "uint4": "uint8", "string": "str", "size": "size", "bool": "bool",
           "str": "str", "OnOffAuto": "OnOffAuto"}
_VALUES = re.compile(r"(?:^|,\s*)([\w.+-]+(?:/[\w.+-]+)+)\s*$")
_MISSING = object()


def enum_values(description: str | None) -> list[str] | None:
    """QEMU's enum PropertyInfos describe their values: "Error handling policy, a/b/c"."""
    if not description:
        return None
    m = _VALUES.search(description)
    return m.group(1).split("/") if m else None


def kind_of(qapi_type: str, description: str | None,
            enums: dict[str, list[str]]) -> dict[str, Any]:
    """A catalog property body (without default) for a QAPI type name."""
    if description and description.startswith("Slot and optional function number"):
        # DEFINE_PROP_PCI_DEVFN: QMP says int32 (7.2) or str (10.0), by its description.
        return {"kind": "pci-devfn", "qapi_type": qapi_type}
    if qapi_type.startswith("link<"):
        return {"kind": "link", "qapi_type": qapi_type}
    if qapi_type in _INT_TYPES:
        return {"kind": qapi_type}
    if qapi_type in _APPROX:
        body: dict[str, Any] = {"kind": _APPROX[qapi_type]}
        if _APPROX[qapi_type] != qapi_type:
            body["qapi_type"] = qapi_type
        return body
    values = enum_values(description)
    if values is not None and qapi_type[:1].isupper():
        known = enums.setdefault(qapi_type, values)
        if known == values:
            return {"kind": "enum", "enum": qapi_type}
        return {"kind": "enum", "values": values}
    # Structured or unknown types (GuestPanicInformation, QemuUUID, strList...).
    return {"kind": "str", "qapi_type": qapi_type}


def _typed_default(body: dict[str, Any], value: Any) -> Any:
    """default-value as the catalog writes it; enum/OnOffAuto values must be known."""
    if body["kind"] == "enum" and "values" in body and value not in body["values"]:
        return _MISSING
    if body["kind"] == "str" and not isinstance(value, str):
        return _MISSING
    if body["kind"] in _INT_TYPES | {"size", "pci-devfn"} and (not isinstance(value, int)
                                                 or isinstance(value, bool)):
        return _MISSING
    return value


class DeviceProps:
    """Collects listings, then attributes properties to types."""

    def __init__(self, parents: Mapping[str, str | None], abstract: set[str]) -> None:
        self.parents = parents
        self.abstract = abstract
        self.listings: dict[str, list[dict[str, Any]]] = {}
        self.enums: dict[str, list[str]] = {}

    def ancestors(self, name: str) -> list[str]:
        out: list[str] = []
        cur: str | None = name
        while cur is not None and cur not in out:
            out.append(cur)
            cur = self.parents.get(cur)
        return out

    def add(self, type_name: str, listing: list[dict[str, Any]]) -> None:
        self.listings[type_name] = listing

    def children(self, devices: set[str]) -> dict[str, dict[str, str]]:
        """type -> {name, type}: a device child whose properties the type aliases."""
        out: dict[str, dict[str, str]] = {}
        for name, listing in self.listings.items():
            names = {p["name"] for p in listing}
            for p in listing:
                t = str(p["type"])
                if not t.startswith("child<"):
                    continue
                ctype = t[len("child<"):-1]
                child_names = {c["name"] for c in self.listings.get(ctype, [])} - SKIPPED
                # qdev_alias_all_properties aliases the child's class properties; its
                # instance properties only when the parent adds aliases by hand.
                if ctype in devices and child_names and \
                        2 * len(child_names & names) >= len(child_names):
                    out[name] = {"name": p["name"], "type": ctype}
                    break
        return out

    def attribute(self, children: Mapping[str, Mapping[str, str]]) -> dict[str, dict[str, Any]]:
        """type -> {property -> body}, the catalog's ``properties`` of each device type."""
        aliased = {t: {p["name"] for p in self.listings.get(c["type"], [])}
                   for t, c in children.items()}
        declared: dict[str, dict[str, dict[str, Any]]] = {}
        owner: dict[tuple[str, str], str] = {}  # (concrete type, prop) -> declaring type
        listed = {t: {str(p["name"]) for p in lst} for t, lst in self.listings.items()}
        for name in sorted(self.listings, key=lambda n: len(self.ancestors(n))):
            chain = self.ancestors(name)
            skip = set().union(*(aliased.get(a, set()) for a in chain))
            for p in self.listings[name]:
                pname = str(p["name"])
                ptype = str(p["type"])
                if pname in SKIPPED or ptype.startswith("child<") or pname in skip:
                    continue
                if pname.startswith("legacy-") and pname[7:] in listed[name]:
                    continue  # qdev's text view of another property (legacy-addr)
                top = next((a for a in reversed(chain) if pname in listed.get(a, ())), name)
                if pname not in declared.setdefault(top, {}):
                    declared[top][pname] = kind_of(ptype, p.get("description"), self.enums)
                if name not in self.abstract:
                    owner[(name, pname)] = top
        self._defaults(declared, owner)
        return declared

    def _defaults(self, declared: dict[str, dict[str, dict[str, Any]]],
                  owner: dict[tuple[str, str], str]) -> None:
        votes: dict[tuple[str, str], Counter[str]] = {}
        seen: dict[tuple[str, str], tuple[str, Any]] = {}
        sample: dict[tuple[str, str, str], Any] = {}
        by_name = {t: {str(p["name"]): p for p in lst} for t, lst in self.listings.items()}
        for (concrete, pname), top in owner.items():
            info = by_name[concrete][pname]
            value = _typed_default(declared[top][pname], info.get("default-value", _MISSING))
            key = repr(value) if value is not _MISSING else "<none>"
            votes.setdefault((top, pname), Counter())[key] += 1
            seen[(concrete, pname)] = (key, value)
            sample.setdefault((top, pname, key), value)
        chosen: dict[tuple[str, str], str] = {}
        for (top, pname), counter in votes.items():
            # The declaring type's own listing wins when it is concrete; else the majority.
            own = seen.get((top, pname))
            key = own[0] if own else counter.most_common(1)[0][0]
            chosen[(top, pname)] = key
            value = sample[(top, pname, key)]
            if value is not _MISSING:
                declared[top][pname]["default"] = value
        for (concrete, pname), (key, value) in seen.items():
            top = owner[(concrete, pname)]
            if key != chosen[(top, pname)]:
                body = {k: v for k, v in declared[top][pname].items() if k != "default"}
                if value is not _MISSING:
                    body["default"] = value
                declared.setdefault(concrete, {})[pname] = body
