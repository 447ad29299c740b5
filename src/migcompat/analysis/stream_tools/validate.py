"""``validate``: will a destination accept this stream? Its first failure, in QEMU's words.

The stream is first read completely with its own layout (an ``analyze`` report). Then the
report is checked, item by item and in the order QEMU's loader works, against what is known
about the destination (a :class:`DestModel`):

- from its ``-dump-vmstate``: the machine type and, per vmsd name, version_id,
  minimum_version_id, the subsections it knows and the C size of each field;
- from a stream the destination saved (``--against``): its configuration, the sections and
  instances it has (so its devices and CPU count), the section versions, the RAM blocks and
  their sizes, and its own state, e.g. PCI config space to compare as QEMU does on load.

What a form cannot see is listed in the verdict, never guessed. The catalog form
(``--dest``) does not come here: it loads the stream with the release's own schemas.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from migcompat.analysis.stream_tools.layout import state_size
from migcompat.analysis.stream_tools.pciconfig import check_config, virtio_pci_config
from migcompat.analysis.stream_tools.report import SectionReport, StreamReport
from migcompat.analysis.wire import body_leaves, data_runs
from migcompat.errors import StreamError
from migcompat.stream import RamBlock
from migcompat.stream.constants import PAGE_SIZE, RAM_VERSION
from migcompat.vmstate.data import VMStateData
from migcompat.vmstate.infos import Kind, lookup
from migcompat.vmstate.layouts import vmsd_name_of
from migcompat.vmstate.schema import Field, VMStateDescription

EINVAL, ENOENT = "Invalid argument", "No such file or directory"
# Resizable RAMBlocks: ACPI blobs may grow up to these sizes (QEMU's acpi_add_rom_blob).
RESIZABLE = {"/rom@etc/acpi/tables": 0x200000, "/rom@etc/table-loader": 0x10000,
             "/rom@etc/acpi/rsdp": 0x1000}
_SIZED_INFOS = {"buffer", "unused_buffer", "pci config", "pci irq state"}


@dataclass
class DestSection:
    version: int
    state: VMStateData | None = None
    subsections: frozenset[str] = frozenset()  # names the destination sent


@dataclass
class DestModel:
    """What is known about the destination; None means "cannot see"."""

    machine: str | None = None
    configuration: bool | None = None  # expects a configuration section
    footers: bool | None = None
    sections: dict[tuple[str, int], DestSection] | None = None
    ram_blocks: dict[str, RamBlock] | None = None
    dump: dict[str, list[VMStateDescription]] | None = None  # by vmsd name
    cannot_see: list[str] = field(default_factory=list)


@dataclass
class Verdict:
    loads: bool
    error: StreamError | None = None
    qemu: list[str] = field(default_factory=list)  # what QEMU prints (without its prefix)
    warnings: list[str] = field(default_factory=list)
    cannot_see: list[str] = field(default_factory=list)
    refused: bool = False  # the destination would not even start (its machine, a device)

    def to_json(self) -> dict[str, Any]:
        """The verdict in ``validate``'s JSON (docs/json.md)."""
        err = self.error
        return {"loads": self.loads, "refused": self.refused,
                "error": None if err is None else {"message": err.message, "offset": err.offset,
                                                   "section": err.section, "field": err.field},
                "qemu": self.qemu, "warnings": self.warnings, "cannot_see": self.cannot_see}


class _Fail(Exception):
    """The first failure. ``lines`` are QEMU's words, unless ``ours``: then the load would
    go wrong in a way QEMU does not name here (it reads on out of step), and no QEMU text
    is claimed."""

    def __init__(self, lines: list[str], strerror: str, offset: int | None,
                 section: str | None = None, fld: str | None = None,
                 ours: bool = False) -> None:
        super().__init__(lines[0])
        self.lines = [] if ours else [*lines, f"load of migration failed: {strerror}"]
        self.error = StreamError(lines[0], offset, section, fld)


def machine_sends_configuration(machine: str) -> bool | None:
    """Machine types <= 2.3 send no configuration and no footers (reference §1.1)."""
    _, _, version = machine.rpartition("-")
    major, dot, minor = version.partition(".")
    if not (dot and major.isdigit() and minor.isdigit()):
        return None
    return (int(major), int(minor)) > (2, 3)


