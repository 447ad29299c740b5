"""Import a QEMU source tree (5.2 .. 10.x) into a release catalog (format 1).

``import_tree(root, *, debian_version=None, progress=None) -> dict`` reads compat tables,
machine types, QOM types and qdev properties with tree-sitter plus a small C
preprocessor; ``fetch`` downloads the pinned Debian source packages. See
docs/import-source.md.
"""

from migcompat.qemu.source.importer import Progress, import_tree, release_id

__all__ = ["Progress", "import_tree", "release_id"]
