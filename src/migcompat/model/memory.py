"""Guest memory buffers that cost nothing until written.

A 1 GiB ``bytearray`` is zeroed page by page up front (a quarter of a million page faults).
An anonymous mapping is zero-filled by the kernel on first touch, and reading an untouched
page maps the shared zero page: a mostly-zero guest costs only the pages it uses.
"""

from __future__ import annotations

import mmap

Memory = bytearray | mmap.mmap


def zeroed(size: int) -> Memory:
    """``size`` zero bytes, writable, with the buffer protocol and slicing of a bytearray."""
    return mmap.mmap(-1, size) if size > 0 else bytearray()