def dest_from_stream(rep: StreamReport) -> DestModel:
    """A destination as seen through a stream it saved (``--against``)."""
    sections = {}
    for sec in rep.sections:
        if sec.kind == "full":
            names = frozenset(_subsection_names(sec.state)) if sec.state else frozenset()
            sections[(sec.idstr, sec.instance_id)] = DestSection(sec.version_id, sec.state,
                                                                 names)
    blocks = {}
    for b in rep.ram_blocks.values():
        limit = RESIZABLE.get(b.idstr)
        if limit is None and b.idstr.startswith("/rom@"):
            limit = b.used_length  # a resizable ROM blob: up to what we know it holds
        blocks[b.idstr] = RamBlock(b.idstr, b.used_length, limit)
    machine = rep.configuration["machine"] if rep.configuration else None
    return DestModel(machine, rep.configuration is not None, bool(rep.footers), sections,
                     blocks)


def _subsection_names(state: VMStateData) -> list[str]:
    out = [sub.name for sub in state.subsections]
    for sub in state.subsections:
        out += _subsection_names(sub)
    for _, value in state.values:
        for item in value if isinstance(value, tuple) else (value,):
            if isinstance(item, VMStateData):
                out += _subsection_names(item)
    return out


def validate_report(src: StreamReport, dest: DestModel) -> Verdict:
    verdict = Verdict(True, cannot_see=list(dest.cannot_see))
    try:
        _check(src, dest, verdict)
    except _Fail as fail:
        verdict.loads, verdict.error, verdict.qemu = False, fail.error, fail.lines
    return verdict


def _check(src: StreamReport, dest: DestModel, verdict: Verdict) -> None:
    _check_configuration(src, dest, verdict)
    first_body = True
    for sec in src.sections:
        if sec.idstr == "ram" and sec.kind in ("start", "full"):
            _check_ram(sec, dest)
        elif sec.kind == "full":
            _check_section(sec, dest, verdict)
        if dest.footers is False and sec.footer_offset is not None:
            raise _Fail(["Unknown savevm section type 126"], EINVAL, sec.footer_offset)
        if dest.footers and first_body and sec.footer_offset is None and sec.size is not None:
            raise _Fail([f"Missing section footer for {sec.idstr}"], EINVAL,
                        sec.offset + sec.size, sec.idstr)
        first_body = False


def _check_configuration(src: StreamReport, dest: DestModel, verdict: Verdict) -> None:
    conf = src.configuration
    if conf is None:
        if dest.configuration:
            raise _Fail(["Configuration section missing"], EINVAL, 8)
        return
    if dest.configuration is False:
        raise _Fail(["Unknown savevm section type 7"], EINVAL, conf["offset"])
    if dest.machine is not None and conf["machine"] != dest.machine:
        raise _Fail([f"Machine type received is '{conf['machine']}' and local is "
                     f"'{dest.machine}'"], EINVAL, conf["offset"], "configuration")
    for sub in conf["subsections"]:
        path, value = sub["path"], sub.get("value")
        if path.endswith("target_page_bits") and value != PAGE_SIZE.bit_length() - 1:
            raise _Fail([f"Received TARGET_PAGE_BITS is {value} but local is "
                         f"{PAGE_SIZE.bit_length() - 1}"], EINVAL, sub["offset"])
        if path.endswith(".capabilities") and isinstance(value, list):
            names = [bytes.fromhex(v).decode(errors="replace") for v in value]
            if "x-ignore-shared" in names:
                raise _Fail(["Capability x-ignore-shared is off, but received capability "
                             "is on"], EINVAL, sub["offset"])
        if path.endswith(".uuid"):
            verdict.warnings.append("the stream carries a UUID: the destination must have "
                                    "the same -uuid (not checked)")


def _check_ram(sec: SectionReport, dest: DestModel) -> None:
    tail = ["error while loading state for instance 0x0 of device 'ram'"]
    if sec.version_id != RAM_VERSION:
        raise _Fail(tail, EINVAL, sec.body_offset - 4, "ram")
    if dest.ram_blocks is None or sec.ram_blocks is None:
        return
    for name, size in sec.ram_blocks:
        local = dest.ram_blocks.get(name)
        if local is None:
            raise _Fail([f'Unknown ramblock "{name}", cannot accept migration', *tail], EINVAL,
                        sec.body_offset, "ram")
        if size != local.used_length and local.max_length is None:
            raise _Fail([f"Size mismatch: {name}: 0x{size:x} != 0x{local.used_length:x}: "
                         f"{EINVAL}", *tail], EINVAL, sec.body_offset, "ram")
        if local.max_length is not None and size > local.max_length:
            raise _Fail([f"Size too large: {name}: 0x{size:x} > 0x{local.max_length:x}: "
                         f"{EINVAL}", *tail], EINVAL, sec.body_offset, "ram")


