"""The model against the real binary: every property of 54 realized devices, on every
pc-q35 and pc-i440fx machine type the system QEMU has (docs/crosscheck.md).

Goal 100%. Disagreements still known are listed with their cause, so a new one fails the
test and so does a fixed one (remove it from the list when the importer is fixed).
"""

from __future__ import annotations

import os

import pytest

from migcompat.qemu.crosscheck import DEVICES, run_crosscheck
from migcompat.qemu.overlay import OVERLAY_PATH
from qemu_helpers import require_qemu

pytestmark = pytest.mark.qemu

# (device path, property, status) -> cause, per release id.
_SDHCI = ("importer: inside DEFINE_SDHCI_COMMON_PROPERTIES (hw/sd/sdhci-internal.h) the "
          "entries after the /* Capabilities registers */ comment are lost")
_KNOWN_BOTH: dict[tuple[str, str, str], str] = {
    ("sdhci", "capareg", "missing-in-model"): _SDHCI,
    ("sdhci", "maxcurr", "missing-in-model"): _SDHCI,
}
KNOWN: dict[str, dict[tuple[str, str, str], str]] = {
    "7.2": _KNOWN_BOTH,  # Debian 12's binary
    "10.0": _KNOWN_BOTH,  # Debian 13's (checked with the bookworm-backports build)
}
KNOWN_ERRORS: dict[str, tuple[str, ...]] = {}


def test_model_agrees_with_the_system_qemu() -> None:
    binary = require_qemu()
    machines = os.environ.get("MIGCOMPAT_CROSSCHECK_MACHINES")
    # The overlay is checked here even when the bundled files were built without it;
    # test_overlay.py::test_bundled_catalogs_include_the_overlay checks that they were.
    report = run_crosscheck(binary, "qemu", machines=machines.split(",") if machines else None,
                            overlay=OVERLAY_PATH)
    assert len(report.machines) >= 20
    known = KNOWN.get(report.release, {})
    found = {(c.path, c.prop, c.status) for c in report.disagreements()}
    details = "\n".join(
        f"{c.machine} {c.path}.{c.prop} {c.status}: qemu={c.qemu!r} model={c.model!r} "
        f"({c.cause})" for c in report.disagreements() if (c.path, c.prop, c.status)
        not in known)
    assert found - set(known) == set(), f"new disagreements:\n{details}"
    assert set(known) - found == set(), "fixed: remove these from KNOWN"
    allowed = KNOWN_ERRORS.get(report.release, ())
    errors = [f"{m.machine}: {m.error}" for m in report.machines
              if m.error and not any(a in m.error for a in allowed)]
    assert errors == []
    # Every device was seen on every machine type.
    assert report.compared >= len(report.machines) * len(DEVICES) * 15
    if not known:
        assert report.rate == 1.0
