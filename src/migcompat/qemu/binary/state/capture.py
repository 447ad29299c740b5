"""``probe_state``: what a real QEMU release's VM sends when it migrates, per machine type.

For every versioned PC machine type (``pc-*``) of a build, three paused VMs are saved
(``-nodefaults -display none -S -accel tcg -m 64``; see state/run.py):

1. ``-smp 1``, no devices: the board's sections (stream order) and RAM blocks;
2. ``-smp 2``: a section whose instance count grows is per-cpu;
3. ``-smp 1`` plus the curated devices on the root PCI bus in command-line order: a
   device's sections and RAM blocks are those named under its PCI address
   (``0000:00:SS.F/``), which ``query-pci`` gives.

Each section's state schema is its entry in the stream's own vmdesc (reference §1.7), stored
once under ``<vmsd_name>@<version>#<sha1[:8] of its canonical JSON>``. ``-dump-vmstate`` of
one q35 machine gives the versions of every description the build knows. The result is the
``<release>.state.json`` data file (docs/probe-state.md), deterministic: no timestamps, and
nothing that depends on the host or on the order the machines were run in.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from migcompat.errors import MigcompatError, UsageError
from migcompat.model.machines import version_key
from migcompat.qemu.binary.state.device_probe import probe_devices
from migcompat.qemu.binary.state.dump import versions_from_dump
from migcompat.qemu.binary.state.run import (
    DEVICES,
    MEM_MIB,
    Device,
    Target,
    device_types,
    dump_vmstate,
    machine_types,
    one_line,
    save,
)
from migcompat.qemu.binary.state.stream import SavedStream, Section, read_stream, schema_of
from migcompat.qemu.debian.builds import build
from migcompat.stream import find_vmdesc

FORMAT = 1
# Devices saved at once: the root PCI bus has about 30 free slots.
BATCH = 24
RELEASES = ("5.2", "7.2", "10.0")
DUMP_MACHINE = "pc-q35-5.1"  # else the build's newest q35
# QEMU's words when a device makes the whole VM unmigratable (migrate_add_blocker).
BLOCKED = "State blocked by non-migratable device"
Progress = Callable[[str], None]


def target_for(release: str) -> Target:
    """The real build of ``release`` (migcompat.qemu.debian.builds) as something to run."""
    b = build(release)
    return Target(b.binary, b.env if b.private else None, tuple(b.args()))


def schema_key(schema: Mapping[str, Any]) -> str:
    """``<vmsd_name>@<version>#<first 8 hex of sha1(canonical JSON)>``.

    Canonical JSON: ``json.dumps(schema, sort_keys=True, separators=(",", ":"),
    ensure_ascii=False)`` in UTF-8. A legacy (save_state) entry has no vmsd_name/version:
    ``legacy@-``."""
    text = json.dumps(schema, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    digest = hashlib.sha1(text.encode()).hexdigest()[:8]
    return f"{schema.get('vmsd_name', 'legacy')}@{schema.get('version', '-')}#{digest}"


@dataclass
class Batch:
    """One save with devices: the devices (ids ``mcdev0``...), where query-pci put them,
    and the stream."""

    used: list[Device]
    slots: dict[str, tuple[int, int]]
    stream: SavedStream


@dataclass
class Capture:
    """What the three saves of one machine type showed."""

    machine: str
    plain: SavedStream | None = None
    smp2: SavedStream | None = None
    batches: list[Batch] = field(default_factory=list)  # the saves with devices
    skipped_devices: dict[str, str] = field(default_factory=dict)
    unmigratable: dict[str, str] = field(default_factory=dict)  # device -> QEMU's refusal
    board_types: tuple[str, ...] = ()  # the device types the board creates
    failure: str | None = None  # why the machine is skipped
    notes: list[str] = field(default_factory=list)  # surprises, for the log
    option: str = ""  # machine options added to every run

    @property
    def run_as(self) -> str:
        return self.machine + self.option


def capture(target: Target, machine: str, available: set[str],
            devices: Sequence[Device] = DEVICES) -> Capture:
    """Run the three saves of ``machine``; never raises for a QEMU or stream failure."""
    cap = Capture(machine)
    try:
        saved = save(target, machine, 1)
        cap.board_types, first = saved.board_types, saved.data
        if find_vmdesc(first) is None:
            # pc-i440fx-2.0 to 2.2 have suppress-vmdesc=on in their default options; the
            # sections are the same without it, and only the vmdesc describes them.
            cap.notes.append("sends no vmdesc (suppress-vmdesc=on by default); captured "
                             "with suppress-vmdesc=off")
            cap.option = ",suppress-vmdesc=off"
            first = save(target, cap.run_as, 1).data
        cap.plain = read_stream(first)
        cap.smp2 = read_stream(save(target, cap.run_as, 2).data)
    except MigcompatError as exc:
        cap.failure = one_line(exc)
        return cap
    wanted = []
    for dev in devices:
        if dev.type in available:
            wanted.append(dev)
        else:
            cap.skipped_devices[dev.type] = "not in this build"
    for start in range(0, len(wanted), BATCH):
        _batch(target, cap, wanted[start:start + BATCH])
    return cap


def _batch(target: Target, cap: Capture, wanted: list[Device]) -> None:
    """Save one batch of devices at once; when that fails, each alone (a blocker, or a
    device the build refuses), then the rest together."""
    try:
        _save_devices(target, cap, wanted)
    except MigcompatError as exc:
        for dev in wanted:
            try:
                save(target, cap.run_as, 1, [dev])
            except MigcompatError as alone:
                why = one_line(alone)
                if BLOCKED in why:  # QEMU refuses to migrate a VM with this device
                    cap.unmigratable[dev.type] = why[why.index(BLOCKED):]
                else:
                    cap.skipped_devices[dev.type] = why
        rest = [d for d in wanted if d.type not in cap.skipped_devices
                and d.type not in cap.unmigratable]
        try:
            _save_devices(target, cap, rest)
        except MigcompatError:
            for dev in rest:
                cap.skipped_devices[dev.type] = f"fails with the other devices: {one_line(exc)}"


def _save_devices(target: Target, cap: Capture, devices: list[Device]) -> None:
    if devices:
        saved = save(target, cap.run_as, 1, devices)
        cap.batches.append(Batch(devices, saved.slots, read_stream(saved.data)))


def probe_state(release: str, target: Target, machines: str | Sequence[str] | None = None,
                progress: Progress | None = None, jobs: int = 2,
                probe_only: Collection[str] | None = None) -> dict[str, Any]:
    """The ``<release>.state.json`` document of ``target`` (a build of ``release``);
    ``probe_only``: the device probe tries only these device types (default: all)."""
    say = progress or (lambda _msg: None)
    available, build_name = device_types(target)
    every = names = machine_types(target)
    dump_machine = DUMP_MACHINE if DUMP_MACHINE in names else _newest_q35(names)
    say(f"{release}: {build_name}; -dump-vmstate of {dump_machine}")
    dump = json.loads(dump_vmstate(target, dump_machine))
    if isinstance(machines, str):
        names = [n for n in names if fnmatch.fnmatchcase(n, machines)]
    elif machines:
        unknown = sorted(set(machines) - set(names))
        if unknown:
            raise UsageError(f"{release}: no machine type {', '.join(unknown)} in this build")
        names = [n for n in names if n in machines]
    names.sort()
    schemas: dict[str, Any] = {}
    out_machines: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    pool = ThreadPoolExecutor(max_workers=max(1, min(jobs, 2)))
    try:
        futures = [pool.submit(capture, target, n, available) for n in names]
        for done, fut in enumerate(futures, 1):
            cap = fut.result()
            if cap.failure is not None:
                skipped[cap.machine] = cap.failure
                say(f"{release}: [{done}/{len(names)}] {cap.machine}: skipped: {cap.failure}")
                continue
            out_machines[cap.machine] = _machine(cap, schemas)
            got = len(out_machines[cap.machine]["devices"])
            say(f"{release}: [{done}/{len(names)}] {cap.machine}: {got} devices")
            for note in cap.notes:
                say(f"{release}: {cap.machine}: note: {note}")
    finally:
        # Ctrl-C or an error: the machines not started yet are dropped, the running saves
        # end with their QEMU (QemuProcess never outlives its save).
        pool.shutdown(wait=True, cancel_futures=True)
    conflicts: list[str] = []
    versions, type_vmsd = versions_from_dump(dump, conflicts)
    for note in conflicts:
        say(f"{release}: -dump-vmstate: note: {note}")
    probe = probe_devices(target, newest_families(every), say, jobs, only=probe_only)
    return {"format": FORMAT, "release": release, "build": build_name,
            "versions": versions, "type_vmsd": type_vmsd,
            "schemas": dict(sorted(schemas.items())), "machines": out_machines,
            "skipped": skipped, "device_probe": probe}


def newest_families(names: Iterable[str]) -> dict[str, str]:
    """The newest of ``names`` (the build's machine types) in each pc family (the device
    probe's)."""
    names = list(names)
    out = {}
    for family in ("pc-q35", "pc-i440fx"):
        mine = [n for n in names if n.startswith(f"{family}-")]
        if mine:
            out[family] = max(mine, key=lambda n: version_key(n.removeprefix(f"{family}-")))
    return out


def _newest_q35(names: Iterable[str]) -> str:
    q35 = [n for n in names if n.startswith("pc-q35-")]
    if not q35:
        raise MigcompatError("the build has no pc-q35-* machine type to dump")
    return max(q35, key=lambda n: version_key(n.removeprefix("pc-q35-")))


def _key(sec: Section, schemas: dict[str, Any]) -> str | None:
    if sec.desc is None:
        return None
    schema = schema_of(sec.desc)
    key = schema_key(schema)
    schemas.setdefault(key, schema)
    return key


def _machine(cap: Capture, schemas: dict[str, Any]) -> dict[str, Any]:
    assert cap.plain is not None and cap.smp2 is not None
    one, two = cap.plain.counts(), cap.smp2.counts()
    per_cpu = {idstr for idstr, n in two.items() if n > one.get(idstr, 0)}
    for idstr in sorted(set(two) - set(one)):
        cap.notes.append(f"section {idstr} only with -smp 2")
    for idstr in sorted(i for i, n in one.items() if two.get(i, 0) < n):
        cap.notes.append(f"section {idstr} has fewer instances with -smp 2")
    for sec in cap.plain.full():
        if sec.desc is None:
            cap.notes.append(f"section {sec.idstr} {sec.instance_id} is not in the vmdesc")
    cap.notes += [f"vmdesc entry {u} has no section" for u in cap.plain.unmatched]
    if cap.plain.switchover_starts:
        cap.notes.append(f"the stream has {cap.plain.switchover_starts} SWITCHOVER_START "
                         "command(s) (MIG_CMD 0x0b), left out to decode it")
    # Other vCPUs may send what the first does not (an AP's pending SIPI: apic_sipi): the
    # second instance of the -smp 2 save gives their layout.
    second = {(s.idstr, s.instance_id): s for s in cap.smp2.full()}
    board = []
    for s in cap.plain.full():
        entry: dict[str, Any] = {"idstr": s.idstr, "instance_id": s.instance_id,
                                 "schema": _key(s, schemas), "per_cpu": s.idstr in per_cpu}
        ap = second.get((s.idstr, s.instance_id + 1)) if s.idstr in per_cpu else None
        if ap is not None and ap.desc is not None:
            ap_key = _key(ap, schemas)
            if ap_key != entry["schema"]:
                entry["schema_ap"] = ap_key
        board.append(entry)
    ram = [{"idstr": name, "size": size, "mem": size == MEM_MIB << 20}
           for name, size in cap.plain.ram]
    devices, first_slot = _devices(cap, schemas)
    return {"board": board, "ram": ram, "pci_first_slot": first_slot, "devices": devices,
            "skipped_devices": dict(sorted(cap.skipped_devices.items())),
            "unmigratable": dict(sorted(cap.unmigratable.items())),
            "board_types": list(cap.board_types)}


def _devices(cap: Capture, schemas: dict[str, Any]) -> tuple[dict[str, Any], int | None]:
    devices: dict[str, Any] = {}
    first: int | None = None
    for batch in cap.batches:
        slot = _batch_devices(cap, batch, schemas, devices)
        first = slot if first is None else first
    return dict(sorted(devices.items())), first


def _batch_devices(cap: Capture, batch: Batch, schemas: dict[str, Any],
                   devices: dict[str, Any]) -> int | None:
    """Each device's sections and RAM blocks of one batch (under its PCI address); the
    first slot a device took."""
    stream = batch.stream
    prefixes: list[str] = []
    mapped: set[str] = set()  # backend ids whose RAM block is named alone ("mcmem3")
    first: int | None = None
    for n, dev in enumerate(batch.used):
        slot = batch.slots.get(f"mcdev{n}")
        if slot is None:
            cap.skipped_devices[dev.type] = "not on the root PCI bus (query-pci)"
            continue
        first = slot[0] if first is None else first
        prefix = _prefix(stream, *slot)
        prefixes.append(prefix)
        sections = [{"suffix": s.idstr[len(prefix):], "instance_id": s.instance_id,
                     "schema": _key(s, schemas)}
                    for s in stream.full() if s.idstr.startswith(prefix)]
        entry: dict[str, Any] = {"sections": sections}
        backend = dev.memdev(n)  # its block bears the user's backend id: not captured as is
        names = {f"{prefix}{backend}": "device", backend: "global"} if backend else {}
        entry["ram"] = [{"suffix": name[len(prefix):], "size": size}
                        for name, size in stream.ram
                        if name.startswith(prefix) and name not in names]
        found = [where for name, where in names.items() if name in dict(stream.ram)]
        if found and backend is not None:
            entry["backend_ram"] = {"memdev": found[0]}
            mapped.add(backend)
        if dev.options():
            entry["options"] = dev.options()
        devices[dev.type] = entry
    board = {(s.idstr, s.instance_id) for s in cap.plain.full()} if cap.plain else set()
    for s in stream.full():
        if (s.idstr, s.instance_id) not in board and not s.idstr.startswith(tuple(prefixes)):
            cap.notes.append(f"with devices: section {s.idstr} {s.instance_id} belongs "
                             "to no device")
    plain_ram = {name for name, _ in cap.plain.ram} if cap.plain else set()
    for name, _ in stream.ram:
        if name not in plain_ram and name not in mapped and \
                not name.startswith(tuple(prefixes)):
            cap.notes.append(f"with devices: RAM block {name} belongs to no device")
    return first


def _prefix(stream: SavedStream, slot: int, function: int) -> str:
    """A device's idstr prefix: ``0000:00:SS.F/``; a machine whose PCI host has
    ``short_root_bus`` (pc-i440fx-1.6) leaves out the bus: ``0000:SS.F/``."""
    long, short = f"0000:00:{slot:02x}.{function:x}/", f"0000:{slot:02x}.{function:x}/"
    names = [s.idstr for s in stream.sections] + [name for name, _ in stream.ram]
    if not any(n.startswith(long) for n in names) and any(n.startswith(short) for n in names):
        return short
    return long
