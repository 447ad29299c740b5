"""Guest RAM: named blocks of pages with deterministic, seeded content.

A VM of ``-m SIZE`` has a ``pc.ram`` block of that size (QEMU's name on x86) and a small
``pc.bios`` block, like the block list of a real x86 stream (reference §3.2). Content is
seeded so that two processes given the same configuration hold the same bytes, and most
pages are zero, as in a freshly booted guest.

A block is held one of two ways. *Dense*: one buffer, plus the set of pages ever written
(all others are zero and never read, so an untouched guest costs nothing to scan). *Sparse*:
only its non-zero pages, by offset; a migration target keeps the received pages like that,
without copying them (see ``stream.Loader`` sparse mode). Readers use :meth:`RamBlock.pages`.
"""

from __future__ import annotations

import random
from bisect import bisect_right
from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass, field

from migcompat.errors import EnvironmentProblem, UsageError
from migcompat.model.memory import Memory, zeroed

PAGE_SIZE = 4096  # x86 TARGET_PAGE_SIZE
BIOS_SIZE = 256 << 10
ZERO_PAGE = bytes(PAGE_SIZE)
Page = bytes | memoryview


class PageMap(MutableMapping[int, Page]):
    """Pages by offset, as a dict would hold them, where long runs of pages are kept as the
    page records that carried them (no object per page until one is asked for).

    A migration target receives a quarter of a million pages per GiB; making a view and a
    dict entry for each costs more than the rest of the load. :meth:`add_records` keeps a run
    of CONTINUE page records (8-byte header, then the page; ``records`` is usually a view of
    the received bytes) as one entry. Changing or removing a page inside a run first turns
    that run into single pages. Iteration is in ascending offset order."""

    def __init__(self, page_size: int = PAGE_SIZE) -> None:
        self.page_size = page_size
        self._pages: dict[int, Page] = {}
        self._starts: list[int] = []  # first offsets of the runs, ascending
        self._runs: dict[int, tuple[memoryview, int]] = {}  # first offset -> (records, count)
        self._in_runs = 0  # pages held in runs
        self._top = -1  # the highest offset ever held

    def add_records(self, offset: int, count: int, records: memoryview) -> None:
        """Hold ``count`` pages at consecutive offsets from ``offset``, given as ``count``
        page records back to back in ``records``."""
        rec = self.page_size + 8
        if len(records) != count * rec:
            raise ValueError(f"{count} page records are {count * rec} bytes, not {len(records)}")
        if offset > self._top:  # above everything held: no page is replaced
            self._starts.append(offset)
            self._runs[offset] = (records, count)
            self._in_runs += count
            self._top = offset + (count - 1) * self.page_size
            return
        for i in range(count):
            self[offset + i * self.page_size] = records[i * rec + 8 : (i + 1) * rec]

    def _run_of(self, offset: int) -> tuple[int, int] | None:
        """(first offset, index) of the run holding ``offset``, if one does."""
        i = bisect_right(self._starts, offset) - 1
        if i < 0:
            return None
        first = self._starts[i]
        k, rest = divmod(offset - first, self.page_size)
        return (first, k) if not rest and k < self._runs[first][1] else None

    def _unpack_run(self, offset: int) -> None:
        """Turn the run holding ``offset`` (if any) into single pages."""
        found = self._run_of(offset)
        if found is None:
            return
        first = found[0]
        records, count = self._runs.pop(first)
        self._starts.remove(first)
        self._in_runs -= count
        rec = self.page_size + 8
        for i in range(count):
            self._pages[first + i * self.page_size] = records[i * rec + 8 : (i + 1) * rec]

    def __getitem__(self, offset: int) -> Page:
        page = self._pages.get(offset)
        if page is not None:
            return page
        found = self._run_of(offset)
        if found is None:
            raise KeyError(offset)
        first, k = found
        rec = self.page_size + 8
        return self._runs[first][0][k * rec + 8 : (k + 1) * rec]

    def __contains__(self, offset: object) -> bool:
        if not isinstance(offset, int):
            return False
        return offset in self._pages or self._run_of(offset) is not None

    def __setitem__(self, offset: int, page: Page) -> None:
        self._unpack_run(offset)
        self._pages[offset] = page
        self._top = max(self._top, offset)

    def __delitem__(self, offset: int) -> None:
        self._unpack_run(offset)
        del self._pages[offset]

    def __len__(self) -> int:
        return len(self._pages) + self._in_runs

    def __iter__(self) -> Iterator[int]:
        ps = self.page_size
        in_runs = [range(first, first + self._runs[first][1] * ps, ps) for first in self._starts]
        if not self._pages:
            return (offset for run in in_runs for offset in run)
        return iter(sorted([*self._pages, *(offset for run in in_runs for offset in run)]))


