"""``OLD NEW`` of ``diff`` and ``lint``: a release of a catalog, or a QEMU source tree."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from migcompat.catalog.load import find_release
from migcompat.cli.output import warn
from migcompat.errors import UsageError
from migcompat.model.release import Release

if TYPE_CHECKING:
    from migcompat.vmstate.compare import VmstateFinding

# --machine is a filter here, as in probe and crosscheck (validate's names one machine type).
machine_glob_option = click.option(
    "--machine", "machine_glob", default="*", show_default=True, metavar="GLOB",
    help="Only machine types that match (shell pattern).")

__all__ = ["is_tree_argument", "keyed_release_args", "label", "machine_glob_option",
           "vmstate_pair"]


def is_tree_argument(text: str) -> bool:
    """An argument names a tree if it holds a ``/`` or names an existing directory."""
    return "/" in text or Path(text).is_dir()


def keyed_release_args(texts: list[str], catalog: str | None) -> list[tuple[Release, str]]:
    """Each text as a release, with a hash of what it is built from ("" when that cannot
    be read: results computed from a release may be cached under it). A text with a ``/``,
    or that names an existing directory, is a QEMU tree, imported once per content (trees
    not cached yet side by side, qemu/source/cached.py); any other is a release id of
    ``--catalog`` or of the bundled catalogs."""
    trees = []
    for text in texts:
        if is_tree_argument(text):
            if not Path(text).is_dir():
                raise UsageError(f"{text}: no such directory (a release id has no '/')")
            if catalog is not None:
                warn(f"{text} is a source tree: --catalog does not apply to it")
            trees.append(Path(text))
    imported: list[tuple[Release, str]] = []
    if trees:
        # imported here: the importer (tree-sitter) is for tree arguments only
        from migcompat.qemu.source.cached import tree_releases

        imported = tree_releases(trees)
    out = []
    for text in texts:
        if is_tree_argument(text):
            out.append(imported.pop(0))
            continue
        cat, release = find_release(text, catalog)
        try:
            out.append((release, cat.content_key(release.id)))
        except OSError:
            out.append((release, ""))
    return out


def vmstate_pair(old: str | None, new: str | None) -> list[VmstateFinding]:
    """The schema findings of two ``-dump-vmstate`` files (OLD saves, NEW loads); none when
    neither is given."""
    if old is None and new is None:
        return []
    if old is None or new is None:
        raise UsageError("--old-vmstate and --new-vmstate go together")
    # imported here: only runs with dumps read and compare schemas
    from migcompat.migration.streamfile import load_schema
    from migcompat.vmstate.compare import compare_dumps

    dumps = []
    for path in (old, new):
        dump = load_schema(path).dump
        if dump is None:
            raise UsageError(f"{path}: not a -dump-vmstate file (a stream description?)")
        dumps.append(dump)
    return compare_dumps(dumps[0], dumps[1])


def label(text: str, release: Release) -> str:
    """How the output names a side: the release id, or the tree with its version."""
    return f"{text} (QEMU {release.version or release.id})" if is_tree_argument(text) else \
        release.id
