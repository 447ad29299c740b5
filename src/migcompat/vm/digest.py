"""The end-to-end digest of a VM's state: every section's bytes and every non-zero RAM page.

Both sides compute it: the source while it streams (it reads every page anyway) and the
destination while it loads (:class:`LoadDigest`), falling back to its loaded state when the
stream did not send the pages once each in order. RAM is hashed as (tag, content) of its
non-zero pages in ascending order, block by block, so neither side has to read the untouched
zero pages of a large guest. A page's tag is be64(offset | PAGE | CONTINUE): the header of the
CONTINUE page record that carries it, so a run of such records is hashed as it is on the
wire, in one call. xxh3 runs at memory speed, so the check costs little next to the transfer.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence

import xxhash

from migcompat.model.ram import RamBlock
from migcompat.stream.constants import RamFlag

_BE64 = struct.Struct(">Q")
PAGE_TAG = int(RamFlag.PAGE | RamFlag.CONTINUE)


class StateDigest:
    def __init__(self) -> None:
        self._h = xxhash.xxh3_64()

    def block(self, idstr: str, size: int) -> None:
        self._h.update(f"ram\0{idstr}\0{size}\0".encode())

    def page(self, offset: int, data: bytes | bytearray | memoryview) -> None:
        """A non-zero page (the caller skips zero ones)."""
        self._h.update(_BE64.pack(offset | PAGE_TAG))
        self._h.update(data)

    def page_records(self, records: bytes | bytearray | memoryview) -> None:
        """Non-zero pages as back-to-back CONTINUE page records (be64 header, then the page):
        the same as :meth:`page` on each."""
        self._h.update(records)

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


class LoadDigest:
    """The RAM part of a :class:`StateDigest`, computed while a stream loads (a
    ``stream.destination.RamObserver``): pages are hashed as they arrive, in stream order.

    That equals the digest of the loaded state when every block's pages came once each, in
    ascending order, with the blocks in ``layout`` order; otherwise :meth:`ram_digest` says
    None and the caller hashes the loaded state instead."""

    def __init__(self, layout: Sequence[tuple[str, int]], page_size: int) -> None:
        self._digest = StateDigest()
        self._page_size = page_size
        self._layout = list(layout)
        self._next = 0  # index in layout of the next block to enter
        self._block: str | None = None
        self._last = -1  # the last offset seen in the current block
        self.in_order = True

    def _enter(self, block: str, offset: int) -> bool:
        if not self.in_order:
            return False
        if block != self._block:
            names = [name for name, _ in self._layout[self._next :]]
            if block not in names:  # a block seen before, or one we do not have
                self.in_order = False
                return False
            for name, size in self._layout[self._next : self._next + names.index(block) + 1]:
                self._digest.block(name, size)
            self._next += names.index(block) + 1
            self._block, self._last = block, -1
        if offset <= self._last:
            self.in_order = False
            return False
        return True

    def page_records(self, block: str, offset: int, count: int, records: memoryview) -> None:
        if self._enter(block, offset):
            self._digest.page_records(records)
            self._last = offset + (count - 1) * self._page_size

    def page(self, block: str, offset: int, data: bytes | memoryview) -> None:
        if self._enter(block, offset):
            self._digest.page(offset, data)
            self._last = offset

    def zero_pages(self, block: str, offset: int, count: int) -> None:
        if self._enter(block, offset):
            # Zero pages are not hashed; later pages must still come above them.
            self._last = offset + (count - 1) * self._page_size

    def ram_digest(self) -> StateDigest | None:
        """The digest with all RAM in it (the remaining block headers added), or None when
        the stream's order does not allow it."""
        if not self.in_order:
            return None
        for name, size in self._layout[self._next :]:
            self._digest.block(name, size)
        self._next = len(self._layout)
        return self._digest
