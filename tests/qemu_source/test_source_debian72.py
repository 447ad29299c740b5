"""Integration: import the real Debian 7.2 tree (1:7.2+dfsg-7+deb12u18).

The tree is fetched with the pinned, private APT configuration and cached outside the
repository, so with a warm cache this takes seconds. Without network or apt it is skipped,
except under CI=true where it must fail.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from migcompat.errors import MigcompatError
from migcompat.qemu.debian.lock import load_pins
from migcompat.qemu.debian.sources import fetch
from migcompat.qemu.source import import_tree

pytestmark = pytest.mark.source_tree
PIN = "7.2"


def _tree() -> Path:
    try:
        pin = load_pins()[PIN]
        return fetch(pin, quiet=True)
    except (MigcompatError, OSError) as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the pinned QEMU {PIN} source tree is needed under CI: {exc}")
        pytest.skip(f"the pinned QEMU {PIN} source tree cannot be had here: {exc}")


@pytest.fixture(scope="module")
def catalog() -> dict[str, Any]:
    tree = _tree()
    return import_tree(tree, debian_version=load_pins()[PIN].version)


def _entries(catalog: dict[str, Any], table: str) -> list[str]:
    return [
        f"{e['driver']}.{e['property']}={e['value']}"
        for e in catalog["compat_tables"][table]["entries"]
    ]


def test_release_identity(catalog: dict[str, Any]) -> None:
    assert catalog["id"] == "7.2"
    assert catalog["version"] == "7.2.22"
    assert catalog["debian_version"] == "1:7.2+dfsg-7+deb12u18"


def test_hw_compat_5_1(catalog: dict[str, Any]) -> None:
    assert _entries(catalog, "hw_compat_5_1") == [
        "vhost-scsi.num_queues=1",
        "vhost-user-blk.num-queues=1",
        "vhost-user-scsi.num_queues=1",
        "virtio-blk-device.num-queues=1",
        "virtio-scsi-device.num_queues=1",
        "nvme.use-intel-id=on",
        "pvpanic.events=1",
        "pl011.migrate-clk=off",
        "virtio-pci.x-ats-page-aligned=off",
    ]
    assert catalog["compat_tables"]["hw_compat_5_1"]["file"] == "hw/core/machine.c"


def test_debian_stable_additions(catalog: dict[str, Any]) -> None:
    assert _entries(catalog, "hw_compat_5_2") == [
        "ICH9-LPC.smm-compat=on",
        "PIIX4_PM.smm-compat=on",
        "virtio-blk-device.report-discard-granularity=off",
        "virtio-net-pci-base.vectors=3",
        "nvme.msix-exclusive-bar=on",
    ]
    assert "virtio-rng-pci-transitional.vectors=0" in _entries(catalog, "hw_compat_7_1")


def test_pc_compat_uses_the_x86_64_cpu_type(catalog: dict[str, Any]) -> None:
    assert "x86_64-cpu.kvm-msi-ext-dest-id=off" in _entries(catalog, "pc_compat_5_1")
    assert "EPYC-x86_64-cpu.npt=off" in _entries(catalog, "pc_compat_3_1")


def test_machine_types(catalog: dict[str, Any]) -> None:
    machines = catalog["machines"]
    q35 = [m["version"] for m in machines.values() if m["family"] == "pc-q35"]
    expected = [f"2.{n}" for n in range(4, 13)] + ["3.0", "3.1", "4.0.1", "4.0", "4.1", "4.2"]
    expected += ["5.0", "5.1", "5.2", "6.0", "6.1", "6.2", "7.0", "7.1", "7.2"]
    assert sorted(q35) == sorted(expected)
    assert len([m for m in machines.values() if m["family"] == "pc-i440fx"]) == 31
    aliases = {m["alias"]: name for name, m in machines.items() if m["alias"]}
    assert aliases == {"q35": "pc-q35-7.2", "pc": "pc-i440fx-7.2"}
    assert [name for name, m in machines.items() if m["default"]] == ["pc-i440fx-7.2"]
    assert machines["pc-q35-5.1"]["compat"] == ["hw_compat_5_1", "pc_compat_5_1"]
    assert machines["pc-q35-4.0.1"]["compat"] == ["hw_compat_4_0", "pc_compat_4_0"]
    assert machines["pc-q35-4.0"]["compat"] == []
    assert machines["pc-i440fx-1.4"]["deprecated"]
    assert catalog["families"]["pc-q35"]["defaults"] == []


def test_device_defaults(catalog: dict[str, Any]) -> None:
    types = catalog["types"]
    blk = types["virtio-blk-device"]["properties"]
    assert blk["num-queues"]["default"] == 65535
    assert types["virtio-device"]["properties"]["indirect_desc"]["kind"] == "bit64"
    assert types["virtio-blk-pci-base"]["properties"]["vectors"]["default"] == 0xFFFFFFFF
    assert types["virtio-blk-pci"]["child"] == {
        "name": "virtio-backend",
        "type": "virtio-blk-device",
    }
    rtc = types["mc146818rtc"]["properties"]["lost_tick_policy"]
    assert (rtc["kind"], rtc["enum"], rtc["default"]) == ("enum", "LostTickPolicy", "discard")
    assert types["e1000"]["parent"] == "e1000-base"
