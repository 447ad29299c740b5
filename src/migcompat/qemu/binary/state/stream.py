"""Read what a saved QEMU stream holds, for the state capture (capture.py): its sections,
RAM blocks and vmdesc.

A stream saved by QEMU is walked with the sans-IO decoder (:mod:`migcompat.stream`), each
device section decoded with the stream's own trailing vmdesc (reference §1.7). What comes out
is the section list in stream order (idstr, instance id, version, whether it is iterative),
the RAM block list of the RAM section's START (MEM_SIZE), and each vmdesc "devices" entry
matched to its section by (idstr, instance id).

Pure: bytes in, a :class:`SavedStream` out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from migcompat.errors import StreamError, StreamReadError, UnknownCommand
from migcompat.stream import (
    DONE,
    NEED_DATA,
    Command,
    Decoder,
    MemSize,
    SectionFull,
    SectionStart,
    SectionType,
    find_vmdesc,
)
from migcompat.vmstate.schema import VMStateDescription
from migcompat.vmstate.vmdesc import schemas_from_vmdesc, vmsd_from_vmdesc


@dataclass(frozen=True)
class Section:
    """One section as the stream has it (START for iterative handlers, FULL otherwise)."""

    idstr: str
    instance_id: int
    version_id: int
    iterative: bool
    desc: dict[str, Any] | None  # its vmdesc "devices" entry, None when the vmdesc has none


@dataclass(frozen=True)
class SavedStream:
    """What one saved stream holds."""

    sections: tuple[Section, ...]
    ram: tuple[tuple[str, int], ...]  # (block idstr, used length) in MEM_SIZE order
    vmdesc: bool  # whether the stream ends with a vmdesc
    unmatched: tuple[str, ...]  # vmdesc entries no section of the stream matches
    switchover_starts: int = 0  # SWITCHOVER_START commands seen (see read_stream)

    def full(self) -> list[Section]:
        """The non-iterative sections, in stream order."""
        return [s for s in self.sections if not s.iterative]

    def counts(self) -> dict[str, int]:
        """How many instances of each non-iterative idstr the stream has."""
        out: dict[str, int] = {}
        for s in self.full():
            out[s.idstr] = out.get(s.idstr, 0) + 1
        return out


# QEMU_VM_COMMAND SWITCHOVER_START (0x0b, no payload): QEMU >= 10.0 sends it before the
# device sections on machine types of its own version (reference §1.6). Where the decoder
# does not know the command, it is taken out of the bytes; either way it is counted.
SWITCHOVER_START = bytes([SectionType.COMMAND, 0, 0x0B, 0, 0])
MAX_SKIPPED = 8


def read_stream(data: bytes) -> SavedStream:
    """Walk a whole saved stream; raise :class:`StreamReadError` where it cannot be read."""
    skipped = 0
    while True:
        try:
            return _read(data, skipped)
        except _UnknownCommand as cmd:
            if skipped >= MAX_SKIPPED or data[cmd.at:cmd.at + 5] != SWITCHOVER_START:
                raise StreamReadError(f"cannot read the saved stream: {cmd.message}",
                                      offset=cmd.at) from None
            data = data[:cmd.at] + data[cmd.at + 5:]
            skipped += 1


class _UnknownCommand(Exception):
    def __init__(self, message: str, at: int) -> None:
        super().__init__(message)
        self.message, self.at = message, at


def _read(data: bytes, switchover_starts: int) -> SavedStream:
    found = find_vmdesc(data)
    vmdesc = _devices(found[1].json_bytes) if found is not None else None
    heads: list[SectionStart | SectionFull] = []
    ram: list[tuple[str, int]] = []
    dec = Decoder(None, check_versions=False)
    try:
        dec = Decoder(_Resolver(vmdesc or []), check_versions=False)
        dec.feed(data, copy=False)
        dec.close()
        while (ev := dec.next_event()) is not DONE:
            if ev is NEED_DATA:  # pragma: no cover - the input is closed
                raise StreamReadError("the stream ends early", offset=dec.offset)
            if isinstance(ev, SectionStart | SectionFull):
                heads.append(ev)
            elif isinstance(ev, MemSize) and not ram:
                ram = [(b.idstr, b.used_length) for b in ev.blocks]
            elif isinstance(ev, Command) and ev.cmd == SWITCHOVER_START[2]:
                switchover_starts += 1  # a decoder that knows the command
            while dec.count_ram_batch() != (0, 0, 0):
                pass
    except UnknownCommand as exc:
        # the command's header starts one byte before its id
        raise _UnknownCommand(exc.message, exc.offset - 1 if exc.offset else 0) from None
    except StreamError as exc:
        raise StreamReadError(f"cannot read the saved stream: {exc.message}",
                              offset=exc.offset, section=exc.section) from None
    finally:
        dec.release()
    entries = {(str(d.get("name")), int(d.get("instance_id", 0))): d for d in vmdesc or []}
    sections = []
    for h in heads:
        # PART/END refer back to START by id; only the START header is listed.
        desc = entries.pop((h.idstr, h.instance_id), None)
        sections.append(Section(h.idstr, h.instance_id, h.version_id,
                                isinstance(h, SectionStart), desc))
    unmatched = tuple(f"{name} {inst}" for name, inst in entries)
    return SavedStream(tuple(sections), tuple(ram), vmdesc is not None, unmatched,
                       switchover_starts)


class _Resolver:
    """The stream's own vmdesc as a schema resolver, legacy entries included.

    A legacy (``save_state``) handler's entry has no ``vmsd_name``/``version``: only
    ``size`` and one buffer field. It is read at the section header's version."""

    def __init__(self, devices: list[dict[str, Any]]) -> None:
        self.legacy = {(str(d.get("name")), int(d.get("instance_id", 0))): d
                       for d in devices if "vmsd_name" not in d}
        self.schemas = schemas_from_vmdesc(
            {"devices": [d for d in devices if "vmsd_name" in d]})

    def __call__(self, idstr: str, instance_id: int,
                 version_id: int) -> VMStateDescription | None:
        legacy = self.legacy.get((idstr, instance_id))
        if legacy is None:
            return self.schemas(idstr, instance_id, version_id)
        return vmsd_from_vmdesc({**legacy, "vmsd_name": idstr, "version": version_id})


def _devices(raw: bytes) -> list[dict[str, Any]]:
    try:
        top = json.loads(raw)
    except ValueError as exc:
        raise StreamReadError(f"the vmdesc is not JSON: {exc}") from None
    devices = top.get("devices") if isinstance(top, dict) else None
    if not isinstance(devices, list) or not all(isinstance(d, dict) for d in devices):
        raise StreamReadError('the vmdesc has no "devices" list')
    return devices


def schema_of(desc: dict[str, Any]) -> dict[str, Any]:
    """A vmdesc entry without what names one instance: its ``name`` and ``instance_id``."""
    return {k: v for k, v in desc.items() if k not in ("name", "instance_id")}
