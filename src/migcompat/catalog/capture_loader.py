"""Read a release's captured device state (``<release>.state.json``, docs/probe-state.md).

The file is large (every machine type of a build), so it is parsed once and each machine is
turned into model objects only when asked for. A malformed file is a catalog error naming
the file and the JSON path, like any other catalog problem.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from functools import cache, partial
from pathlib import Path
from typing import Any

from migcompat.catalog.cache import cached
from migcompat.catalog.checker import Checker, path_key
from migcompat.errors import CatalogError, StreamError
from migcompat.model.capture import (
    OK,
    Capture,
    CapturedDevice,
    CapturedMachine,
    CapturedRam,
    CapturedSection,
    DeviceProbe,
    ProbedDevice,
)
from migcompat.vmstate.rules import NEVER
from migcompat.vmstate.schema import VMStateDescription
from migcompat.vmstate.vmdesc import vmsd_from_vmdesc

FORMAT = 1


@cache
def load_capture(file: str) -> Capture:
    chk = Checker(file)
    try:
        data = json.loads(Path(file).read_bytes())
    except OSError as exc:
        chk.add("$", "unreadable", f"cannot read file: {exc.strerror or exc}")
        raise CatalogError(chk.problems) from None
    except (ValueError, RecursionError) as exc:
        chk.add("$", "syntax", f"not valid JSON: {exc}")
        raise CatalogError(chk.problems) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        chk.add("$.format", "format-version", f"expected a captured-state file of format {FORMAT}")
        raise CatalogError(chk.problems)
    machines = data.get("machines")
    if not isinstance(machines, dict):
        chk.add("$.machines", "wrong-type", "expected an object of machine types")
        raise CatalogError(chk.problems)
    reader = _Reader(file, data)
    skipped = data.get("skipped", {})
    probe = device_probe(chk, data.get("device_probe", {}))
    return Capture(str(data.get("release", "")), str(data.get("build", "")), file,
                   tuple(machines), skipped if isinstance(skipped, dict) else {},
                   reader.machine, probe)


STATUSES = ("ok", "blocked", "crashes", "cannot-start")


def device_probe(chk: Checker, raw: object) -> DeviceProbe:
    """``$.device_probe``: per family, the probed machine type, the device types that
    started and migrated (``ok``) and the others with QEMU's words."""
    if not isinstance(raw, dict):
        chk.add("$.device_probe", "wrong-type", "expected an object of machine families")
        raise CatalogError(chk.problems)
    out: dict[str, tuple[str, dict[str, ProbedDevice]]] = {}
    for family, entry in raw.items():
        where = path_key("$.device_probe", family)
        if not (isinstance(entry, dict) and isinstance(entry.get("machine"), str)
                and isinstance(entry.get("ok", []), list)
                and isinstance(entry.get("devices", {}), dict)):
            chk.add(where, "wrong-type", "expected {machine, ok: [...], devices: {...}}")
            raise CatalogError(chk.problems)
        found: dict[str, ProbedDevice] = dict.fromkeys(map(str, entry.get("ok", [])), OK)
        for name, dev in entry.get("devices", {}).items():
            if not (isinstance(dev, dict) and dev.get("status") in STATUSES
                    and isinstance(dev.get("words", ""), str)
                    and isinstance(dev.get("lifted_by", []), list)):
                chk.add(path_key(f"{where}.devices", name), "wrong-type",
                        f"expected {{status: {'|'.join(STATUSES)}, words, lifted_by}}")
                raise CatalogError(chk.problems)
            found[name] = ProbedDevice(dev["status"], dev.get("words", ""),
                                       tuple(map(str, dev.get("lifted_by", []))))
        out[str(family)] = (entry["machine"], found)
    return out


def cached_capture(file: str) -> Capture:
    """:func:`load_capture` through the cache of built releases (catalog/cache.py): the
    index (machine names, skipped devices), then each machine when it is asked for. The
    whole file (700 KB of JSON, every machine type) is read only for what the cache lacks:
    a check needs one machine type of it."""
    release, build, names, skipped, probe = cached(f"capture-index:{file}", [Path(file)],
                                                   partial(_index, file))
    return Capture(release, build, file, names, skipped, partial(_cached_machine, file),
                   probe)


def _index(file: str) -> tuple[str, str, tuple[str, ...], dict[str, str], DeviceProbe]:
    whole = load_capture(file)
    return (whole.release, whole.build, whole.machine_names, dict(whole.skipped),
            whole.device_probe)


def _cached_machine(file: str, name: str) -> CapturedMachine | None:
    return cached(f"capture:{file}:{name}", [Path(file)],
                  lambda: load_capture(file).machine(name))


