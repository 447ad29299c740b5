"""The end-to-end digest of a VM's state: every section's bytes and every non-zero RAM page.

Both sides compute it: the source while it streams (it reads every page anyway) and the
destination from what it loaded. RAM is hashed as (offset, content) of its non-zero pages,
block by block, so neither side has to read the untouched zero pages of a large guest. xxh3
runs at memory speed, so the check costs little next to the transfer.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

import xxhash

from migcompat.model.ram import RamBlock

_BE64 = struct.Struct(">Q")


class StateDigest:
    def __init__(self) -> None:
        self._h = xxhash.xxh3_64()

    def block(self, idstr: str, size: int) -> None:
        self._h.update(f"ram\0{idstr}\0{size}\0".encode())

    def page(self, offset: int, data: bytes | bytearray | memoryview) -> None:
        """A non-zero page (the caller skips zero ones)."""
        self._h.update(_BE64.pack(offset))
        self._h.update(data)

    def ram_block(self, block: RamBlock) -> None:
        """A block's header and all of its non-zero pages."""
        self.block(block.idstr, block.used_length)
        for off, page in block.nonzero_pages():
            self.page(off, page)

    def sections(self, items: Iterable[tuple[str, int, bytes]]) -> None:
        for idstr, instance, body in sorted(items):
            self._h.update(f"{idstr}\0{instance}\0{len(body)}\0".encode())
            self._h.update(body)

    def hexdigest(self) -> str:
        return self._h.hexdigest()
