"""QEMU-style ``-device`` specs: ``virtio-blk-pci,id=vb0,num-queues=2``."""

from __future__ import annotations

from dataclasses import dataclass

from migcompat.errors import UsageError


@dataclass(frozen=True)
class DeviceSpec:
    driver: str
    id: str | None = None
    options: tuple[tuple[str, str], ...] = ()
    bus: str | None = None  # like id, an option of -device itself, not a property

    def text(self) -> str:
        parts = [self.driver]
        if self.id:
            parts.append(f"id={self.id}")
        if self.bus:
            parts.append(f"bus={self.bus}")
        parts += [f"{k}={v.replace(',', ',,')}" for k, v in self.options]
        return ",".join(parts)


def split_options(text: str) -> list[str]:
    """Split on commas; QemuOpts escapes a literal comma as ``,,``."""
    items: list[str] = []
    cur: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == ",":
            if i + 1 < len(text) and text[i + 1] == ",":
                cur.append(",")
                i += 2
                continue
            items.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
        i += 1
    items.append("".join(cur))
    return items


# -device names QEMU takes for another type on a PC, never type names themselves
# (qdev_alias_table in system/qdev-monitor.c; the virtio ones are the PCI transport's on
# x86). libvirt writes "ahci" for every SATA controller after the board's.
DEVICE_ALIASES = {
    "ahci": "ich9-ahci", "e1000-82540em": "e1000", "lsi": "lsi53c895a", "ac97": "AC97",
    "es1370": "ES1370",
    **{f"virtio-{n}": f"virtio-{n}-pci" for n in (
        "9p", "balloon", "blk", "gpu", "gpu-gl", "input-host", "iommu", "keyboard", "mouse",
        "net", "rng", "scsi", "serial", "tablet")},
}


def parse_device(text: str) -> DeviceSpec:
    items = split_options(text)
    driver = ""
    dev_id: str | None = None
    bus: str | None = None
    options: list[tuple[str, str]] = []
    for pos, item in enumerate(items):
        key, eq, value = item.partition("=")
        if pos == 0 and not eq:
            driver = key
            continue
        if not eq:
            raise UsageError(f"invalid device spec '{text}': '{item}' is not KEY=VALUE")
        if key == "driver":
            driver = value
        elif key == "id":
            dev_id = value
        elif key == "bus":
            bus = value
        else:
            options.append((key, value))
    if not driver:
        raise UsageError(f"invalid device spec '{text}': no driver name")
    return DeviceSpec(DEVICE_ALIASES.get(driver, driver), dev_id, tuple(options), bus)
