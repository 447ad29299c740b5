"""migcompat's own migrations between real releases (captured state): the stream carries
the build's sections and RAM blocks, the destination loads with its own build's, and
`check` predicts the outcome."""

from __future__ import annotations

import pytest

from migcompat.analysis.check import check
from migcompat.catalog.load import open_catalog
from migcompat.errors import StreamError
from migcompat.model.devspec import parse_device
from migcompat.model.vm import VMConfig
from migcompat.stream import stream_schemas
from migcompat.vm.live import build, build_empty
from migcompat.vm.loadvm import IncomingLoad
from migcompat.vm.savevm import save

MIB = 1 << 20
CASES = {
    # name: (source, destination, machine, source devices, destination devices, smp pair)
    "7.2 -> 10.0, virtio-blk": ("7.2", "10.0", "pc-q35-5.1", ["virtio-blk-pci"],
                                ["virtio-blk-pci"], (2, 2)),
    "10.0 -> 5.2, all NICs": ("10.0", "5.2", "pc-i440fx-5.1",
                              ["e1000", "virtio-net-pci", "rtl8139"],
                              ["e1000", "virtio-net-pci", "rtl8139"], (2, 2)),
    "missing device": ("5.2", "7.2", "pc-q35-5.2", ["virtio-blk-pci"], [], (1, 1)),
    "extra device": ("7.2", "5.2", "pc-q35-5.1", [], ["virtio-rng-pci"], (1, 1)),
    "fewer vCPUs": ("7.2", "10.0", "pc-q35-7.2", [], [], (2, 1)),
    # machine types <= 2.3: no configuration section, no footers (as QEMU streams them)
    "pc-i440fx-2.3": ("7.2", "5.2", "pc-i440fx-2.3", ["virtio-blk-pci"], ["virtio-blk-pci"],
                      (1, 1)),
    # pc-i440fx-1.6 names root-bus devices without the bus: 0000:02.0/virtio-blk
    "short root bus": ("5.2", "7.2", "pc-i440fx-1.6", ["virtio-blk-pci"], ["virtio-blk-pci"],
                       (1, 1)),
}


@pytest.mark.parametrize("name", CASES)
def test_check_predicts_migcompat_migration(name: str) -> None:
    cat = open_catalog("qemu")
    a, b, machine, sdev, ddev, (ssmp, dsmp) = CASES[name]
    src = VMConfig(cat.release(a), machine, [parse_device(d) for d in sdev], smp=ssmp,
                   mem=32 * MIB)
    dst = VMConfig(cat.release(b), machine, [parse_device(d) for d in ddev], smp=dsmp,
                   mem=32 * MIB)
    predicted = check(src, dst).compatible
    data = b"".join(save(build(src, seed=3)))
    # the stream describes itself the way QEMU's do (its vmdesc parses)
    assert stream_schemas(data) is not None
    incoming = IncomingLoad(build_empty(dst))
    try:
        incoming.feed(data)
        incoming.finish()
        loaded = True
    except StreamError:
        loaded = False
    assert loaded == predicted, name
    assert loaded == (name not in ("missing device", "fewer vCPUs"))
    if name == "pc-i440fx-2.3":
        assert data[8] != 0x07  # no QEMU_VM_CONFIGURATION after the header
    if name == "short root bus":
        assert b"0000:02.0/virtio-blk" in data
