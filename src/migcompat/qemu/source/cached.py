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
import multiprocessing
import os
from dataclasses import replace
from pathlib import Path

from migcompat.catalog.cache import cache_root, enabled, load_kept, store, trusted
from migcompat.catalog.checker import Checker
from migcompat.catalog.load import open_catalog
from migcompat.catalog.release_loader import build_release
from migcompat.errors import CatalogError, UsageError
from migcompat.model.release import Release
from migcompat.model.types import TypeRegistry
from migcompat.qemu.overlay import OVERLAY_PATH, apply_overlay, load_overlay
from migcompat.qemu.source.build_inputs import SKIP_DIRS, SOURCE_DIRS

CODE_DIRS = ("qemu/source", "catalog", "model")


def _inputs(root: Path) -> list[str]:
    """The files the importer reads, relative to ``root``, in a fixed order. Plain strings
    and os.walk: pathlib's per-path parsing was most of a warm ``lint`` of two trees."""
    top = str(root)
    files = ["VERSION"]
    qapi = os.path.join(top, "qapi")
    if os.path.isdir(qapi):
        files.extend(f"qapi/{n}" for n in sorted(os.listdir(qapi)) if n.endswith(".json"))
    for entry in SOURCE_DIRS:
        base = os.path.join(top, entry)
        if os.path.isfile(base):
            files.append(entry)
            continue
        found: list[str] = []
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS]
            rel = os.path.relpath(dirpath, top)
            found.extend(f"{rel}/{n}" for n in filenames if n.endswith((".c", ".h")))
        files.extend(sorted(found))
    return files


def tree_key(root: Path) -> str:
    h = hashlib.sha256()
    package = Path(__file__).resolve().parents[2]
    for code in CODE_DIRS:
        for py in sorted((package / code).glob("*.py")):
            h.update(py.name.encode() + py.read_bytes())
    h.update(OVERLAY_PATH.read_bytes())
    top = str(root)
    for rel in _inputs(root):
        with open(os.path.join(top, rel), "rb") as f:
            digest = hashlib.sha256(f.read()).digest()
        h.update(rel.encode() + b"\0" + digest)
    return h.hexdigest()


def tree_release(root: Path) -> tuple[Release, str]:
    """The release a tree holds, from the cache when the tree's content was imported before,
    and the tree's key (its content, the overlay and the importer's code).

    Raises UsageError when ``root`` is not a QEMU tree, CatalogError when the import does
    not make a valid release."""
    return tree_releases([root])[0]


def tree_releases(roots: list[Path]) -> list[tuple[Release, str]]:
    """:func:`tree_release` of each root. The trees not yet cached are imported side by
    side, one process each: an import is 10-20 s of one core, and ``lint OLD NEW`` on two
    new trees then takes the time of one (the children only fill the cache; a child that
    fails leaves the import, and its error, to this process)."""
    keys = []
    for root in map(Path, roots):
        if not (root / "VERSION").is_file() or not (root / "hw").is_dir():
            raise UsageError(f"{root}: not a QEMU source tree (no VERSION or hw/)")
        try:
            keys.append(tree_key(root))
        except OSError as exc:
            raise UsageError(f"{root}: cannot read the tree: {exc}") from None
    missing = [(Path(r), k) for r, k in zip(roots, keys, strict=True) if _cached(k) is None]
    if enabled() and len(missing) > 1:
        ctx = multiprocessing.get_context("fork")
        children = [ctx.Process(target=_fill, args=item, daemon=True) for item in missing[1:]]
        for child in children:
            child.start()
        try:
            _fill(*missing[0], quiet=False)
        finally:
            for child in children:
                child.join()
    out = []
    for root, key in zip(map(Path, roots), keys, strict=True):
        release = _cached(key)
        if release is None:
            release = _import(root, key)
        out.append((with_build_of(release), key))
    return out


def _entry(key: str) -> Path:
    return cache_root("imports") / f"tree-{key}.pickle"


def _cached(key: str) -> Release | None:
    if enabled():
        try:
            if trusted(_entry(key)):
                with _entry(key).open("rb") as f:
                    cached: Release = load_kept(f)
                return cached
        except Exception:
            pass
    return None


def _fill(root: Path, key: str, quiet: bool = True) -> None:
    """Import ``root`` into the cache; in a child (``quiet``), any error is left for the
    parent to meet again and report."""
    try:
        _import(root, key)
    except Exception:
        if not quiet:
            raise


def _import(root: Path, key: str) -> Release:
    # imported here: only tree arguments pay for the importer (tree-sitter)
    from migcompat.qemu.source.importer import import_tree

    doc = apply_overlay(import_tree(root), load_overlay())
    doc["origin"] = f"import-source {root} + overlay.toml"
    chk = Checker(str(root))
    body = {k: v for k, v in doc.items() if k != "format"}
    release = build_release(body, chk, "$", str(doc.get("id")))
    if chk.problems or release is None:
        raise CatalogError(chk.problems)
    if enabled():
        store(_entry(key), release)
    return release


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
