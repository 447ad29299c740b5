"""Fixture trees for the import-source tests: ``base/`` plus one board generation."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from qemu_source_trees import build_tree

from migcompat.qemu.source import import_tree


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "source_tree: imports a real QEMU tree (fails, not skips, under CI=true)"
    )


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
