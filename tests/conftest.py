"""Shared test setup: make tests/ importable (for qemu_helpers) and expose the tutorial."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).parent))

from qemu_migrations import table as _migration_table

if TYPE_CHECKING:
    import pytest


# The table of real QEMU migrations (tests/qemu_migrations), printed at the end of the run.
def pytest_configure(config: pytest.Config) -> None:
    _migration_table.configure(config)


def pytest_unconfigure(config: pytest.Config) -> None:
    _migration_table.unconfigure(config)


def pytest_terminal_summary(terminalreporter: object) -> None:
    _migration_table.summary(terminalreporter)
