"""Section-level checks for ``check``: what the source will send against what the
destination can load (filled in with the device-state schemas)."""

from __future__ import annotations

from migcompat.analysis.check import SectionRule

SECTION_RULES: tuple[SectionRule, ...] = ()
