"""Merge a probe of a QEMU binary into the source import of the same release.

The source import knows what the binary cannot say (compat tables before 9.1, ``optional``,
bit storage, file and line); the binary is the truth about what it was built as. So the
merge starts from the import and, where the two disagree on something both can tell, keeps
the binary's answer for the release it came from:

- a property's static default (``device-list-properties``), including the ones the importer
  could not compute (``unresolved``);
- a type's parent, and whether it is abstract;
- a machine type's existence, its alias, which one is the default, whether it is deprecated;
- which types the build has: a type of the import that the binary does not list (another
  target's device, a disabled CONFIG_ option, a module not installed) is kept, marked
  ``"built": false``, and the release says ``"built_default": true`` (every other type is
  in the build; docs/catalog-format.md).

Every such disagreement is recorded with its cause (``MergeReport``). Differences that are
not disagreements stay as the import has them, counted in the report: what QMP cannot tell
(no default reported, ``bit`` vs ``bool``, array counters), properties added at run time,
types of other targets or of CPU models. A versioned machine type the import lacks is not
added when the binary cannot give its compat list (QEMU < 9.1), and a different compat list
(QEMU >= 9.1) is reported, not replaced: both are left for a person to look at.

Pure: dicts in, dicts out (``tools/build_catalogs.py`` does the I/O).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from migcompat.catalog.checker import Checker
from migcompat.catalog.release_loader import build_release
from migcompat.errors import CatalogError
from migcompat.model.release import Release
from migcompat.qemu.binary.compare import Difference, compare_machines, compare_releases

KEPT_BINARY = "binary's kept"
KEPT_IMPORT = "import's kept"


@dataclass(frozen=True)
class Disagreement:
    """One thing the import and the binary answer differently."""

    what: str  # default | parent | abstract | machine | alias | default-machine | deprecated
    #            | compat-list
    subject: str  # the type or machine type
    prop: str  # the property ("" when not about one)
    source: Any  # the import's answer
    binary: Any  # the binary's answer
    cause: str
    kept: str  # KEPT_BINARY or KEPT_IMPORT
    note: str = ""  # where the binary's answer was written, or why the import's stays

    def to_json(self) -> dict[str, Any]:
        return {"what": self.what, "subject": self.subject, "property": self.prop,
                "import": self.source, "binary": self.binary, "cause": self.cause,
                "kept": self.kept, "note": self.note}


@dataclass
class MergeReport:
    release: str
    package: str  # the binary's Debian version, as it reports it
    counts: dict[str, int] = field(default_factory=dict)  # what was compared, and agreed
    disagreements: list[Disagreement] = field(default_factory=list)
    # Differences that are not disagreements: code -> (count, cause)
    not_merged: dict[str, tuple[int, str]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"release": self.release, "package": self.package, "counts": self.counts,
                "disagreements": [d.to_json() for d in self.disagreements],
                "not_merged": {k: {"count": n, "cause": c}
                               for k, (n, c) in self.not_merged.items()}}


def release_of(data: dict[str, Any]) -> Release:
    """A release dict (format 1) built into a Release; CatalogError if it does not validate."""
    chk = Checker(f"<{data.get('origin', 'release')} {data.get('id')}>")
    body = {k: v for k, v in data.items() if k not in ("format", "probe")}
    release = build_release(body, chk, "$", str(data.get("id")))
    if chk.problems or release is None:
        raise CatalogError(chk.problems)
    return release


def merge_probe(source: dict[str, Any], probe: dict[str, Any]) -> tuple[dict[str, Any],
                                                                        MergeReport]:
    """``source`` (a source import, without overlay) with ``probe``'s answers where they
    disagree, and the report. Neither argument is modified."""
    if source.get("id") != probe.get("id"):
        raise ValueError(f"probe of release {probe.get('id')} cannot merge into "
                         f"{source.get('id')}")
    out = copy.deepcopy(source)
    report = MergeReport(str(source.get("id")), str(probe.get("debian_version", "")))
    src_rel, probe_rel = release_of(source), release_of(probe)
    _merge_types(out, source, probe, report)
    _merge_defaults(out, source, probe, compare_releases(probe_rel, src_rel), report)
    _count_defaults(probe_rel, src_rel, report)
    _merge_machines(out, probe, compare_machines(probe_rel, src_rel), report)
    report.counts["disagreements"] = len(report.disagreements)
    report.counts["binary kept"] = sum(d.kept == KEPT_BINARY for d in report.disagreements)
    return out, report


# -- types ---------------------------------------------------------------------------------

def _merge_types(out: dict[str, Any], source: dict[str, Any], probe: dict[str, Any],
                 report: MergeReport) -> None:
    st, pt = source.get("types", {}), probe.get("types", {})
    both = sorted(set(st) & set(pt))
    report.counts["types compared"] = len(both)
    for name in both:
        s, p = st[name], pt[name]
        if s.get("parent") != p.get("parent"):
            if p.get("parent") is None or p["parent"] in st:
                out["types"][name]["parent"] = p.get("parent")
                report.disagreements.append(Disagreement(
                    "parent", name, "", s.get("parent"), p.get("parent"),
                    "the importer read another TypeInfo .parent", KEPT_BINARY))
            else:
                report.disagreements.append(Disagreement(
                    "parent", name, "", s.get("parent"), p.get("parent"),
                    "the importer read another TypeInfo .parent", KEPT_IMPORT,
                    f"the binary's parent {p['parent']} is not a type of the import"))
        if bool(s.get("abstract")) != bool(p.get("abstract")):
            out["types"][name]["abstract"] = bool(p.get("abstract"))
            report.disagreements.append(Disagreement(
                "abstract", name, "", bool(s.get("abstract")), bool(p.get("abstract")),
                "TypeInfo .abstract, or an instance size the importer did not see",
                KEPT_BINARY))
    only_probe = sorted(set(pt) - set(st))
    only_source = sorted(set(st) - set(pt))
    cpus = sum(n.endswith("-x86_64-cpu") for n in only_probe)
    others = len(only_probe) - cpus
    _not_merged(report, "types only in the binary", len(only_probe),
                f"{cpus} CPU models (registered from a table at run time, out of scope)"
                + (f"; {others} registered by code the importer does not follow "
                   f"({', '.join(n for n in only_probe if not n.endswith('-x86_64-cpu'))})"
                   if others else ""))
    # qom-list-types lists abstract types too, so the binary's list is the whole build
    for name in only_source:
        out["types"][name]["built"] = False
    out["built_default"] = True
    _not_merged(report, "types only in the import", len(only_source),
                "not built into this binary: other targets' devices, disabled CONFIG_ "
                "options, modules not installed (kept, marked built: false)")


def _not_merged(report: MergeReport, code: str, count: int, cause: str) -> None:
    if count:
        report.not_merged[code] = (count, cause)


# -- property defaults ---------------------------------------------------------------------

def _ancestors(types: dict[str, Any], name: str) -> list[str]:
    out: list[str] = []
    cur: str | None = name
    while cur is not None and cur in types and cur not in out:
        out.append(cur)
        cur = types[cur].get("parent")
    return out


def _child(types: dict[str, Any], name: str) -> str | None:
    for t in _ancestors(types, name):
        child = types[t].get("child")
        if isinstance(child, dict) and child.get("type") in types:
            return str(child["type"])
    return None


def declaring_type(types: dict[str, Any], name: str, prop: str) -> str | None:
    """The type whose entry for ``prop`` applies to ``name``: its own or an ancestor's, else
    (a proxy's aliases) its child's."""
    for t in _ancestors(types, name):
        if prop in types[t].get("properties", {}):
            return t
    child = _child(types, name)
    if child is not None and child != name:
        for t in _ancestors(types, child):
            if prop in types[t].get("properties", {}):
                return t
    return None


def _entry(types: dict[str, Any], name: str, prop: str) -> dict[str, Any] | None:
    t = declaring_type(types, name, prop)
    return None if t is None else dict(types[t]["properties"][prop])


def _value(entry: dict[str, Any]) -> Any:
    if "unresolved" in entry:
        return "<unresolved>"
    return entry.get("default", "<none>")


def _merge_defaults(out: dict[str, Any], source: dict[str, Any], probe: dict[str, Any],
                    diffs: Iterable[Difference], report: MergeReport) -> None:
    st, pt = source["types"], probe["types"]
    # (declaring type in the import, property) -> concrete types where the binary differs
    groups: dict[tuple[str, str], list[str]] = {}
    for d in diffs:
        if d.code != "default" or d.probe == "<none>":
            continue  # QMP reports no default: the binary cannot disagree
        decl = declaring_type(st, d.type, d.prop)
        if decl is not None:
            groups.setdefault((decl, d.prop), []).append(d.type)
    concrete = [n for n in sorted(set(st) & set(pt)) if not pt[n].get("abstract")]
    for (decl, prop), differing in sorted(groups.items()):
        entry = st[decl]["properties"][prop]
        # every concrete type the import gives this entry, with the binary's default
        inheritors = {n: _entry(pt, n, prop) for n in concrete
                      if declaring_type(st, n, prop) == decl}
        values = {repr(e["default"]): e["default"] for e in inheritors.values()
                  if e is not None and "default" in e}
        cause = _cause(entry)
        if len(values) == 1:
            value = next(iter(values.values()))
            _set_default(out["types"][decl]["properties"][prop], value)
            report.disagreements.append(Disagreement(
                "default", decl, prop, _value(entry), value, cause, KEPT_BINARY,
                f"written on {decl}" + (f"; seen on {', '.join(sorted(differing))}"
                                        if differing != [decl] else "")))
            continue
        for name in sorted(differing):
            p_entry = _entry(pt, name, prop)
            if p_entry is None or "default" not in p_entry:
                continue
            target = name if declaring_type(st, name, prop) in _ancestors(st, name) else (
                _child(st, name) or name)
            props = out["types"][target].setdefault("properties", {})
            props[prop] = copy.deepcopy(props.get(prop, entry))
            _set_default(props[prop], p_entry["default"])
            report.disagreements.append(Disagreement(
                "default", name, prop, _value(entry), p_entry["default"], cause, KEPT_BINARY,
                f"written on {target}: the binary's types disagree among themselves"))


def _set_default(entry: dict[str, Any], value: Any) -> None:
    entry.pop("unresolved", None)
    entry["default"] = value


def _cause(entry: dict[str, Any]) -> str:
    if "unresolved" in entry:
        return f"the importer could not resolve the default expression: {entry['unresolved']}"
    if "default" not in entry:
        return "the importer found no static default"
    return "another static default: importer evaluation, or a class_init override"


def _count_defaults(probed: Release, source: Release, report: MergeReport) -> None:
    """How many (type, property) pairs both sides have, and how many of those have a default
    the binary reports (the ones that can disagree)."""
    pairs = with_default = 0
    only_probe = only_source = kinds = 0
    for t in sorted(set(probed.types.device_types) & set(source.types.device_types)):
        pp, sp = _view(probed, t), _view(source, t)
        only_probe += len(set(pp) - set(sp))
        only_source += len(set(sp) - set(pp))
        for name in set(pp) & set(sp):
            pairs += 1
            with_default += pp[name].has_default
            a, b = pp[name].kind, sp[name].kind
            same = {"bit": "bool", "bit64": "bool", "size32": "size"}
            if same.get(a, a) != same.get(b, b) and not (pp[name].qapi_type and a == "str"):
                kinds += 1
    merged = sum(d.what == "default" for d in report.disagreements)
    report.counts["device properties compared"] = pairs
    report.counts["defaults the binary reports"] = with_default
    report.counts["default disagreements"] = merged
    _not_merged(report, "defaults the binary does not report", pairs - with_default,
                "QMP gives no default-value (object properties such as bootindex, custom "
                "PropertyInfos, legacy-* hidden by device-list-properties): the import's kept")
    _not_merged(report, "property kinds named differently", kinds,
                "approximations on one side (array counters len-*, vfio-pci's uint4): "
                "the import's kept")
    _not_merged(report, "properties only in the binary", only_probe,
                "added at run time (object_property_add*: CPU features, bootindex, links)")
    _not_merged(report, "properties only in the import", only_source,
                "legacy-* (hidden by device-list-properties), or removed at instance_init")


def _view(release: Release, t: str) -> dict[str, Any]:
    props = dict(release.types.properties(t))
    child = release.types.child_of(t)
    if child is not None and child.type in release.types:
        props = {**release.types.properties(child.type), **props}
    return props


# -- machine types -------------------------------------------------------------------------

def _merge_machines(out: dict[str, Any], probe: dict[str, Any], diffs: list[Difference],
                    report: MergeReport) -> None:
    pm = probe.get("machines", {})
    machines = out.setdefault("machines", {})
    families = out.setdefault("families", {})
    report.counts["machine types compared"] = len(set(pm) & set(machines))
    if probe.get("probe", {}).get("compat_props"):
        report.counts["compat lists compared"] = len(set(pm) & set(machines))
    for d in diffs:
        if d.code == "machine-only-in-probe":
            body = pm[d.type]
            versioned = body.get("version") not in (None, "0") or body.get("family") != d.type
            if versioned:
                report.disagreements.append(Disagreement(
                    "machine", d.type, "", None, "registered", d.cause, KEPT_IMPORT,
                    "a versioned machine type: QEMU before 9.1 does not report its compat "
                    "list, and the import has not read it"))
                continue
            machines[d.type] = {k: v for k, v in body.items()
                                if k in ("family", "version", "compat", "alias", "default",
                                         "deprecated")}
            families.setdefault(d.type, {"defaults": []})
            report.disagreements.append(Disagreement(
                "machine", d.type, "", None, "registered", d.cause, KEPT_BINARY,
                "added: an unversioned board, which no compat table applies to"))
        elif d.code == "machine-only-in-source":
            machines.pop(d.type, None)
            report.disagreements.append(Disagreement(
                "machine", d.type, "", "registered", None, d.cause, KEPT_BINARY, "removed"))
        elif d.code == "machine":
            what = {"alias": "alias", "is_default": "default-machine"}.get(d.prop, d.prop)
            body = machines[d.type]
            if d.prop == "alias":
                body["alias"] = d.probe
            elif d.prop == "is_default":
                body["default"] = bool(d.probe)
            elif d.prop == "deprecated":
                body["deprecated"] = d.probe or None
            report.disagreements.append(Disagreement(
                what, d.type, "", d.source, d.probe, d.cause, KEPT_BINARY))
        elif d.code == "compat-list":
            report.disagreements.append(Disagreement(
                "compat-list", d.type, "", d.source, d.probe, d.cause, KEPT_IMPORT,
                "the import's compat tables are kept: the binary's list cannot say which "
                "table an entry belongs to, nor whether it is optional; look at it"))


# -- the report ----------------------------------------------------------------------------

def _cell(value: Any) -> str:
    text = "—" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def format_markdown(reports: list[MergeReport], binaries: dict[str, str],
                    digests: dict[str, str], source_only: Iterable[str] = ()) -> str:
    """docs/probe-merge.md: per release, what was compared, every disagreement with its
    cause and which answer the bundled catalog keeps. ``binaries``: release -> how the
    binary was had; ``digests``: release -> sha256 of the bundled file written."""
    lines = [
        "# Probe merge report",
        "",
        "Written by `tools/build_catalogs.py` (`make catalogs`); do not edit. Each bundled",
        "release whose Debian build runs here is its source import merged with a probe of",
        "that build, then `overlay.toml`: where the two disagree, the binary's answer is kept",
        "for its release (docs/probe.md, \"Merging a probe into the import\").",
        "",
        "| release | binary (Debian version) | types compared | device properties compared |"
        " defaults the binary reports | machine types compared | disagreements | binary's "
        "kept |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in reports:
        c = r.counts
        lines.append(f"| {r.release} | {_cell(binaries.get(r.release, ''))} "
                     f"({r.package}) | {c.get('types compared', 0):,} | "
                     f"{c.get('device properties compared', 0):,} | "
                     f"{c.get('defaults the binary reports', 0):,} | "
                     f"{c.get('machine types compared', 0)} | "
                     f"{c.get('disagreements', 0)} | {c.get('binary kept', 0)} |")
    for rid in source_only:
        lines.append(f"| {rid} | none: source import only | | | | | | |")
    for r in reports:
        lines += ["", f"## {r.release}", "",
                  f"Bundled file `{r.release}.json`, sha256 `{digests.get(r.release, '?')}`."]
        if "compat lists compared" in r.counts:
            lines.append(f"Compat lists compared (QEMU >= 9.1): "
                         f"{r.counts['compat lists compared']}.")
        lines += ["", "Disagreements:", ""]
        if not r.disagreements:
            lines.append("None.")
        else:
            lines += ["| what | type or machine | property | import | binary | kept | cause |",
                      "|---|---|---|---|---|---|---|"]
            for d in r.disagreements:
                kept = d.kept + (f" ({d.note})" if d.note else "")
                lines.append(f"| {d.what} | `{d.subject}` | {_cell(d.prop) if d.prop else ''}"
                             f" | {_cell(d.source)} | {_cell(d.binary)} | {_cell(kept)} | "
                             f"{_cell(d.cause)} |")
        if r.not_merged:
            lines += ["", "Differences that are not disagreements (the import's kept):", "",
                      "| difference | count | why |", "|---|---|---|"]
            for code, (n, cause) in r.not_merged.items():
                lines.append(f"| {code} | {n:,} | {_cell(cause)} |")
    return "\n".join(lines) + "\n"
