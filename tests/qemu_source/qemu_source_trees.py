"""Building fixture QEMU trees for the import-source tests."""

from __future__ import annotations

import shutil
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"


def build_tree(dest: Path, generation: str) -> Path:
    """A fixture QEMU tree: ``fixtures/base`` overlaid with ``fixtures/<generation>``."""
    shutil.copytree(FIXTURES / "base", dest, dirs_exist_ok=True)
    shutil.copytree(FIXTURES / generation, dest, dirs_exist_ok=True)
    return dest
