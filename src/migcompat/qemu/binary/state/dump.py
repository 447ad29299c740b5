"""The ``versions`` and ``type_vmsd`` parts of a state file, from ``-dump-vmstate``.

The dump (reference §5.2) is keyed by QOM type; each entry's ``Description`` is the type's
VMState description. Several types can share one description (``e1000-82544gc`` and
``e1000`` both use "e1000"), so the versions are keyed by description name, with every
subsection, and the subsections of subsections, in one flat map. Nested struct descriptions
are not listed. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def versions_from_dump(dump: Mapping[str, Any],
                       conflicts: list[str] | None = None) -> tuple[dict[str, Any], dict[str, str]]:
    """``versions`` (by vmsd name, subsections of subsections flattened) and ``type_vmsd``
    (QOM type -> vmsd name) from a ``-dump-vmstate`` JSON object.

    Two different descriptions can share a name (7.2: "ne2000" is 3/3 for ne2k_pci and 2/0
    for ne2k_isa; "vga" of isa-vga has the subsection vga.endian, while pci-vga's has it in
    a nested struct): the one with the highest (version_id, minimum_version_id) is kept, or
    on a tie the union of their subsections, and the clash is added to ``conflicts``."""
    versions: dict[str, Any] = {}
    type_vmsd: dict[str, str] = {}
    for qom_type, body in sorted(dump.items()):
        desc = body.get("Description") if isinstance(body, dict) else None
        if not isinstance(desc, dict) or not isinstance(desc.get("name"), str):
            continue  # "vmschkmachine"
        name = type_vmsd[qom_type] = desc["name"]
        subs: dict[str, Any] = {}
        _subsections(desc, subs)
        entry: dict[str, Any] = {**_ver(desc), "subsections": dict(sorted(subs.items()))}
        old = versions.setdefault(name, entry)
        if old != entry:
            if conflicts is not None:
                conflicts.append(f"vmsd {name}: {qom_type} has {_text(entry)}, another type "
                                 f"{_text(old)}")
            if _short(old) == _short(entry):
                merged = {**old["subsections"], **entry["subsections"]}
                versions[name] = {**old, "subsections": dict(sorted(merged.items()))}
            else:
                versions[name] = max(old, entry, key=_short)
    return dict(sorted(versions.items())), type_vmsd


def _text(entry: Mapping[str, Any]) -> str:
    return (f"version {entry['version_id']}/{entry['minimum_version_id']}, subsections "
            f"[{', '.join(entry['subsections'])}]")


def _short(entry: Mapping[str, Any]) -> tuple[int, int]:
    return int(entry["version_id"]), int(entry["minimum_version_id"])


def _ver(desc: Mapping[str, Any]) -> dict[str, int]:
    return {"version_id": int(desc.get("version_id", 0)),
            "minimum_version_id": int(desc.get("minimum_version_id", 0))}


def _subsections(desc: Mapping[str, Any], out: dict[str, Any]) -> None:
    for sub in desc.get("Subsections", []):
        if isinstance(sub, dict) and isinstance(sub.get("name"), str):
            out.setdefault(sub["name"], _ver(sub))
            _subsections(sub, out)
