"""The loader: a destination consumes a stream and ends with its state, or QEMU's first error.

Still pure: bytes go in through :meth:`Loader.feed`, the result comes out of
:meth:`Loader.close`. The :class:`Destination` is what the receiving VM knows about itself:
its machine type, its schemas, its RAM blocks and its sections. The checks and their texts
follow QEMU 7.2's loader (reference §1-§4): the machine type is compared exactly (stricter than
QEMU's prefix compare, §1.2); an unknown section or instance is fatal, an extra device on the
destination is not; a missing or cut vmdesc after EOF is only a warning, as in QEMU.
"""

from __future__ import annotations

from collections import deque
from itertools import repeat

from migcompat.errors import StreamError
from migcompat.model.memory import Memory, zeroed
from migcompat.model.ram import PageMap
from migcompat.stream.configuration import TARGET_PAGE_BITS, capabilities
from migcompat.stream.constants import RAM_SECTION, RAM_VERSION
from migcompat.stream.decoder import DONE, NEED_DATA, Decoder, Sentinel, unknown_section_error
from migcompat.stream.destination import (
    Destination,
    LoadedState,
    RamMode,
    RamObserver,
)
from migcompat.stream.events import (
    EOF,
    CompressedPage,
    Configuration,
    Event,
    MemSize,
    Page,
    SectionFull,
    SectionStart,
    SectionState,
    VMDescription,
    XbzrlePage,
    ZeroPage,
)
from migcompat.stream.ram_runs import RUN_PAGES, RUN_ZERO_FILLED, Run

# Capabilities QEMU 7.2 validates against the configuration section (reference §1.2).
VALIDATED_CAPABILITIES = frozenset({"x-ignore-shared"})
KNOWN_CAPABILITIES = frozenset(
    {
        "xbzrle",
        "rdma-pin-all",
        "auto-converge",
        "zero-blocks",
        "compress",
        "events",
        "postcopy-ram",
        "x-colo",
        "release-ram",
        "block",
        "return-path",
        "pause-before-switchover",
        "multifd",
        "dirty-bitmaps",
        "postcopy-blocktime",
        "late-block-activate",
        "x-ignore-shared",
        "validate-uuid",
        "background-snapshot",
        "zero-copy-send",
        "postcopy-preempt",
    }
)


