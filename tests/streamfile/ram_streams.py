"""Streams of RAM only, written by migcompat's encoder (no QEMU needed): a header, the
configuration, one RAM START section with its MEM_SIZE block list, page records, EOS, the
footer and EOF (reference §1, §3). Small ones in memory, big dense ones straight to a file
from a repeating buffer (a few seconds per GB: the page cache's speed)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from migcompat.stream import (
    EOF,
    Configuration,
    Encoder,
    Footer,
    Header,
    MemSize,
    Page,
    RamBlockInfo,
    RamEOS,
    SectionStart,
    VMDescription,
)
from migcompat.stream.events import RamRecord
from migcompat.stream.ram import PAGE_CONT
from migcompat.stream.ram_runs import record_headers

PS = 4096
MACHINE = "pc-q35-7.2"
# The trailing description of a stream that has no device sections (what --against needs).
EMPTY_VMDESC = b'{"page_size": 4096, "devices": []}'


def _prefix(enc: Encoder, blocks: Sequence[tuple[str, int]]) -> bytes:
    infos = tuple(RamBlockInfo(name, size) for name, size in blocks)
    return enc.send_all([Header(), Configuration(MACHINE), SectionStart(1, "ram", 0, 4),
                         MemSize(sum(size for _, size in blocks), infos)])


def ram_stream(blocks: Sequence[tuple[str, int]], records: Sequence[RamRecord] = ()) -> bytes:
    """A whole stream with these RAM blocks and records (encoded as QEMU would)."""
    enc = Encoder()
    return (_prefix(enc, blocks) + enc.send_all(records)
            + enc.send_all([RamEOS(), Footer(1), EOF()]))


def write_dense_stream(path: Path, pages: int, pattern: bytes, block: str = "pc.ram",
                       batch: int = 1024, vmdesc: bytes | None = EMPTY_VMDESC) -> int:
    """A stream of one block of ``pages`` full pages, each cut from the repeating
    ``pattern`` (a multiple of the page size), written in batches of records; returns
    its size. The page data of a batch never changes, only the record headers do."""
    assert len(pattern) % PS == 0 and pattern
    enc = Encoder()
    rec = PS + 8
    template = bytearray(batch * rec)
    for i in range(batch):
        at = (i * PS) % len(pattern)
        template[i * rec + 8 : (i + 1) * rec] = pattern[at : at + PS]
    words = memoryview(template).cast("Q")  # a record is 513 words: header, then page
    with path.open("wb") as f:
        f.write(_prefix(enc, [(block, pages * PS)]))
        f.write(enc.send(Page(block, 0, pattern[:PS], False)))
        done = 1
        while done < pages:
            n = min(batch, pages - done)
            words[: n * rec // 8 : rec // 8] = memoryview(
                record_headers(done * PS, n, PS, PAGE_CONT)).cast("Q")
            f.write(memoryview(template)[: n * rec])
            done += n
        tail = [RamEOS(), Footer(1), EOF()]
        f.write(enc.send_all(tail + ([VMDescription(vmdesc)] if vmdesc is not None else [])))
        return f.tell()
