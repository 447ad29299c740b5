"""The decoder's fast paths over runs of RAM page records (no event per page).

A mixin of :class:`migcompat.stream.decoder.Decoder`: each method works only in the RAM
state on records already buffered, and returns nothing (so the caller goes on with
``next_event``) when the next unit is anything else. Which one to use depends on the
consumer: events (``next_ram_batch``, rewrite), whole runs checked at once
(``next_ram_runs``: the Loader, analyze and its --extract), or counts (``count_ram_batch``,
the state capture's walk).
"""

from __future__ import annotations

from migcompat.errors import StreamError
from migcompat.stream.buffer import ReceiveBuffer
from migcompat.stream.events import Page, ZeroPage
from migcompat.stream.ram import BE64, CONTINUE, PAGE, ZERO, count_records
from migcompat.stream.ram_runs import Run, scan_runs
from migcompat.stream.states import State

_NO_VIEW = memoryview(b"")


class RamFastPaths:
    # Set by the Decoder.
    _buf: ReceiveBuffer
    _error: StreamError | None
    state: State
    page_size: int
    last_block: str | None

    def next_ram_batch(self, limit: int = 4096) -> list[Page | ZeroPage]:
        """Fast path: up to ``limit`` consecutive CONTINUE page/zero records already buffered.

        Returns an empty list when the next unit is anything else (use :meth:`next_event`).
        """
        if self.state is not State.RAM or self._error is not None or self.last_block is None:
            return []
        view, start = self._buf.view()
        pos, end, size, block = start, len(view), self.page_size, self.last_block
        flag_mask = size - 1
        unpack, new = BE64.unpack_from, tuple.__new__
        out: list[Page | ZeroPage] = []
        append = out.append
        while len(out) < limit and pos + 8 <= end:
            header = unpack(view, pos)[0]
            flags = header & flag_mask
            if flags == PAGE | CONTINUE:
                stop = pos + 8 + size
                if stop > end:
                    break
                append(new(Page, (block, header - flags, view[pos + 8 : stop], True)))
                pos = stop
            elif flags == ZERO | CONTINUE and pos + 9 <= end:
                append(new(ZeroPage, (block, header - flags, view[pos + 8], True)))
                pos += 9
            else:
                break
        self._buf.advance(pos - start)
        return out

    def next_ram_runs(self, below: int, limit: int = 1 << 20) -> tuple[memoryview, list[Run]]:
        """Fast path for loading RAM: the consecutive CONTINUE page/zero records already
        buffered (at most ``limit``, none at an offset >= ``below``), as runs of pages at
        consecutive offsets (see :func:`migcompat.stream.ram_runs.scan_runs`), with the view their
        positions refer to. No runs when the next unit is anything else (use
        :meth:`next_event`). The records belong to :attr:`last_block`."""
        if self.state is not State.RAM or self._error is not None or self.last_block is None:
            return _NO_VIEW, []
        view, start = self._buf.view()
        runs, end = scan_runs(view, start, self.page_size, below, limit)
        rec = self.page_size + 8
        if not runs and len(view) - start < rec and self._buf.available >= rec:
            # A record cut by the end of a fed chunk: join one record's worth of bytes
            # (a small copy) rather than go through next_event at every chunk boundary.
            joined = self._buf.need(rec)
            assert joined is not None
            view, start = joined
            runs, end = scan_runs(view, start, self.page_size, below, limit)
        self._buf.advance(end - start)
        return view, runs

    def count_ram_batch(self, limit: int = 1 << 20) -> tuple[int, int, int]:
        """Fast path for statistics: skip up to ``limit`` consecutive CONTINUE page/zero
        records already buffered, without making events.

        Returns (full pages, zero pages, zero pages whose fill byte is not 0); all zero when
        the next unit is anything else (use :meth:`next_event`). The records belong to
        :attr:`last_block`."""
        if self.state is not State.RAM or self._error is not None or self.last_block is None:
            return 0, 0, 0
        view, start = self._buf.view()
        full, zeros, fill, end = count_records(view, start, self.page_size, limit)
        self._buf.advance(end - start)
        return full, zeros, fill
