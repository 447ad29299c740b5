"""What the stream tools read: the whole stream in memory, or a :class:`ChunkedInput`.

A stream file on disk is either mapped (read in place, in slices, so that the caller can
check between two slices that the file is still the one it mapped) or, when it may still
change, read with ``pread`` into bounded buffers (migration/streamfile.py decides which).
Either way the tools see bytes in order and never hold more than the decoder needs: a
unit that straddles two slices is joined, nothing else is copied.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol


class ChunkedInput(Protocol):
    """A stream given in slices: its ``size`` and its bytes in order. The iterator may
    raise StreamError (e.g. InputChanged: the file changed while it was read)."""

    @property
    def size(self) -> int: ...

    def chunks(self) -> Iterator[bytes | memoryview]: ...


StreamInput = bytes | memoryview | ChunkedInput


def input_chunks(data: StreamInput) -> tuple[Iterator[bytes | memoryview], int]:
    """The slices of ``data`` and its size."""
    if isinstance(data, bytes | bytearray | memoryview):
        return iter((data,) if len(data) else ()), len(data)
    return data.chunks(), data.size
