"""Guest-visible defaults QEMU changed between releases without a compat entry.

Real QEMU loads these streams (nothing in the state says otherwise), but the destination's
device is not the source's: `check` reports the difference as breaking, on purpose
(docs/real-migrations.md, "Differences QEMU itself introduced"). Both facts are asserted,
so a fix on either side shows up here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from qemu_migrations.migration_cases import Case, Dev, cli_json, get_build, run_real

pytestmark = pytest.mark.qemu
BLK = Dev("virtio-blk-pci", ("-drive", "if=none,id=d0,file=null-co://,format=raw",
                             "-device", "virtio-blk-pci,drive=d0"))
CASES = {
    # device, source, destination, machine, the properties check names
    "virtio-gpu-pci resolution": (Dev("virtio-gpu-pci", ("-device", "virtio-gpu-pci")),
                                  "5.2", "7.2", "pc-q35-5.2", ["xres", "yres"]),
    "pvpanic-pci events": (Dev("pvpanic-pci", ("-device", "pvpanic-pci")),
                           "7.2", "10.0", "pc-q35-7.2", ["events"]),
    "nec-usb-xhci streams": (Dev("nec-usb-xhci", ("-device", "nec-usb-xhci")),
                             "7.2", "10.0", "pc-q35-7.2", ["streams"]),
    "use-disabled-flag on 4.2": (BLK, "5.2", "7.2", "pc-i440fx-4.2", ["use-disabled-flag"]),
}


@pytest.mark.parametrize("name", CASES)
def test_loads_but_the_guest_sees_another_device(name: str, tmp_path: Path) -> None:
    dev, src, dst, machine, props = CASES[name]
    case = Case("changed default", src, dst, machine, "loaded", shared=(dev,))
    actual = run_real(case, get_build(src), get_build(dst), tmp_path, {})
    assert actual.outcome == "loaded", actual.stderr
    doc = cli_json(case.check_argv())
    flagged = [r for r in doc["reasons"] if r["code"] == "property-differs"]
    assert [r["property"] for r in flagged] == props, doc
    assert doc["compatible"] is False