class _Reader:
    def __init__(self, file: str, data: dict[str, Any]) -> None:
        self.file = file
        self.data = data
        self.schemas: dict[str, VMStateDescription | None] = {}
        self._seen: dict[str, dict[str, dict[str, Any]]] | None = None

    def _fail(self, path: str, message: str) -> CatalogError:
        chk = Checker(self.file)
        chk.add(path, "bad-vmstate", message)
        return CatalogError(chk.problems)

    def schema(self, key: object, path: str) -> VMStateDescription | None:
        if key is None:
            return None
        if not isinstance(key, str):
            raise self._fail(path, "expected a schema key or null")
        if key not in self.schemas:
            raw = self.data.get("schemas", {}).get(key)
            if not isinstance(raw, dict):
                raise self._fail(path, f"unknown schema '{key}'")
            try:
                vmsd = vmsd_from_vmdesc(raw, path_key("$.schemas", key))
            except StreamError as exc:
                raise self._fail(path_key("$.schemas", key), exc.message) from None
            self.schemas[key] = with_versions(vmsd, self.data.get("versions", {}),
                                              self.seen_subsections(vmsd.name))
        return self.schemas[key]

    def seen_subsections(self, vmsd_name: str) -> list[VMStateDescription]:
        """Every subsection of ``vmsd_name`` this build was seen to send, in any captured
        stream (another machine type, another vCPU): the build knows them all."""
        if self._seen is None:
            self._seen = {}
            for raw in self.data.get("schemas", {}).values():
                if isinstance(raw, dict) and isinstance(raw.get("subsections"), list):
                    subs = self._seen.setdefault(str(raw.get("vmsd_name")), {})
                    for sub in raw["subsections"]:
                        if isinstance(sub, dict):
                            subs.setdefault(str(sub.get("vmsd_name")), sub)
        out = []
        for name, raw in sorted(self._seen.get(vmsd_name, {}).items()):
            try:
                out.append(vmsd_from_vmdesc(raw, f"$.schemas (subsection {name})"))
            except StreamError:
                continue  # a malformed one is reported when its own schema is read
        return out

    def machine(self, name: str) -> CapturedMachine | None:
        raw = self.data["machines"].get(name)
        if raw is None:
            return None
        p = path_key("$.machines", name)
        if not isinstance(raw, dict):
            raise self._fail(p, "expected an object")
        try:
            board = tuple(self._section(s, f"{path_key(p, 'board')}[{i}]", "idstr")
                          for i, s in enumerate(raw.get("board", [])))
            ram = tuple(self._ram(r, f"{path_key(p, 'ram')}[{i}]", "idstr")
                        for i, r in enumerate(raw.get("ram", [])))
            devices = {dev: self._device(body, path_key(path_key(p, "devices"), dev))
                       for dev, body in raw.get("devices", {}).items()}
            slot = raw.get("pci_first_slot", 0)
            if not isinstance(slot, int):
                raise self._fail(path_key(p, "pci_first_slot"), "expected an integer")
            board_types = raw.get("board_types", [])
            if not isinstance(board_types, list) or \
                    not all(isinstance(t, str) for t in board_types):
                raise self._fail(path_key(p, "board_types"), "expected a list of type names")
        except (AttributeError, TypeError) as exc:
            raise self._fail(p, f"unexpected shape: {exc}") from None
        return CapturedMachine(name, board, ram, slot, devices,
                               dict(raw.get("skipped_devices", {})),
                               dict(raw.get("unmigratable", {})), tuple(board_types))

    def _section(self, raw: Mapping[str, Any], path: str, key: str) -> CapturedSection:
        name, instance = raw.get(key), raw.get("instance_id", 0)
        if not isinstance(name, str) or not isinstance(instance, int):
            raise self._fail(path, f"needs a string '{key}' and an integer 'instance_id'")
        return CapturedSection(name, instance, self.schema(raw.get("schema"), path),
                               bool(raw.get("per_cpu", False)),
                               self.schema(raw.get("schema_ap"), path))

    def _ram(self, raw: Mapping[str, Any], path: str, key: str) -> CapturedRam:
        name, size = raw.get(key), raw.get("size")
        if not isinstance(name, str) or not isinstance(size, int):
            raise self._fail(path, f"needs a string '{key}' and an integer 'size'")
        return CapturedRam(name, size, bool(raw.get("mem", False)))

    def _device(self, raw: Mapping[str, Any], path: str) -> CapturedDevice:
        sections = tuple(self._section(s, f"{path}.sections[{i}]", "suffix")
                         for i, s in enumerate(raw.get("sections", [])))
        ram = tuple(self._ram(r, f"{path}.ram[{i}]", "suffix")
                    for i, r in enumerate(raw.get("ram", [])))
        options = self._strings(raw.get("options", {}), f"{path}.options")
        backend_ram = self._strings(raw.get("backend_ram", {}), f"{path}.backend_ram")
        for prop, where in backend_ram.items():
            if where not in ("device", "global"):
                raise self._fail(f"{path}.backend_ram.{prop}",
                                 f"expected 'device' or 'global', got '{where}'")
        return CapturedDevice(sections, ram, options, backend_ram)

    def _strings(self, raw: object, path: str) -> dict[str, str]:
        if not isinstance(raw, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in raw.items()):
            raise self._fail(path, "expected a table of strings")
        return dict(raw)


def with_versions(vmsd: VMStateDescription, versions: Mapping[str, Any],
                  seen: Sequence[VMStateDescription] = ()) -> VMStateDescription:
    """A description as sent (from a stream) plus what the build accepts: the minimum
    version (from its dump), and the subsections it knows but did not send here, which are
    never sent by this section: those seen in its other streams, with their layouts, and
    those only its dump lists, without."""
    info = versions.get(vmsd.name)
    info = info if isinstance(info, dict) else {}
    known = info.get("subsections", {})
    known = known if isinstance(known, dict) else {}
    subs = [replace(s, minimum_version_id=_int(known.get(s.name, {}), "minimum_version_id"))
            for s in vmsd.subsections]
    names = {s.name for s in subs}
    for other in seen:
        if other.name not in names:
            names.add(other.name)
            subs.append(replace(other, needed=NEVER, minimum_version_id=_int(
                known.get(other.name, {}), "minimum_version_id")))
    subs += [VMStateDescription(name, _int(v, "version_id"), _int(v, "minimum_version_id"),
                                needed=NEVER, complete=False)
             for name, v in known.items() if name not in names]
    # Not in the dump (a section without a device class): the version as sent is all we know.
    minimum = _int(info, "minimum_version_id") if info else vmsd.minimum_version_id
    return replace(vmsd, minimum_version_id=minimum, subsections=tuple(subs))


def _int(d: object, key: str) -> int:
    value = d.get(key, 0) if isinstance(d, dict) else 0
    return value if isinstance(value, int) else 0