def _check_section(sec: SectionReport, dest: DestModel, verdict: Verdict) -> None:
    key = (sec.idstr, sec.instance_id)
    here = dest.sections.get(key) if dest.sections is not None else None
    if dest.sections is not None and here is None:
        raise _Fail([f"Unknown savevm section or instance '{sec.idstr}' {sec.instance_id}. "
                     "Make sure that your current VM setup matches your saved VM setup, "
                     "including any hotplugged devices"], EINVAL, sec.offset, sec.idstr)
    name = sec.state.name if sec.state is not None else vmsd_name_of(sec.idstr)
    candidates = dest.dump.get(name, []) if dest.dump is not None else []
    dumped = candidates[0] if len(candidates) == 1 else None
    local = here.version if here is not None else \
        max(c.version_id for c in candidates) if candidates else None
    outer = f"error while loading state for instance 0x{sec.instance_id:x} of device " \
            f"'{sec.idstr}'"
    if local is not None and sec.version_id > local:
        raise _Fail([f"savevm: unsupported version {sec.version_id} for '{sec.idstr}' "
                     f"v{local}"], EINVAL, sec.body_offset - 4, sec.idstr)
    minimum = min((c.minimum_version_id for c in candidates), default=0)
    if candidates and sec.version_id < minimum:
        raise _Fail([f"{name}: incoming version_id {sec.version_id} is too old for local "
                     f"minimum version_id  {minimum}", outer], EINVAL,
                    sec.body_offset - 4, sec.idstr)
    if sec.state is None:
        return
    mine = here.state if here is not None and here.version == sec.version_id else None
    if mine is not None:
        _compare_wire(sec.state, mine, sec, outer)
    _compare(sec.state, mine, dumped, sec, dest, verdict, [], sec.body_offset, outer)


def _compare_wire(state: VMStateData, mine: VMStateData, sec: SectionReport,
                  outer: str) -> None:
    """The stream against the destination's own state, as QEMU's loader meets it: by byte
    position, never by name (fields are renamed between builds, ps2kbd's common/parent_obj,
    hpet's num_timers/num_timers_save; 10.0 describes some structs differently). The
    checks a destination makes on device-specific data (PCI config, virtio) come first,
    where the load meets them; then the layout."""
    theirs = {leaf.offset: leaf for leaf in body_leaves(mine)}
    body = body_leaves(state)
    for leaf in body:
        other = theirs.get(leaf.offset)
        if other is not None and other.info == leaf.info:
            where = [f"Failed to load {state.name}:{leaf.path}"]
            _check_value(leaf.info, leaf.value, other.value, sec.body_offset + leaf.offset,
                         where, sec, outer, f"{state.name}:{leaf.path}")
    for (kind, size, leaf), (their_kind, their_size, their_leaf) in zip(
            data_runs(body), data_runs(body_leaves(mine)), strict=False):
        if (kind, size) != (their_kind, their_size) and not (kind == their_kind != "bytes"):
            raise _Fail([f"the destination's '{mine.name}' v{mine.version_id} reads "
                         f"{their_size} bytes of {their_kind} ('{their_leaf.path}') where the "
                         f"stream has {size} bytes of {kind} ('{leaf.path}'): its layout "
                         "differs"], EINVAL, sec.body_offset + leaf.offset, sec.idstr,
                        f"{state.name}:{leaf.path}", ours=True)


def _compare(state: VMStateData, mine: VMStateData | None, dumped: VMStateDescription | None,
             sec: SectionReport, dest: DestModel, verdict: Verdict,
             chain: list[str], pos: int, outer: str) -> None:
    """Fields then subsections, in wire order (reference §2.3, §2.7)."""
    by_name: dict[str, list[Field]] = {}
    for df in dumped.fields if dumped is not None else ():
        by_name.setdefault(df.name, []).append(df)
    cursor = pos
    for fname, value in state.values:
        f = state.vmsd.field_named(fname)
        assert f is not None
        start = cursor
        cursor = start + _size_of(state, fname, value)
        where = [f"Failed to load {state.name}:{fname}", *chain]
        dfield = _dump_field(by_name, fname)
        if f.spec.kind is Kind.STRUCT:
            items = value if isinstance(value, tuple) else (value,)
            sub_pos = start
            for item in items:
                assert isinstance(item, VMStateData)
                _compare(item, None, dfield.struct if dfield is not None else None, sec, dest,
                         verdict, where, sub_pos, outer)
                sub_pos += _struct_size(item)
            continue
        if dfield is not None and dfield.struct is None and isinstance(dfield.size, int):
            width = _element_size(f.info, value)
            if dfield.size and width is not None and width != dfield.size:
                raise _Fail([f"Field '{fname}' of '{state.name}' is {width} bytes per element "
                             f"in the stream but {dfield.size} on the destination; the load "
                             "would go out of step"], EINVAL, start,
                            sec.idstr, f"{state.name}:{fname}", ours=True)
    _check_subsections(state, mine, dumped, sec, dest, verdict, chain, cursor, outer)


