"""Bulk runs of CONTINUE RAM records: whole runs checked in a few C-level passes, and runs
of records written at once (Decoder.next_ram_runs, the Loader, the migration source).

One record at a time lives in :mod:`migcompat.stream.ram`; these functions give the same
bytes and the same verdicts for a run (tests/stream/test_ram_runs.py checks that).
"""

from __future__ import annotations

import struct
import sys
from array import array

from migcompat.stream.ram import BE64, PAGE, PAGE_CONT, ZERO, ZERO_CONT

_SWAP = sys.byteorder == "little"  # record headers are big-endian

# The kinds of run :func:`scan_runs` returns.
RUN_PAGES = PAGE  # full-page records of non-zero pages
RUN_ZEROS = ZERO  # zero-page records whose fill byte is 0
RUN_ZERO_FILLED = PAGE | ZERO  # full-page records whose page is all zero (a zero page all the same)

Run = tuple[int, int, int, int]  # (kind, first page offset, number of pages, view position)


def record_headers(offset: int, count: int, page_size: int, flags: int) -> bytes:
    """The be64 headers of ``count`` records for consecutive pages from ``offset``, packed
    back to back (no Python object per record)."""
    first = offset | flags
    words = array("Q", range(first, first + count * page_size, page_size))
    if _SWAP:
        words.byteswap()
    return words.tobytes()


_ZERO_BATCH = 512
_ZERO_RECORDS = struct.Struct(">" + "Qx" * _ZERO_BATCH)  # be64 header, fill byte 0; no padding


def zero_records(offset: int, count: int, page_size: int) -> bytearray:
    """``count`` CONTINUE zero-page records (fill byte 0) for consecutive pages from
    ``offset``: exactly what :func:`encode_record` gives for each, joined."""
    out = bytearray(9 * count)
    first = offset | ZERO_CONT
    full = count - count % _ZERO_BATCH
    step = _ZERO_BATCH * page_size
    for i, head in enumerate(range(first, first + full * page_size, step)):
        _ZERO_RECORDS.pack_into(out, i * 9 * _ZERO_BATCH, *range(head, head + step, page_size))
    if full < count:
        head = first + full * page_size
        struct.pack_into(">" + "Qx" * (count - full), out, 9 * full,
                         *range(head, first + count * page_size, page_size))
    return out


def _equal_units(got: bytes, want: bytes | bytearray, unit: int, count: int) -> int:
    """How many leading ``unit``-byte units of ``got`` equal ``want`` (maybe none)."""
    if got == want:
        return count
    lo, hi = 0, count  # the first lo units match, the first hi do not
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if got[: mid * unit] == want[: mid * unit]:
            lo = mid
        else:
            hi = mid
    return lo


# Runs are measured by galloping: a first probe of this many records, then four times more
# each time the whole probe matched. Comparing all the records up to the end of the input
# at once costs a pass over everything left for every run (quadratic on a stream of many
# short runs: each RAM section ends one); galloping costs a pass over the run itself.
_FIRST_PROBE = 64


def _run_length(view: memoryview, pos: int, offset: int, count: int, page_size: int,
                zeros: bool) -> int:
    """How many of the ``count`` records at ``view[pos:]`` are the run of CONTINUE records
    for consecutive pages from ``offset`` (full pages, or zero pages with fill byte 0)."""
    rec = 9 if zeros else page_size + 8
    done, probe = 0, _FIRST_PROBE
    while done < count:
        n = min(probe, count - done)
        at, first = pos + done * rec, offset + done * page_size
        if zeros:
            got = view[at : at + 9 * n].tobytes()
            matched = _equal_units(got, zero_records(first, n, page_size), 9, n)
        else:
            got = view[at : at + n * rec].cast("Q")[:: rec // 8].tobytes()
            matched = _equal_units(got, record_headers(first, n, page_size, PAGE_CONT), 8, n)
        done += matched
        if matched < n:
            break
        probe *= 4
    return done


def _add_pages(runs: list[Run], view: memoryview, pos: int, offset: int, count: int,
               page_size: int) -> None:
    """Append ``count`` full-page records at ``view[pos:]``, split where a page is all zero.

    A page whose first word is not zero is not a zero page: only the others are compared."""
    rec = page_size + 8
    firsts = view[pos : pos + count * rec].cast("Q")[1 :: rec // 8].tolist()
    if 0 not in firsts:
        runs.append((RUN_PAGES, offset, count, pos))
        return
    zero, start = bytes(page_size), 0
    for i, word in enumerate(firsts):
        at = pos + i * rec + 8
        if word == 0 and view[at : at + page_size].tobytes() == zero:
            if i > start:
                runs.append((RUN_PAGES, offset + start * page_size, i - start, pos + start * rec))
            runs.append((RUN_ZERO_FILLED, offset + i * page_size, 1, at - 8))
            start = i + 1
    if start < count:
        runs.append((RUN_PAGES, offset + start * page_size, count - start, pos + start * rec))


def scan_runs(view: memoryview, pos: int, page_size: int, below: int,
              limit: int) -> tuple[list[Run], int]:
    """Consecutive CONTINUE page and zero-page records of ``view[pos:]`` (at most ``limit``
    records, none at an offset >= ``below``) as runs of pages at consecutive offsets; and
    the end position.

    A run is ``(kind, first offset, count, position)``: ``RUN_PAGES`` is ``count`` full-page
    records back to back at ``view[position:]`` (8-byte header then the page, each header
    exactly ``offset | PAGE | CONTINUE``), none of whose pages is all zero; ``RUN_ZEROS`` is
    zero-page records with fill byte 0, ``RUN_ZERO_FILLED`` full-page records of zeros.
    Whole runs are checked at once against the headers they must have (a gathered, strided
    view of the input compared with packed expected headers), so a long run costs a few
    C-level passes rather than Python work per record. Anything else (another record kind,
    a fill byte that is not 0, an incomplete record, an offset out of range) ends the scan,
    so that the record-at-a-time path reports or handles it."""
    runs: list[Run] = []
    end, mask, rec = len(view), page_size - 1, page_size + 8
    unpack = BE64.unpack_from
    n = 0
    while n < limit and pos + 8 <= end:
        header = unpack(view, pos)[0]
        flags = header & mask
        offset = header - flags
        if offset >= below:
            break
        most = min(limit - n, -(-(below - offset) // page_size))
        if flags == PAGE_CONT:
            count = min(most, (end - pos) // rec)
            if count == 0:
                break
            if count > 1 and unpack(view, pos + rec)[0] == header + page_size:
                count = _run_length(view, pos, offset, count, page_size, False)
            else:
                count = 1
            _add_pages(runs, view, pos, offset, count, page_size)
            pos += count * rec
        elif flags == ZERO_CONT and pos + 9 <= end and view[pos + 8] == 0:
            count = min(most, (end - pos) // 9)
            if count > 1 and unpack(view, pos + 9)[0] == header + page_size:
                count = _run_length(view, pos, offset, count, page_size, True)
            else:
                count = 1
            runs.append((RUN_ZEROS, offset, count, pos))
            pos += 9 * count
        else:
            break
        n += count
    return runs, pos