class Loader:
    """Load a stream into a :class:`LoadedState` (feed bytes, then :meth:`close`)."""

    def __init__(self, destination: Destination, *, ram: RamMode = "dense",
                 observer: RamObserver | None = None) -> None:
        self.destination = destination
        self.ram_mode = ram
        self.observer = observer
        self.decoder = Decoder(
            destination.resolver,
            configuration=destination.configuration,
            footers=destination.footers,
            page_size=destination.page_size,
        )
        self.result = LoadedState()
        self._local_blocks = (
            None if destination.ram_blocks is None else {b.idstr: b for b in destination.ram_blocks}
        )
        self._sections = None if destination.sections is None else set(destination.sections)
        self._zero = bytes(destination.page_size)
        self._dirty: dict[str, set[int]] = {}  # dense mode: pages holding non-zero data
        # Per block, the highest offset a page was stored at: a zero page above it (the
        # usual case, pages arrive in order) has nothing to clear.
        self._top: dict[str, int] = {}
        self._seen_eof = False
        self._done = False
        self._at = 0  # offset of the event being handled

    def feed(self, data: bytes | memoryview, copy: bool = True) -> None:
        """Feed input and load everything it completes; raises the first StreamError.
        ``copy=False``: keep a view the caller will not change (see Decoder.feed)."""
        if data:
            self.decoder.feed(data, copy)
            self._pump()

    def close(self) -> LoadedState:
        """Mark the end of input, finish the load and return the state."""
        self.decoder.close()
        self._pump()
        if not self._done:  # pragma: no cover - a closed decoder always ends or raises
            raise StreamError("the stream did not end", offset=self.decoder.offset)
        self.result.bytes_read = self.decoder.offset
        self.result.ram_written = self._dirty
        return self.result

    @property
    def done(self) -> bool:
        """True once the stream has ended (EOF and its description): no more input needed."""
        return self._done

    def _pump(self) -> None:
        dec = self.decoder
        while not self._done:
            self._at = dec.offset
            if self._ram_runs():
                continue
            try:
                event = dec.next_event()
            except StreamError as exc:
                if not self._seen_eof:
                    raise
                # QEMU reads the vmdesc only to skip it: a cut or bad one is not fatal.
                self.result.warnings.append(f"vmdesc could not be read: {exc}")
                self._done = True
                return
            if event is NEED_DATA:
                return
            if event is DONE:
                if self.result.vmdesc is None:
                    got = dec.after_eof_byte or 0
                    self.result.warnings.append(f"Expected vmdescription section, but got {got}")
                self._done = True
                return
            assert not isinstance(event, Sentinel)
            self._handle(event)

    def _fail(self, message: str, section: str | None = None, at: int | None = None) -> StreamError:
        return StreamError(message, offset=self._at if at is None else at, section=section)

    def _handle(self, event: Event) -> None:
        if isinstance(event, Page | ZeroPage):
            self._pages([event])
        elif isinstance(event, SectionState):
            header = self.decoder.current
            assert header is not None
            self.result.sections[(header.idstr, header.instance_id)] = event.state
        elif isinstance(event, SectionFull | SectionStart):
            self._section(event)
        elif isinstance(event, MemSize):
            self._mem_size(event)
        elif isinstance(event, Configuration):
            self._configuration(event)
        elif isinstance(event, XbzrlePage):
            raise self._fail("XBZRLE pages are not supported by this loader", RAM_SECTION)
        elif isinstance(event, CompressedPage):
            raise self._fail("Received an unexpected compressed page", RAM_SECTION)
        elif isinstance(event, EOF):
            self._seen_eof = True
        elif isinstance(event, VMDescription):
            self.result.vmdesc = event

    def _configuration(self, event: Configuration) -> None:
        self.result.machine = event.machine
        local = self.destination.machine
        if local is not None and event.machine != local:
            raise self._fail(
                f"Machine type received is '{event.machine}' and local is '{local}'",
                "configuration",
            )
        for sub in event.subsections:
            if sub.name == TARGET_PAGE_BITS.name:
                bits = self.destination.page_size.bit_length() - 1
                got = sub["target_page_bits"]
                if got != bits:
                    raise self._fail(
                        f"Received TARGET_PAGE_BITS is {got!s} but local is {bits}",
                        "configuration",
                    )
        received = set(capabilities(event.subsections))
        for name in sorted(received - KNOWN_CAPABILITIES):
            raise self._fail(f"Received unknown capability {name}", "configuration")
        for name in sorted(VALIDATED_CAPABILITIES):
            mine, theirs = name in self.destination.capabilities, name in received
            if mine != theirs:
                raise self._fail(
                    f"Capability {name} is {'on' if mine else 'off'}, but received "
                    f"capability is {'on' if theirs else 'off'}",
                    "configuration",
                )

    def _section(self, event: SectionFull | SectionStart) -> None:
        if event.idstr == RAM_SECTION and event.instance_id == 0:
            if event.version_id != RAM_VERSION:
                # QEMU's RAM loader returns -EINVAL with no message of its own (reference §3.3).
                raise self._fail(
                    f"error while loading state for instance 0x0 of device 'ram' "
                    f"(RAM section version {event.version_id}, expected 4)",
                    RAM_SECTION,
                )
            return
        key = (event.idstr, event.instance_id)
        if self._sections is not None:
            known = key in self._sections
        else:
            resolver = self.destination.resolver
            known = resolver is not None and resolver(*key, event.version_id) is not None
        if not known:
            raise unknown_section_error(event.idstr, event.instance_id, self._at)

    def _mem_size(self, event: MemSize) -> None:
        for block in event.blocks:
            size = block.used_length
            if self._local_blocks is not None:
                local = self._local_blocks.get(block.idstr)
                if local is None:
                    raise self._fail(
                        f'Unknown ramblock "{block.idstr}", cannot accept migration', RAM_SECTION
                    )
                if size != local.used_length:
                    if local.max_length is None:
                        raise self._fail(
                            f"Size mismatch: {block.idstr}: 0x{size:x} != "
                            f"0x{local.used_length:x}: Invalid argument",
                            RAM_SECTION,
                        )
                    if size > local.max_length:
                        raise self._fail(
                            f"Size too large: {block.idstr}: 0x{size:x} > "
                            f"0x{local.max_length:x}: Invalid argument",
                            RAM_SECTION,
                        )
            self.result.ram_sizes[block.idstr] = size
            if self.ram_mode == "dense" and block.idstr not in self.result.ram:
                self.result.ram[block.idstr] = zeroed(size, populate=True)
            elif self.ram_mode == "sparse":
                self.result.ram_pages[block.idstr] = PageMap(self.destination.page_size)

    def _page_error(self, batch: list[Page | ZeroPage], index: int, message: str) -> StreamError:
        at = self._at
        for rec in batch[:index]:
            at += (9 if isinstance(rec, ZeroPage) else 8 + self.destination.page_size) + (
                0 if rec.continued else 1 + len(rec.block.encode())
            )
        return self._fail(message, RAM_SECTION, at)

    def _ram_runs(self) -> bool:
        """Load the runs of CONTINUE records buffered for a known block, if any."""
        dec = self.decoder
        block = dec.last_block
        size = None if block is None else self.result.ram_sizes.get(block)
        if size is None:
            return False
        assert block is not None
        view, runs = dec.next_ram_runs(size)
        if not runs:
            return False
        self._apply_runs(block, view, runs)
        return True

    def _apply_runs(self, block: str, view: memoryview, runs: list[Run]) -> None:
        ps, mode, observer = self.destination.page_size, self.ram_mode, self.observer
        rec = ps + 8
        pagemap = self.result.ram_pages.get(block) if mode == "sparse" else None
        mem = self.result.ram.get(block) if mode == "dense" else None
        written = self._dirty.setdefault(block, set()) if mode == "dense" else None
        top = self._top.get(block, -1)
        pages = zeros = 0
        for kind, offset, count, pos in runs:
            stop = offset + count * ps
            if kind == RUN_PAGES:
                pages += count
                if pagemap is not None:  # zero-copy: the records stay in the fed input
                    pagemap.add_records(offset, count, view[pos : pos + count * rec])
                elif mem is not None and written is not None:
                    for i in range(count):
                        at = pos + 8 + i * rec
                        mem[offset + i * ps : offset + (i + 1) * ps] = view[at : at + ps]
                    written.update(range(offset, stop, ps))
                top = max(top, stop - ps)
                if observer is not None:
                    observer.page_records(block, offset, count, view[pos : pos + count * rec])
                continue
            if kind == RUN_ZERO_FILLED:
                pages += count
            else:
                zeros += count
            if offset <= top:
                if pagemap is not None:
                    deque(map(pagemap.pop, range(offset, stop, ps), repeat(None)), 0)
                elif mem is not None and written is not None:
                    for o in written.intersection(range(offset, stop, ps)):
                        mem[o : o + ps] = self._zero
                        written.discard(o)
            if observer is not None:
                observer.zero_pages(block, offset, count)
        self._top[block] = top
        self.result.pages += pages
        self.result.zero_pages += zeros

    def _pages(self, batch: list[Page | ZeroPage]) -> None:
        ps, sizes, mode = self.destination.page_size, self.result.ram_sizes, self.ram_mode
        dense, sparse, dirty = self.result.ram, self.result.ram_pages, self._dirty
        observer, zero = self.observer, self._zero
        name, size = None, 0
        mem: Memory = bytearray()
        pagemap = PageMap(ps)
        written: set[int] = set()
        pages = 0
        for i, rec in enumerate(batch):
            block, offset, payload, _ = rec
            if block != name:
                if block not in sizes:
                    raise self._page_error(batch, i, f"Can't find block {block}")
                name, size = block, sizes[block]
                mem, pagemap = dense.get(block, mem), sparse.get(block, pagemap)
                written = dirty.setdefault(block, set())
            if offset >= size:
                raise self._page_error(batch, i, f"Illegal RAM offset {offset:x}")
            if isinstance(payload, int):  # a zero page: one fill byte (QEMU sends 0)
                data: bytes | memoryview | None = bytes((payload,)) * ps if payload else None
            else:
                pages += 1
                # A full page of zeros is a zero page all the same (sparse keeps none).
                data = None if payload[0] == 0 and bytes(payload) == zero else payload
            if data is None:
                if mode == "dense":
                    # A fresh mapping is already zero: only a page written before needs it.
                    if offset in written:
                        mem[offset : offset + ps] = zero
                        written.discard(offset)
                elif mode == "sparse":
                    pagemap.pop(offset, None)
                if observer is not None:
                    observer.zero_pages(block, offset, 1)
                continue
            if mode == "dense":
                mem[offset : offset + ps] = data
                written.add(offset)
            elif mode == "sparse":
                pagemap[offset] = data  # zero-copy: a read-only view of the fed input
            self._top[block] = max(self._top.get(block, -1), offset)
            if observer is not None:
                observer.page(block, offset, data)
        self.result.pages += pages
        self.result.zero_pages += len(batch) - pages


def load_stream(data: bytes, destination: Destination, *, ram: RamMode = "dense",
                observer: RamObserver | None = None) -> LoadedState:
    """Load a whole stream held in memory."""
    loader = Loader(destination, ram=ram, observer=observer)
    loader.feed(data)
    return loader.close()
