"""RAM section records (reference §3): parse one record from a view, encode one record.

A record header is a be64 whose low bits (below the page size) are RAM_SAVE_FLAG_* and whose
high bits are the page offset in its RAMBlock. Unless CONTINUE is set, a counted block idstr
follows and becomes the "last block" (it persists across sections). Parsing is bounded: no
record is longer than header + 256 + page size (or the MEM_SIZE block list).
"""

from __future__ import annotations

import struct
import sys

from migcompat.errors import StreamError
from migcompat.stream.constants import COMPRESS_BOUND, XBZRLE_ENCODING, RamFlag
from migcompat.stream.events import (
    CompressedPage,
    MemSize,
    Page,
    RamBlockInfo,
    RamEOS,
    RamRecord,
    XbzrlePage,
    ZeroPage,
)
from migcompat.vmstate.codec import NeedData

BE64 = struct.Struct(">Q")
_BE32 = struct.Struct(">I")
_BE16 = struct.Struct(">H")

ZERO = int(RamFlag.ZERO)
PAGE = int(RamFlag.PAGE)
CONTINUE = int(RamFlag.CONTINUE)
EOS = int(RamFlag.EOS)
MEM_SIZE = int(RamFlag.MEM_SIZE)
XBZRLE = int(RamFlag.XBZRLE)
COMPRESS = int(RamFlag.COMPRESS_PAGE)
HOOK = int(RamFlag.HOOK)
_PAGE_KINDS = (ZERO, PAGE, XBZRLE, COMPRESS)
PAGE_CONT = PAGE | CONTINUE
ZERO_CONT = ZERO | CONTINUE
_EOS_BYTES = BE64.pack(EOS)
_EOS = RamEOS()
_SWAP = sys.byteorder == "little"  # record headers are big-endian
# A VM has a few dozen RAMBlocks (RAM, ROMs, ACPI blobs); QEMU stops at the first name it
# does not know. A list longer than this is hostile, not a VM.
MAX_RAM_BLOCKS = 4096


def _name(raw: memoryview, base: int, what: str) -> str:
    try:
        return bytes(raw).decode()
    except UnicodeDecodeError:
        raise StreamError(
            f"{what} is not UTF-8: {bytes(raw)!r}", offset=base, section="ram"
        ) from None


def parse_record(
    view: memoryview,
    pos: int,
    base: int,
    page_size: int,
    last_block: str | None,
    ignore_shared: bool = False,
) -> tuple[RamRecord, int, str | None]:
    """Parse the record at ``view[pos:]``; return (event, end position, last block).

    ``base`` is the absolute offset of ``view[0]`` (for error offsets). Raises NeedData with
    the view position needed when the record is not complete.
    """
    end = len(view)
    if pos + 8 > end:
        raise NeedData(pos + 8, "RAM record header")
    (header,) = BE64.unpack_from(view, pos)
    flags = header & (page_size - 1)
    addr = header - flags
    kind = flags & ~CONTINUE
    p = pos + 8
    if kind in _PAGE_KINDS:
        continued = bool(flags & CONTINUE)
        if continued:
            if last_block is None:
                raise StreamError("Ack, bad migration stream!", offset=base + pos, section="ram")
            block = last_block
        else:
            if p + 1 > end:
                raise NeedData(p + 1, "RAM block idstr")
            length = view[p]
            if p + 1 + length > end:
                raise NeedData(p + 1 + length, "RAM block idstr")
            if length == 0:
                raise StreamError("Can't find block ", offset=base + p, section="ram")
            block = _name(view[p + 1 : p + 1 + length], base + p, "RAM block idstr")
            p += 1 + length
        if kind == ZERO:
            if p + 1 > end:
                raise NeedData(p + 1, "zero page fill byte")
            return ZeroPage(block, addr, view[p], continued), p + 1, block
        if kind == PAGE:
            if p + page_size > end:
                raise NeedData(p + page_size, "page data")
            return Page(block, addr, view[p : p + page_size], continued), p + page_size, block
        if kind == XBZRLE:
            if p + 3 > end:
                raise NeedData(p + 3, "XBZRLE header")
            encoding = view[p]
            (length,) = _BE16.unpack_from(view, p + 1)
            if encoding != XBZRLE_ENCODING:
                raise StreamError(
                    "Failed to load XBZRLE page - wrong compression!",
                    offset=base + p,
                    section="ram",
                )
            if length > page_size:
                raise StreamError(
                    "Failed to load XBZRLE page - len overflow!", offset=base + p + 1, section="ram"
                )
            if p + 3 + length > end:
                raise NeedData(p + 3 + length, "XBZRLE data")
            data = bytes(view[p + 3 : p + 3 + length])
            return XbzrlePage(block, addr, continued, encoding, data), p + 3 + length, block
        if p + 4 > end:
            raise NeedData(p + 4, "compressed page length")
        (length,) = _BE32.unpack_from(view, p)
        if length > COMPRESS_BOUND:
            raise StreamError(
                f"Invalid compressed data length: {length}", offset=base + p, section="ram"
            )
        if p + 4 + length > end:
            raise NeedData(p + 4 + length, "compressed page data")
        data = bytes(view[p + 4 : p + 4 + length])
        return CompressedPage(block, addr, continued, data), p + 4 + length, block
    if flags == EOS:  # QEMU ignores the address bits of an EOS; kept to re-encode them
        return (RamEOS(addr) if addr else _EOS), p, last_block
    if flags == MEM_SIZE:
        event, p = _parse_mem_size(view, p, base, addr, ignore_shared)
        return event, p, last_block
    if flags & HOOK:
        raise StreamError(
            "RAM_SAVE_FLAG_HOOK records (RDMA) are not supported", offset=base + pos, section="ram"
        )
    raise StreamError(
        f"Unknown combination of migration flags: 0x{flags:x}", offset=base + pos, section="ram"
    )