@dataclass
class RamBlock:
    idstr: str
    used_length: int
    data: Memory | None = None  # dense content
    written: set[int] | None = None  # dense: pages ever written (None: unknown, scan all)
    sparse: MutableMapping[int, Page] | None = None  # sparse content: non-zero pages by offset
    nonzero: bool = False  # sparse: no page in ``sparse`` is all zero (no need to look)

    def page_reader(self) -> Callable[[int], Page | None]:
        """A function giving the page at an offset, or None when it is all zero."""
        if self.sparse is not None:
            pages = self.sparse
            if self.nonzero:
                return lambda off: pages.get(off)

            def read_sparse(off: int) -> Page | None:
                page = pages.get(off)
                # A full-page record may still carry zeros: it is a zero page all the same.
                return None if page is None or bytes(page) == ZERO_PAGE else page
            return read_sparse
        assert self.data is not None, f"block {self.idstr} holds no content"
        view, written = memoryview(self.data), self.written

        def read(off: int) -> Page | None:
            if written is not None and off not in written:
                return None
            page = view[off:off + PAGE_SIZE]
            return None if page.tobytes() == ZERO_PAGE else page
        return read

    def nonzero_pages(self) -> Iterator[tuple[int, Page]]:
        """(offset, content) of every non-zero page, in ascending order."""
        read = self.page_reader()
        if self.sparse is not None:
            candidates: Iterator[int] | list[int] = sorted(self.sparse)
        elif self.written is not None:
            candidates = sorted(self.written)
        else:
            candidates = iter(range(0, self.used_length, PAGE_SIZE))
        for off in candidates:
            page = read(off)
            if page is not None:
                yield off, page

    def contents(self) -> bytes:
        """The whole block as bytes (for tests and small blocks)."""
        if self.sparse is None:
            assert self.data is not None
            return bytes(self.data[:self.used_length])
        out = bytearray(self.used_length)
        for off, page in self.sparse.items():
            out[off:off + PAGE_SIZE] = page
        return bytes(out)


@dataclass
class GuestRAM:
    blocks: list[RamBlock] = field(default_factory=list)

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


def _dense(idstr: str, size: int) -> RamBlock:
    try:
        return RamBlock(idstr, size, zeroed(size), set())
    except (OSError, OverflowError, MemoryError) as exc:  # the host cannot map that much
        reason = getattr(exc, "strerror", None) or "Cannot allocate memory"
        raise EnvironmentProblem(f"cannot set up guest memory '{idstr}': {reason} "
                                 f"({size} bytes)") from None


def empty_ram(mem: int) -> GuestRAM:
    """RAM of a VM before it runs: all zero, the layout every VM of size ``mem`` has."""
    return GuestRAM([_dense("pc.ram", mem), _dense("pc.bios", BIOS_SIZE)])


def seeded_ram(mem: int, seed: int, data_bytes: int | None = None) -> GuestRAM:
    """RAM whose first ``data_bytes`` (default 1/64 of RAM) are seeded random, rest zero.

    The random pages sit from 4 MiB up (lower only when they would not fit), where
    ``-device loader,addr=0x400000`` puts data in the benchmark's real-QEMU guest, so
    both carry the same shape of RAM.
    """
    if mem % PAGE_SIZE:
        raise ValueError(f"RAM size {mem} is not a multiple of the {PAGE_SIZE}-byte page")
    if data_bytes is None:
        data_bytes = mem // 64
    if data_bytes > mem:  # asked for more than the guest has: say so, never cap it silently
        raise UsageError(f"--ram-data: {data_bytes} bytes do not fit in the guest's "
                         f"{mem}-byte RAM")
    # Data moves down from 4 MiB only as far as it must to fit.
    start = min(4 << 20, mem // 2, mem - data_bytes)
    ram = empty_ram(mem)
    data_bytes -= data_bytes % PAGE_SIZE
    rng = random.Random(seed)
    main, bios = ram.blocks
    assert main.data is not None and bios.data is not None
    # randbytes takes at most 2**31 bits at once: fill in 64 MiB steps.
    step = 64 << 20
    for off in range(start, start + data_bytes, step):
        n = min(step, start + data_bytes - off)
        main.data[off:off + n] = rng.randbytes(n)
    main.written = set(range(start, start + data_bytes, PAGE_SIZE))
    bios.data[-PAGE_SIZE:] = rng.randbytes(PAGE_SIZE)  # the reset vector page is never zero
    bios.written = {BIOS_SIZE - PAGE_SIZE}
    return ram
