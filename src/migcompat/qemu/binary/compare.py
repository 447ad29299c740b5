"""Compare a probed release with a source-imported one: device types, property kinds and
static defaults, each difference with a likely cause.

    migcompat probe-compare PROBE.json [--catalog qemu] [--format json]

QMP cannot tell some things apart, so these are the same here: ``bit``/``bit64``/``bool``,
``size32``/``size``, and a probed ``str`` standing for a backend reference, a MAC or PCI
address, a UUID or another type QMP names but the model approximates (``qapi_type``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from migcompat.model.props import Property
from migcompat.model.release import Release

_SAME_KIND = {"bit": "bool", "bit64": "bool", "size32": "size"}


@dataclass(frozen=True)
class Difference:
    type: str
    prop: str
    code: str  # type-only-in-probe | type-only-in-source | only-in-probe | only-in-source
    #            | kind | default | machine-only-in-* | machine | compat-list
    probe: Any = None
    source: Any = None
    cause: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "property": self.prop, "code": self.code,
                "probe": self.probe, "source": self.source, "cause": self.cause}


def _kind(prop: Property) -> str:
    return _SAME_KIND.get(prop.kind, prop.kind)


def _default(prop: Property) -> Any:
    return prop.default if prop.has_default else "<none>"


def compare_releases(probed: Release, source: Release) -> list[Difference]:
    out: list[Difference] = []
    pdev = set(probed.types.device_types)
    sdev = set(source.types.device_types)
    out += [Difference(t, "*", "type-only-in-probe", cause=_only_probe_type_cause(t))
            for t in sorted(pdev - sdev)]
    out += [Difference(t, "*", "type-only-in-source", cause="not built into this binary "
                       "(another target, or a disabled CONFIG_)") for t in sorted(sdev - pdev)]
    for t in sorted(pdev & sdev):
        pp, sp = probed.types.properties(t), source.types.properties(t)
        child_p = probed.types.child_of(t)
        if child_p is not None and child_p.type in probed.types:
            pp = {**probed.types.properties(child_p.type), **pp}
        child_s = source.types.child_of(t)
        if child_s is not None and child_s.type in source.types:
            sp = {**source.types.properties(child_s.type), **sp}
        for name in sorted(set(pp) - set(sp)):
            out.append(Difference(t, name, "only-in-probe", probe=_default(pp[name]),
                                  cause=_only_probe_cause(pp[name])))
        for name in sorted(set(sp) - set(pp)):
            cause = ("device-list-properties hides every property named legacy-*"
                     if name.startswith("legacy-") else "conditional property array, or a "
                     "property QEMU removes at instance_init")
            out.append(Difference(t, name, "only-in-source", source=_default(sp[name]),
                                  cause=cause))
        for name in sorted(set(pp) & set(sp)):
            a, b = pp[name], sp[name]
            if _kind(a) != _kind(b) and not (a.qapi_type and a.kind == "str"):
                out.append(Difference(t, name, "kind", a.kind + _q(a), b.kind + _q(b),
                                      "QMP reports another type name"))
            elif _default(a) != _default(b) and not b.unresolved:
                out.append(Difference(t, name, "default", _default(a), _default(b),
                                      _default_cause(name, a, b)))
            elif b.unresolved and a.has_default:
                out.append(Difference(t, name, "default", _default(a), "<unresolved>",
                                      f"the importer could not compute it: {b.unresolved}"))
    return out


def compare_machines(probed: Release, source: Release) -> list[Difference]:
    """Machine types, aliases, the default, and (when the probe has them: QEMU >= 9.1) each
    machine's whole compat list as QEMU applies it."""
    out: list[Difference] = []
    pm, sm = probed.machines.machines, source.machines.machines
    for name in sorted(set(pm) - set(sm)):
        out.append(Difference(name, "*", "machine-only-in-probe",
                              cause="a board the importer does not read (isapc, microvm...)"
                              if not name.startswith(("pc-q35-", "pc-i440fx-")) else
                              "a versioned machine the importer missed"))
    for name in sorted(set(sm) - set(pm)):
        out.append(Difference(name, "*", "machine-only-in-source",
                              cause="not registered by this build"))
    compat = bool(probed.machines.tables)
    for name in sorted(set(pm) & set(sm)):
        a, b = pm[name], sm[name]
        for field in ("alias", "is_default"):
            if getattr(a, field) != getattr(b, field):
                out.append(Difference(name, field, "machine", getattr(a, field),
                                      getattr(b, field), "machine registration differs"))
        if bool(a.deprecated) != bool(b.deprecated):
            out.append(Difference(name, "deprecated", "machine", a.deprecated, b.deprecated,
                                  "deprecation differs"))
        if not compat:
            continue
        la = [(e.driver, e.property, e.value) for e in probed.machines.compat_list(a)]
        lb = [(e.driver, e.property, e.value) for e in source.machines.compat_list(b)]
        if la != lb:
            first = next((i for i, (x, y) in enumerate(zip(la, lb, strict=False)) if x != y),
                         min(len(la), len(lb)))
            out.append(Difference(name, "compat", "compat-list",
                                  la[first] if first < len(la) else None,
                                  lb[first] if first < len(lb) else None,
                                  f"first difference at entry {first} of {len(la)} "
                                  f"(probe) / {len(lb)} (source)"))
    return out


def _only_probe_type_cause(name: str) -> str:
    if name.endswith("-x86_64-cpu"):
        return "a CPU model, registered by a loop over the model table (out of scope)"
    return "a type the importer did not find (registered by code it cannot follow?)"


def _q(prop: Property) -> str:
    return f" ({prop.qapi_type})" if prop.qapi_type else ""


def _only_probe_cause(prop: Property) -> str:
    if not prop.has_default:
        return "an instance property (object_property_add in instance_init) or an alias"
    return "a class property the importer did not find"


def _default_cause(name: str, a: Property, b: Property) -> str:
    if not b.has_default:
        return "the importer found no static default"
    if not a.has_default and name.startswith("legacy-"):
        return ("device-list-properties, the only command reporting defaults, hides "
                "legacy-* properties")
    if not a.has_default:
        return "QMP reports no default-value (a custom PropertyInfo without set_default)"
    return "different static default: importer evaluation, or a class_init override"


def format_text(diffs: list[Difference]) -> str:
    counts: dict[str, int] = {}
    for d in diffs:
        counts[d.code] = counts.get(d.code, 0) + 1
    lines = [f"{len(diffs)} differences: " + ", ".join(f"{k} {v}" for k, v in
                                                       sorted(counts.items()))]
    for d in diffs:
        lines.append(f"  {d.code:20} {d.type}.{d.prop}: probe={d.probe!r} "
                     f"source={d.source!r} -- {d.cause}")
    return "\n".join(lines)