def _parse_mem_size(
    view: memoryview, p: int, base: int, total: int, ignore_shared: bool
) -> tuple[MemSize, int]:
    end = len(view)
    record = p - 8  # the MEM_SIZE header: where a hostile list is reported
    blocks: list[RamBlockInfo] = []
    remaining = total
    while remaining > 0:
        if len(blocks) >= MAX_RAM_BLOCKS:
            raise StreamError(
                f"the MEM_SIZE list names more than {MAX_RAM_BLOCKS} RAM blocks",
                offset=base + record,
                section="ram",
            )
        if p + 1 > end:
            raise NeedData(p + 1, "RAM block list")
        length = view[p]
        stop = p + 1 + length + 8 + (8 if ignore_shared else 0)
        if stop > end:
            raise NeedData(stop, "RAM block list")
        if length == 0:
            raise StreamError(
                'Unknown ramblock "", cannot accept migration', offset=base + p, section="ram"
            )
        idstr = _name(view[p + 1 : p + 1 + length], base + p, "RAM block idstr")
        (used,) = BE64.unpack_from(view, p + 1 + length)
        gpa = BE64.unpack_from(view, p + 9 + length)[0] if ignore_shared else None
        if used > remaining:
            raise StreamError(
                f"RAM block '{idstr}' (0x{used:x} bytes) overshoots the MEM_SIZE total",
                offset=base + p + 1 + length,
                section="ram",
            )
        remaining -= used
        blocks.append(RamBlockInfo(idstr, used, None, gpa))
        p = stop
    return MemSize(total, tuple(blocks)), p


def encode_record(
    event: RamRecord, page_size: int, last_block: str | None
) -> tuple[bytes, str | None]:
    """The bytes of one RAM record, and the last block after it."""
    if isinstance(event, RamEOS):
        return (BE64.pack(event.addr | EOS) if event.addr else _EOS_BYTES), last_block
    if isinstance(event, MemSize):
        if event.total % page_size:
            raise ValueError("the MEM_SIZE total must be a multiple of the page size")
        out = bytearray(BE64.pack(event.total | MEM_SIZE))
        for b in event.blocks:
            name = b.idstr.encode()
            out.append(len(name))
            out += name
            out += BE64.pack(b.used_length)
            if b.page_size is not None:
                out += BE64.pack(b.page_size)
            if b.gpa is not None:
                out += BE64.pack(b.gpa)
        return bytes(out), last_block
    if event.offset % page_size:
        raise ValueError(f"page offset 0x{event.offset:x} is not page aligned")
    if isinstance(event, ZeroPage):
        kind = ZERO
    elif isinstance(event, Page):
        kind = PAGE
    elif isinstance(event, XbzrlePage):
        kind = XBZRLE
    else:
        kind = COMPRESS
    if event.continued:
        if event.block != last_block:
            raise ValueError(f"a CONTINUE record for '{event.block}' follows '{last_block}'")
        head = BE64.pack(event.offset | kind | CONTINUE)
    else:
        name = event.block.encode()
        head = BE64.pack(event.offset | kind) + bytes((len(name),)) + name
    if isinstance(event, ZeroPage):
        return head + bytes((event.fill,)), event.block
    if isinstance(event, Page):
        if len(event.data) != page_size:
            raise ValueError(f"page data is {len(event.data)} bytes, not {page_size}")
        return head + event.data, event.block
    if isinstance(event, XbzrlePage):
        return head + bytes((event.encoding,)) + _BE16.pack(len(event.data)) + event.data, (
            event.block
        )
    return head + _BE32.pack(len(event.data)) + event.data, event.block


# -- a fast path over runs of CONTINUE page records (Decoder.count_ram_batch) --


def count_records(view: memoryview, pos: int, page_size: int,
                  limit: int) -> tuple[int, int, int, int]:
    """Skip up to ``limit`` consecutive CONTINUE page/zero records that are complete in
    ``view[pos:]``; returns (full pages, zero pages, non-zero fills, end position)."""
    end, flag_mask = len(view), page_size - 1
    page, zero = PAGE | CONTINUE, ZERO | CONTINUE
    unpack = BE64.unpack_from
    full = zeros = fill = 0
    while full + zeros < limit and pos + 8 <= end:
        flags = unpack(view, pos)[0] & flag_mask
        if flags == page:
            if pos + 8 + page_size > end:
                break
            full += 1
            pos += 8 + page_size
        elif flags == zero and pos + 9 <= end:
            zeros += 1
            if view[pos + 8]:
                fill += 1
            pos += 9
        else:
            break
    return full, zeros, fill, pos
