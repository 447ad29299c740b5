"""Fixture trees for the import-source tests: ``base/`` plus one board generation."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from migcompat.qemu.source import import_tree

FIXTURES = Path(__file__).parent / "fixtures"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "source_tree: imports a real QEMU tree (fails, not skips, under CI=true)"
    )


def build_tree(dest: Path, generation: str) -> Path:
    """A fixture QEMU tree: ``fixtures/base`` overlaid with ``fixtures/<generation>``."""
    shutil.copytree(FIXTURES / "base", dest, dirs_exist_ok=True)
    shutil.copytree(FIXTURES / generation, dest, dirs_exist_ok=True)
    return dest


@pytest.fixture(scope="session")
def imported(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], dict[str, Any]]:
    """``imported("gen1")``: the catalog of a fixture tree (imported once per session)."""
    cache: dict[str, dict[str, Any]] = {}

    def get(generation: str) -> dict[str, Any]:
        if generation not in cache:
            root = build_tree(tmp_path_factory.mktemp(generation), generation)
            cache[generation] = import_tree(root, debian_version="1:0.0+fixture-1")
        return cache[generation]

    return get
