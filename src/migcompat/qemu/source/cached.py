"""A QEMU source tree as a release, imported once per tree content (``diff``, ``lint``).

Importing a tree takes 10-15 s; a developer runs ``lint`` after every edit. The key is the
content of every file the importer reads (the sources of the x86_64 emulator, the QAPI
schema, ``VERSION``), the overlay and the importer's code, so a patched file is a new key
whatever its mtime, and an untouched tree is read back as a pickle. The overlay
(``overlay.toml``) is applied as for the bundled catalogs, so a tree and a bundled release
of the same version are modelled alike.
"""

from __future__ import annotations

import hashlib
import pickle
from dataclasses import replace
from pathlib import Path

from migcompat.catalog.cache import cache_root, enabled, store, trusted
from migcompat.catalog.checker import Checker
from migcompat.catalog.load import open_catalog
from migcompat.catalog.release_loader import build_release
from migcompat.errors import CatalogError, UsageError
from migcompat.model.release import Release
from migcompat.model.types import TypeRegistry
from migcompat.qemu.overlay import OVERLAY_PATH, apply_overlay, load_overlay
from migcompat.qemu.source.build_inputs import SKIP_DIRS, SOURCE_DIRS

CODE_DIRS = ("qemu/source", "catalog", "model")


def _inputs(root: Path) -> list[Path]:
    files = [root / "VERSION"]
    qapi = root / "qapi"
    if qapi.is_dir():
        files.extend(sorted(qapi.glob("*.json")))
    for entry in SOURCE_DIRS:
        base = root / entry
        if base.is_file():
            files.append(base)
        elif base.is_dir():
            files.extend(p for p in sorted(base.rglob("*.[ch]"))
                         if not SKIP_DIRS.intersection(p.relative_to(root).parts))
    return files


def tree_key(root: Path) -> str:
    h = hashlib.sha256()
    package = Path(__file__).resolve().parents[2]
    for code in CODE_DIRS:
        for py in sorted((package / code).glob("*.py")):
            h.update(py.name.encode() + py.read_bytes())
    h.update(OVERLAY_PATH.read_bytes())
    for path in _inputs(root):
        h.update(str(path.relative_to(root)).encode() + b"\0")
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def tree_release(root: Path) -> tuple[Release, str]:
    """The release a tree holds, from the cache when the tree's content was imported before,
    and the tree's key (its content, the overlay and the importer's code).

    Raises UsageError when ``root`` is not a QEMU tree, CatalogError when the import does
    not make a valid release."""
    # imported here: only tree arguments pay for the importer (tree-sitter)
    from migcompat.qemu.source.importer import import_tree

    root = Path(root)
    if not (root / "VERSION").is_file() or not (root / "hw").is_dir():
        raise UsageError(f"{root}: not a QEMU source tree (no VERSION or hw/)")
    try:
        key = tree_key(root)
    except OSError as exc:
        raise UsageError(f"{root}: cannot read the tree: {exc}") from None
    entry = cache_root("imports") / f"tree-{key}.pickle"
    if enabled():
        try:
            if trusted(entry):
                with entry.open("rb") as f:
                    cached: Release = pickle.load(f)
                return with_build_of(cached), key
        except Exception:
            pass
    doc = apply_overlay(import_tree(root), load_overlay())
    doc["origin"] = f"import-source {root} + overlay.toml"
    chk = Checker(str(root))
    body = {k: v for k, v in doc.items() if k != "format"}
    release = build_release(body, chk, "$", str(doc.get("id")))
    if chk.problems or release is None:
        raise CatalogError(chk.problems)
    if enabled():
        store(entry, release)
    return with_build_of(release), key


def with_build_of(release: Release) -> Release:
    """A tree has no probe of a build: take which types the build has (``built``) from the
    bundled release of the same version, where there is one (a type it does not know, such
    as one a patch adds, stays unknown)."""
    try:
        bundled = open_catalog("qemu").release(release.id)
    except (UsageError, CatalogError):
        return release
    marks = {n: bundled.types.built(n) for n in release.types.names()}
    if all(v is None for v in marks.values()):
        return release
    types = TypeRegistry(replace(release.types[n], built=marks[n]) for n in release.types.names())
    return replace(release, types=types)
