"""Shared test setup: make tests/ importable (for qemu_helpers) and expose the tutorial."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
