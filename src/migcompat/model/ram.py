"""Guest RAM: named blocks of bytes with deterministic, seeded content.

A VM of ``-m SIZE`` has a ``pc.ram`` block of that size (QEMU's name on x86) and a small
``pc.bios`` block, like the block list of a real x86 stream (reference §3.2). Content is
seeded so that two processes given the same configuration hold the same bytes, and most
pages are zero, as in a freshly booted guest.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from migcompat.model.memory import Memory, zeroed

PAGE_SIZE = 4096  # x86 TARGET_PAGE_SIZE
BIOS_SIZE = 256 << 10


@dataclass
class RamBlock:
    """A RAMBlock. ``written`` lists the pages ever written (None: unknown); every other
    page is zero and is never read, so an untouched guest costs nothing to scan."""

    idstr: str
    data: Memory
    written: set[int] | None = None

    @property
    def used_length(self) -> int:
        return len(self.data)


@dataclass
class GuestRAM:
    blocks: list[RamBlock]

    @property
    def total(self) -> int:
        return sum(b.used_length for b in self.blocks)

    def block(self, idstr: str) -> RamBlock | None:
        for b in self.blocks:
            if b.idstr == idstr:
                return b
        return None

    def layout(self) -> list[tuple[str, int]]:
        return [(b.idstr, b.used_length) for b in self.blocks]


def empty_ram(mem: int) -> GuestRAM:
    """The destination's RAM before a load: all zero, same layout as the source's."""
    return GuestRAM([RamBlock("pc.ram", zeroed(mem), set()),
                     RamBlock("pc.bios", zeroed(BIOS_SIZE), set())])


def seeded_ram(mem: int, seed: int, data_bytes: int | None = None) -> GuestRAM:
    """RAM whose first ``data_bytes`` (default 1/64 of RAM) are seeded random, rest zero.

    The random pages sit above 4 MiB, where ``-device loader,addr=0x400000`` puts data in
    the benchmark's real-QEMU guest, so both carry the same shape of RAM.
    """
    if mem % PAGE_SIZE:
        raise ValueError(f"RAM size {mem} is not a multiple of the {PAGE_SIZE}-byte page")
    ram = empty_ram(mem)
    if data_bytes is None:
        data_bytes = mem // 64
    start = min(4 << 20, mem // 2)
    data_bytes = min(data_bytes, mem - start)
    data_bytes -= data_bytes % PAGE_SIZE
    rng = random.Random(seed)
    # randbytes takes at most 2**31 bits at once: fill in 64 MiB steps.
    step = 64 << 20
    for off in range(start, start + data_bytes, step):
        n = min(step, start + data_bytes - off)
        ram.blocks[0].data[off:off + n] = rng.randbytes(n)
    ram.blocks[0].written = set(range(start, start + data_bytes, PAGE_SIZE))
    bios = ram.blocks[1]
    bios.data[-PAGE_SIZE:] = rng.randbytes(PAGE_SIZE)  # the reset vector page is never zero
    bios.written = {BIOS_SIZE - PAGE_SIZE}
    return ram
