"""Guest memory buffers that cost nothing until written.

A 1 GiB ``bytearray`` is zeroed page by page up front (a quarter of a million page faults).
An anonymous mapping is zero-filled by the kernel on first touch, and reading an untouched
page maps the shared zero page: a mostly-zero guest costs only the pages it uses.
"""

from __future__ import annotations

import mmap

Memory = bytearray | mmap.mmap


def zeroed(size: int, populate: bool = False) -> Memory:
    """``size`` zero bytes, writable, with the buffer protocol and slicing of a bytearray.

    ``populate`` maps every page up front, which the kernel does far faster in one go than
    one fault at a time: worth it when most pages will be written (a migration target).
    """
    if size <= 0:
        return bytearray()
    flags = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS
    if populate:
        flags |= getattr(mmap, "MAP_POPULATE", 0)
    return mmap.mmap(-1, size, flags=flags)
