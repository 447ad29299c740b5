"""The decoder's receive buffer: chunks in, contiguous views out, absolute offsets kept.

Fed chunks are kept as they are (``bytes`` are not copied; other buffers are copied once,
since the caller may reuse them). Parsers read from a memoryview of the current chunk, so page
payloads can be handed out as zero-copy slices. Only a unit that straddles two chunks is
joined, and only the bytes it needs (plus, on request, a little read-ahead for VMState bodies).
"""

from __future__ import annotations

from collections import deque

_EMPTY = memoryview(b"")
READ_AHEAD = 64 * 1024  # extra bytes joined for VMState bodies, so retries copy less


class ReceiveBuffer:
    __slots__ = ("_base", "_cur", "_pos", "_queue", "_queued", "closed")

    def __init__(self) -> None:
        self._cur = _EMPTY  # the chunk being read
        self._pos = 0  # read position in _cur
        self._base = 0  # absolute stream offset of _cur[0]
        self._queue: deque[memoryview] = deque()
        self._queued = 0  # bytes waiting in _queue
        self.closed = False

    def feed(self, data: bytes | bytearray | memoryview, copy: bool = True) -> None:
        if self.closed and data:
            raise ValueError("data fed after the end of input")
        if not data:
            return
        if isinstance(data, bytes) or not copy:
            chunk = memoryview(data).cast("B")
        else:
            chunk = memoryview(bytes(data))
        self._queue.append(chunk)
        self._queued += len(chunk)

    @property
    def offset(self) -> int:
        """Absolute offset of the next unread byte."""
        return self._base + self._pos

    @property
    def end(self) -> int:
        """Absolute offset just past the last byte fed."""
        return self._base + len(self._cur) + self._queued

    @property
    def available(self) -> int:
        return len(self._cur) - self._pos + self._queued

    def view(self) -> tuple[memoryview, int]:
        """The current contiguous chunk and the read position in it (maybe nothing left)."""
        if self._pos == len(self._cur) and self._queue:
            self._next_chunk()
        return self._cur, self._pos

    def need(self, n: int, read_ahead: bool = False) -> tuple[memoryview, int] | None:
        """A view with at least ``n`` contiguous unread bytes at the returned position,
        or None when fewer than ``n`` bytes have been fed."""
        cur, pos = self._cur, self._pos
        if len(cur) - pos >= n:
            return cur, pos
        if self.available < n:
            return None
        if pos == len(cur):
            self._next_chunk()
            cur, pos = self._cur, self._pos
            if len(cur) >= n:
                return cur, pos
        want = max(n, min(self.available, n + READ_AHEAD)) if read_ahead else n
        parts = [cur[pos:]]
        have = len(cur) - pos
        while have < want:
            chunk = self._queue[0]
            take = min(len(chunk), want - have)
            parts.append(chunk[:take])
            if take == len(chunk):
                self._queue.popleft()
            else:
                self._queue[0] = chunk[take:]
            self._queued -= take
            have += take
        self._base += pos
        self._cur = memoryview(b"".join(parts))
        self._pos = 0
        return self._cur, 0

    def advance(self, n: int) -> None:
        if self._pos + n > len(self._cur):
            raise AssertionError("advance past the contiguous view")
        self._pos += n

    def take_rest(self) -> bytes:
        """Everything unread (for ``trailing_data``); the buffer is empty afterwards."""
        rest = bytes(self._cur[self._pos :]) + b"".join(bytes(c) for c in self._queue)
        self._base = self.end
        self._cur, self._pos = _EMPTY, 0
        self._queue.clear()
        self._queued = 0
        return rest

    def peek_rest(self) -> bytes:
        return bytes(self._cur[self._pos :]) + b"".join(bytes(c) for c in self._queue)

    def _next_chunk(self) -> None:
        self._base += len(self._cur)
        self._cur = self._queue.popleft()
        self._queued -= len(self._cur)
        self._pos = 0
