"""The model against the real binary: every property of 54 realized devices, on every
pc-q35 and pc-i440fx machine type the system QEMU has, and of the devices isapc and
microvm take; on none, the refusal of every device (docs/crosscheck.md).

Goal 100%. Disagreements still known are listed with their cause, so a new one fails the
test and so does a fixed one (remove it from the list when the importer is fixed).
"""

from __future__ import annotations

import os

import pytest

from migcompat.qemu.binary.crosscheck.check import DEVICES, Report, run_crosscheck
from migcompat.qemu.binary.crosscheck.worker import NONE_DEVICES, UNVERSIONED, device_id
from migcompat.qemu.overlay import OVERLAY_PATH
from qemu_helpers import require_qemu

pytestmark = pytest.mark.qemu

# (device path, property, status) -> cause, per release id.
KNOWN: dict[str, dict[tuple[str, str, str], str]] = {
    "5.2": {},  # the pinned bullseye build (qemu/debian/builds.py)
    "7.2": {},  # Debian 12's binary
    "10.0": {},  # Debian 13's (checked with the bookworm-backports build)
}
# Devices a release's binary refuses on the pc machine types (left out on both sides, and
# the model must refuse them too), by device id.
REFUSED: dict[str, set[str]] = {"5.2": {"pvp", "viommu"}}
# On the unversioned machines: none has no bus for any device; 5.2's microvm has 8
# virtio-mmio transports for the set's 9 virtio devices.
UNVERSIONED_REFUSED: dict[tuple[str, str], set[str]] = {
    **{(r, "none"): {device_id(d) for d in NONE_DEVICES} for r in ("5.2", "7.2", "10.0")},
    ("5.2", "microvm"): {"vtab"},
}
KNOWN_ERRORS: dict[str, tuple[str, ...]] = {}


def test_model_agrees_with_the_system_qemu() -> None:
    check(run_crosscheck(require_qemu(), "qemu", machines=_machines(), overlay=OVERLAY_PATH))



# The pinned private builds run on the suite's two machine types by default (a full run of
# every machine type takes about a minute per build): MIGCOMPAT_CROSSCHECK_BUILDS=5.2,10.0
# (set, even empty) runs the listed builds on every machine type, or on
# MIGCOMPAT_CROSSCHECK_MACHINES.
PINNED_DEFAULT = ("5.2", "10.0")
PINNED_MACHINES = ["pc-q35-5.1", "pc-i440fx-5.1", *UNVERSIONED]
_PINNED_ENV = os.environ.get("MIGCOMPAT_CROSSCHECK_BUILDS")


@pytest.mark.parametrize("build_id", [b for b in _PINNED_ENV.split(",") if b]
                         if _PINNED_ENV is not None else list(PINNED_DEFAULT))
def test_model_agrees_with_a_pinned_build(build_id: str) -> None:
    """The private builds of qemu/debian/builds.py (fetched under CI=true, else skipped when not
    fetched: see get_build)."""
    from qemu_migrations.migration_cases import get_build

    b = get_build(build_id)
    machines = _machines() or (PINNED_MACHINES if _PINNED_ENV is None else None)
    check(run_crosscheck(b.binary, "qemu", machines=machines, overlay=OVERLAY_PATH,
                         env=(b.args(), b.env)), machines)


def _machines() -> list[str] | None:
    machines = os.environ.get("MIGCOMPAT_CROSSCHECK_MACHINES")
    return machines.split(",") if machines else None


def check(report: Report, machines: list[str] | None = None) -> None:
    # The overlay is checked here even when the bundled files were built without it;
    # test_overlay.py::test_bundled_catalogs_include_the_overlay checks that they were.
    machines = machines or _machines()
    assert len(report.machines) == len(machines) if machines else len(report.machines) >= 20
    pc = [m for m in report.machines if m.machine not in UNVERSIONED]
    refused = {dev for m in pc for dev in m.refused}
    assert refused == REFUSED.get(report.release, set())
    for m in report.machines:
        if m.machine in UNVERSIONED:
            assert set(m.refused) == UNVERSIONED_REFUSED.get((report.release, m.machine),
                                                             set()), m.machine
            assert m.compared > 0, m.machine
    if not machines:
        assert {m.machine for m in report.machines} >= set(UNVERSIONED)
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
    assert sum(m.compared for m in pc) >= len(pc) * (len(DEVICES) - len(refused)) * 15
    if not known:
        assert report.rate == 1.0
