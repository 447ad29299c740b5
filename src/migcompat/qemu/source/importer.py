"""``import_tree``: a QEMU source tree to a release catalog (format 1)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from migcompat.errors import UsageError
from migcompat.qemu.source import cexpr, cpp
from migcompat.qemu.source.boards import read_boards
from migcompat.qemu.source.cinit import FileContext
from migcompat.qemu.source.compat import TABLE_FILES, read_tables
from migcompat.qemu.source.dynamic import dynamic_types
from migcompat.qemu.source.machines import FAMILIES, read_machines
from migcompat.qemu.source.props import (
    RawProperty,
    finish,
    read_arrays,
    read_info_copies,
    read_infos,
    read_lookups,
)
from migcompat.qemu.source.qapi import QapiEnums
from migcompat.qemu.source.qom import VIRTIO_BACKEND_CHILD, RawType, TypeReader, type_macros
from migcompat.qemu.source.tree import SourceTree

Progress = Callable[[str, int, int], None]
# What the stages reported to ``progress`` are, for a progress bar.
STAGES = {"headers": "reading headers", "sources": "reading sources",
          "tables": "compat tables and machines"}
"""``progress(stage, done, total)``; stages: "headers", "sources", "tables"."""

VIRTIO_PCI_FILE = "hw/virtio/virtio-pci.c"


def release_id(version: str) -> str:
    """``7.2.22`` -> ``7.2`` (the catalog's MAJOR.MINOR release id)."""
    match = re.match(r"(\d+)\.(\d+)", version)
    return f"{match.group(1)}.{match.group(2)}" if match else version


def import_tree(
    root: Path, *, debian_version: str | None = None, progress: Progress | None = None
) -> dict[str, Any]:
    """Read the QEMU source tree at ``root`` and return its release catalog (format 1)."""
    root = Path(root)
    if not (root / "VERSION").is_file() or not (root / "hw").is_dir():
        raise UsageError(f"{root} is not a QEMU source tree (no VERSION or hw/)")
    tree = SourceTree(root, progress=progress)
    tree.load_headers()
    qapi = QapiEnums(root, tree.config)
    names = dict(qapi.constants)
    macros = type_macros(tree.headers)
    type_markers = (b"TypeInfo", *sorted(name.encode() for name in macros))

    infos: dict[str, Any] = {}
    copies: dict[str, str] = {}
    lookups: dict[str, list[str]] = {}
    arrays: dict[tuple[str, str], list[RawProperty]] = {}
    raw_types: list[RawType] = []
    generic_props: list[tuple[str, str]] = []
    if (root / VIRTIO_PCI_FILE).is_file():
        ctx = FileContext(tree, tree.file(VIRTIO_PCI_FILE), names)
        generic_props = [
            (VIRTIO_PCI_FILE, a)
            for a in TypeReader(ctx, macros).props_of_class_init("virtio_pci_generic_class_init")
        ]
    total = len(tree.c_files)
    for i, rel in enumerate(tree.c_files):
        if progress and i % 25 == 0:
            progress("sources", i, total)
        f = tree.file(rel)
        defines_types = any(marker in f.data for marker in type_markers)
        if not defines_types and b"Property" not in f.data and b"QEnumLookup" not in f.data:
            tree.drop(rel)
            continue
        ctx = FileContext(tree, f, names)
        if b"PropertyInfo" in f.data:
            infos.update(read_infos(ctx))
            copies.update(read_info_copies(ctx))
        if b"QEnumLookup" in f.data:
            lookups.update(read_lookups(ctx))
        if b"Property" in f.data:
            for name, props in read_arrays(ctx).items():
                arrays[(rel, name)] = props
        reader = TypeReader(ctx, macros)
        if defines_types:
            raw_types.extend(reader.types())
            if b"ARRAY_SIZE" in f.data and b"type_register" in f.data:
                raw_types.extend(dynamic_types(reader))
        if b"VirtioPCIDeviceTypeInfo" in f.data:
            raw_types.extend(reader.virtio_pci_types(generic_props))
        tree.drop(rel)
    if progress:
        progress("sources", total, total)

    compat_tables: dict[str, dict[str, Any]] = {}
    machines: dict[str, dict[str, Any]] = {}
    families: dict[str, dict[str, Any]] = {}
    for i, rel in enumerate(TABLE_FILES):
        if progress:
            progress("tables", i, len(TABLE_FILES))
        if not (root / rel).is_file():
            continue
        ctx = FileContext(tree, tree.file(rel), names)
        compat_tables.update(read_tables(ctx))
        if rel in FAMILIES:
            found, family = read_machines(ctx, compat_tables)
            machines.update(found)
            families[FAMILIES[rel][1]] = family
            raw_types.extend(_machine_types(ctx, found))
    if progress:
        progress("tables", len(TABLE_FILES), len(TABLE_FILES))
    # isapc, microvm, none...: the ones the build's configuration has (boards.py)
    for name, board in read_boards(root).items():
        machines[name] = board
        families[name] = {"defaults": [], "file": board["file"], "line": board["line"]}

    enums = {**lookups, **qapi.members}  # QAPI's generated X_lookup cannot also be in C
    types = _assemble_types(raw_types, arrays, infos, enums, copies)
    used_enums = sorted(
        {p["enum"] for t in types.values() for p in t["properties"].values() if p["kind"] == "enum"}
        | {"OnOffAuto"}
    )
    catalog: dict[str, Any] = {
        "format": 1,
        "id": release_id(tree.version),
        "product": "qemu",
        "version": tree.version,
    }
    if debian_version:
        catalog["debian_version"] = debian_version
    catalog.update(
        {
            "origin": "import-source",
            "enums": {name: enums[name] for name in used_enums if name in enums},
            "types": types,
            "compat_tables": compat_tables,
            "families": families,
            "machines": machines,
        }
    )
    return catalog


def _machine_types(ctx: FileContext, machines: dict[str, dict[str, Any]]) -> list[RawType]:
    """The QOM type of each registered machine, ``<name>-machine`` (reference §3.1)."""
    try:
        parent: str | None = ctx.string(cpp.tokenize("TYPE_PC_MACHINE"))
        suffix = ctx.string(cpp.tokenize("TYPE_MACHINE_SUFFIX"))
    except cexpr.Unresolved:
        parent, suffix = None, "-machine"
    return [RawType(name + suffix, m["file"], m["line"], parent) for name, m in machines.items()]


def _assemble_types(
    raw_types: list[RawType],
    arrays: dict[tuple[str, str], list[RawProperty]],
    infos: dict[str, Any],
    enums: dict[str, list[str]],
    copies: dict[str, str],
) -> dict[str, dict[str, Any]]:
    by_name: dict[str, list[tuple[str, str]]] = {}
    for key in arrays:
        by_name.setdefault(key[1], []).append(key)
    types: dict[str, dict[str, Any]] = {}
    for raw in raw_types:
        if raw.name in types:
            continue  # first registration wins (duplicates are per-target variants)
        props: dict[str, Any] = {}
        for key in raw.prop_arrays:
            if key not in arrays and len(by_name.get(key[1], [])) == 1:
                key = by_name[key[1]][0]  # defined in another file (cpu.c's cpu_common_props)
            for prop in arrays.get(key, []):
                props.setdefault(prop.name, finish(prop, infos, enums, copies))
        entry: dict[str, Any] = {
            "parent": raw.parent,
            "interfaces": raw.interfaces,
            "abstract": raw.abstract,
            "file": raw.file,
            "line": raw.line,
        }
        if raw.child_type:
            entry["child"] = {"name": VIRTIO_BACKEND_CHILD, "type": raw.child_type}
        entry["properties"] = props
        types[raw.name] = entry
    for entry in types.values():
        # qom/object.c: a type with no instance size is abstract, i.e. every interface
        seen: set[str] = set()
        parent = entry["parent"]
        while parent and parent not in seen:
            seen.add(parent)
            if parent == "interface":
                entry["abstract"] = True
                break
            parent = types.get(parent, {}).get("parent")
    return types