def _check_value(info: str, value: object, theirs: object, start: int, where: list[str],
                 sec: SectionReport, outer: str, fld: str) -> None:
    if not isinstance(value, bytes) or not isinstance(theirs, bytes):
        return
    at, incoming, local = 0, value, theirs
    if info == "virtio":
        found, mine = virtio_pci_config(value), virtio_pci_config(theirs)
        if found is None or mine is None:
            return
        (at, incoming), (_, local) = found, mine
        where = ["Failed to load PCIDevice:config", *where]
    elif info != "pci config":
        return
    bad = check_config(incoming, local)
    if bad is not None:
        raise _Fail([bad.message(), *where, outer], EINVAL, start + at + bad.index,
                    sec.idstr, fld)


def _check_subsections(state: VMStateData, mine: VMStateData | None,
                       dumped: VMStateDescription | None, sec: SectionReport, dest: DestModel,
                       verdict: Verdict, chain: list[str], pos: int, outer: str) -> None:
    sent = dest.sections.get((sec.idstr, sec.instance_id)) if dest.sections else None
    for sub in state.subsections:
        head = 6 + len(sub.name.encode())
        known = dumped.subsection(sub.name) if dumped is not None else None
        theirs = mine.subsection(sub.name) if mine is not None else None
        if dumped is not None and known is None:
            raise _Fail([outer], ENOENT, pos, sec.idstr, sub.name)
        local = known.version_id if known is not None else \
            theirs.version_id if theirs is not None else None
        unseen = sent is not None and sub.name not in sent.subsections
        if known is None and theirs is None and unseen and dumped is None:
            verdict.warnings.append(
                f"subsection '{sub.name}' of '{sec.idstr}' (at byte {pos}): the destination "
                "did not send it, so whether it knows it cannot be seen (give --schema with "
                "its -dump-vmstate to decide)")
        if local is not None and sub.version_id > local:
            raise _Fail([f"{sub.name}: incoming version_id {sub.version_id} is too new for "
                         f"local version_id {local}", outer], EINVAL, pos + head - 4,
                        sec.idstr, sub.name)
        if known is not None and sub.version_id < known.minimum_version_id:
            raise _Fail([f"{sub.name}: incoming version_id {sub.version_id} is too old for "
                         f"local minimum version_id  {known.minimum_version_id}", outer],
                        EINVAL, pos + head - 4, sec.idstr, sub.name)
        _compare(sub, theirs, known, sec, dest, verdict, chain, pos + head, outer)
        pos += head + _struct_size(sub)


def _dump_field(by_name: dict[str, list[Field]], name: str) -> Field | None:
    """The dump's field for a vmdesc name: ``name[k]`` is the k-th field called ``name``
    (QEMU makes repeated names unique that way, reference §1.7)."""
    same = by_name.get(name)
    if same is not None and len(same) == 1:
        return same[0]
    base, bracket, rest = name.partition("[")
    if bracket and rest.endswith("]") and rest[:-1].isdigit():
        same = by_name.get(base, [])
        k = int(rest[:-1])
        return same[k] if k < len(same) else None
    return None


def _struct_size(state: VMStateData) -> int:
    return state_size(state)


def _size_of(state: VMStateData, fname: str, value: object) -> int:
    f = state.vmsd.field_named(fname)
    assert f is not None
    items = value if f.count is not None and isinstance(value, tuple) else (value,)
    total = 0
    for item in items:
        if isinstance(item, VMStateData):
            total += _struct_size(item)
        elif isinstance(item, bytes):
            total += len(item) + (1 if f.spec.kind is Kind.COUNTED else 0)
        else:
            total += f.spec.width
    return total


def _element_size(info: str, value: object) -> int | None:
    """Bytes per element when the size is fixed by the type (else None: not compared)."""
    spec = lookup(info)
    if spec.kind in (Kind.INT, Kind.BOOL) and info != "timer":
        return spec.width
    if info in _SIZED_INFOS:
        one = value[0] if isinstance(value, tuple) and value else value
        return len(one) if isinstance(one, bytes) else None
    return None
