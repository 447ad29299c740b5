"""QEMU's load-time check of PCI configuration space (``get_pci_config_device``), as data.

On load QEMU compares every incoming config byte with its own: a byte fails when
``(read ^ device) & cmask & ~wmask & ~w1cmask`` is not zero. The masks come from the device:
``cmask`` covers the read-only identity bytes of the header and every capability's bytes
(QEMU's pci_init_cmask and pci_add_capability); ``wmask`` marks what the guest may write
(command bits, cache line, interrupt line, MSI-X enable/mask, the virtio PCI-config window,
...). We rebuild the masks from the destination's own config bytes by walking its capability
list. This is how a virtio-blk ``num-queues`` mismatch shows: the MSI-X table size
(byte 0x9a on virtio-blk-pci) is read-only (reference §4).
"""

from __future__ import annotations

from dataclasses import dataclass

HEADER = 0x40
CAP_PTR = 0x34
_HEADER_CMASK = {0x00: 0xFF, 0x01: 0xFF, 0x02: 0xFF, 0x03: 0xFF, 0x06: 0x10, 0x08: 0xFF,
                 0x09: 0xFF, 0x0A: 0xFF, 0x0B: 0xFF, 0x0E: 0xFF, CAP_PTR: 0xFF}
_HEADER_WMASK = {0x04: 0x07, 0x05: 0x05, 0x0C: 0xFF, 0x3C: 0xFF}
_W1CMASK = {0x07: 0xF9}
CAP_PM, CAP_MSI, CAP_VENDOR, CAP_EXP, CAP_MSIX = 0x01, 0x05, 0x09, 0x10, 0x11
VIRTIO_PCI_CAP_PCI_CFG = 5


@dataclass(frozen=True)
class BadConfig:
    index: int
    read: int
    device: int
    cmask: int
    wmask: int
    w1cmask: int

    def message(self) -> str:
        # QEMU's exact text (hw/pci/pci.c), after the function name.
        return (f"get_pci_config_device: Bad config data: i=0x{self.index:x} read: "
                f"{self.read:x} device: {self.device:x} cmask: {self.cmask:x} wmask: "
                f"{self.wmask:x} w1cmask:{self.w1cmask:x}")


def _cap_size(config: bytes, at: int, cap: int) -> int:
    if cap == CAP_MSIX:
        return 12
    if cap == CAP_VENDOR:
        return max(config[at + 2], 2)
    if cap == CAP_PM:
        return 8
    if cap == CAP_MSI:
        flags = config[at + 2] | config[at + 3] << 8
        return 10 + (4 if flags & 0x80 else 0) + (10 if flags & 0x100 else 0)
    if cap == CAP_EXP:
        return 0x3C if (config[at + 2] & 0x0F) >= 2 else 0x14
    return 2


def _cap_wmask(config: bytes, at: int, cap: int, size: int, wmask: bytearray) -> None:
    def writable(start: int, stop: int, bits: int = 0xFF) -> None:
        for i in range(at + start, min(at + stop, at + size, len(wmask))):
            wmask[i] |= bits

    if cap == CAP_MSIX:
        writable(3, 4, 0xC0)  # enable and function mask
    elif cap == CAP_VENDOR and size > 3 and config[at + 3] == VIRTIO_PCI_CAP_PCI_CFG:
        writable(4, 5)
        writable(8, 20)  # offset, length, data window
    elif cap == CAP_PM:
        writable(4, 6)
    elif cap == CAP_MSI:
        writable(2, 3, 0x71)
        writable(4, size)
    elif cap == CAP_EXP:
        for start, stop in ((8, 12), (0x10, 0x14), (0x18, 0x24), (0x28, 0x2C), (0x30, 0x3C)):
            writable(start, stop)


def masks(config: bytes) -> tuple[bytearray, bytearray, bytearray]:
    """(cmask, wmask, w1cmask) of a device whose current config space is ``config``."""
    n = len(config)
    cmask, wmask, w1c = bytearray(n), bytearray(n), bytearray(n)
    for table, out in ((_HEADER_CMASK, cmask), (_HEADER_WMASK, wmask), (_W1CMASK, w1c)):
        for i, bits in table.items():
            if i < n:
                out[i] = bits
    at, seen = config[CAP_PTR] & 0xFC if n > CAP_PTR else 0, set()
    while HEADER <= at < min(n, 256) - 1 and at not in seen:
        seen.add(at)
        cap = config[at]
        size = _cap_size(config, at, cap) if at + 4 <= n else 2
        for i in range(at, min(at + size, n)):
            cmask[i] = 0xFF
        _cap_wmask(config, at, cap, size, wmask)
        at = config[at + 1] & 0xFC
    return cmask, wmask, w1c


def check_config(incoming: bytes, local: bytes) -> BadConfig | None:
    """The first byte QEMU would refuse when a device holding ``local`` loads ``incoming``."""
    if len(incoming) != len(local):
        return None  # a different config size fails an assertion, not this check
    cmask, wmask, w1c = masks(local)
    for i, (a, b) in enumerate(zip(incoming, local, strict=True)):
        if (a ^ b) & cmask[i] & ~wmask[i] & ~w1c[i] & 0xFF:
            return BadConfig(i, a, b, cmask[i], wmask[i], w1c[i])
    return None


def virtio_pci_config(blob: bytes) -> tuple[int, bytes] | None:
    """The PCI config inside a virtio-pci "virtio" blob: (offset in the blob, bytes).

    The blob starts with the transport's state: the PCIDevice description (be32 version_id,
    then the config space), reference §4. Virtio's vendor id 0x1af4 (little-endian) marks it.
    """
    if len(blob) < 4 + 256 or blob[4:6] != b"\xf4\x1a":
        return None
    config = blob[4 : 4 + 256]
    at, seen = config[CAP_PTR] & 0xFC, set()
    express = False
    while HEADER <= at < 255 and at not in seen:
        seen.add(at)
        express = express or config[at] == CAP_EXP
        at = config[at + 1] & 0xFC
    size = 4096 if express and len(blob) >= 4 + 4096 else 256
    return 4, blob[4 : 4 + size]
