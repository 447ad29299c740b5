"""A fleet's inventory, read one VM at a time (docs/plan.md gives the formats).

``rows(path)`` yields :class:`Row`: where it came from (``FILE:LINE``), the VM's name, its
host's release when the format says it, and its config as the inventory writes it. Nothing
is parsed here beyond the row itself: the row's release and config as written are what
``plan`` memoizes first, so a million rows with a few hundred distinct configs parse a few
hundred command lines (plan_cmd.py's ``FleetPlanner.plan``). The inventory is never held
whole: a directory lists its file names, a file is read line by line.

- a directory: every ``*.xml`` in it, a libvirt domain each (``virsh dumpxml``), named after
  the file;
- ``*.jsonl`` / ``*.ndjson``: one JSON object a line;
- ``*.csv``: a header row, then one VM a row;
- any other file: QEMU command lines, one a line, ``#`` comments; a line may start with
  ``RELEASE<TAB>`` or ``NAME<TAB>RELEASE<TAB>``.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Literal, NamedTuple

import orjson

from migcompat.errors import UsageError

Kind = Literal["qemu-args", "libvirt-xml", "fields"]
COLUMNS = ("name", "release", "qemu_args", "libvirt_xml", "machine", "devices", "globals",
           "smp", "mem")


class Row(NamedTuple):  # a tuple: a million of them are made, each in a microsecond
    where: str  # FILE:LINE, or the XML file
    name: str
    release: str | None  # None: the format does not say (--from gives it)
    kind: Kind
    text: str  # the command line, or the XML file's path
    machine: str | None = None  # kind "fields"
    devices: tuple[str, ...] = ()
    globals: tuple[str, ...] = ()
    smp: int | None = None
    mem: str | None = None


def rows(path: Path) -> Iterator[Row]:
    if path.is_dir():
        return _xml_dir(path)
    if not path.exists():
        raise UsageError(f"{path}: no such file or directory")
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        return _jsonl(path)
    if suffix == ".csv":
        return _csv(path)
    return _args(path)


def _open(path: Path) -> Iterator[tuple[int, str]]:
    try:
        with path.open(encoding="utf-8", newline="") as f:
            yield from enumerate(f, 1)
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: {_why(exc)}") from None


def _why(exc: OSError | UnicodeDecodeError) -> str:
    return exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)


def _xml_dir(path: Path) -> Iterator[Row]:
    try:
        names = sorted(p.name for p in path.iterdir() if p.suffix == ".xml")
    except OSError as exc:
        raise UsageError(f"{path}: {exc.strerror or exc}") from None
    if not names:
        raise UsageError(f"{path}: no *.xml domain in the directory")
    for name in names:
        yield Row(str(path / name), name[:-4], None, "libvirt-xml", str(path / name))


def _args(path: Path) -> Iterator[Row]:
    for number, raw in _open(path):
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        where = f"{path}:{number}"
        fields = text.split("\t")
        if len(fields) > 3:
            raise UsageError(f"{where}: expected [[NAME<TAB>]RELEASE<TAB>]COMMAND LINE, "
                             f"got {len(fields)} tab-separated fields")
        name = fields[0] if len(fields) == 3 else where
        release = fields[-2].strip() if len(fields) > 1 else None
        yield Row(where, name, release or None, "qemu-args", fields[-1])


# The row every fast inventory has: strings for a name, a release and a command line.
_PLAIN = frozenset({"name", "release", "qemu_args"})


def _row(where: str, data: dict[str, object], base: Path) -> Row:
    if data.keys() == _PLAIN:
        name, release, args = data["name"], data["release"], data["qemu_args"]
        if isinstance(name, str) and isinstance(release, str) and isinstance(args, str) \
                and name and release and args:
            return Row(where, name, release, "qemu-args", args)
    unknown = sorted(set(data) - set(COLUMNS))
    if unknown:
        raise UsageError(f"{where}: unknown column {', '.join(unknown)} "
                         f"(known: {', '.join(COLUMNS)})")
    given = {k: v for k, v in data.items() if v not in (None, "")}

    def text(key: str) -> str | None:
        value = given.get(key)
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        raise UsageError(f"{where}: {key} must be a string, got {json.dumps(value)}")

    def words(key: str) -> tuple[str, ...]:
        value = given.get(key)
        if value is None:
            return ()
        if isinstance(value, str):
            return tuple(value.split())
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return tuple(value)
        raise UsageError(f"{where}: {key} must be a list of strings or a string of "
                         f"space-separated ones")

    name = text("name") or where
    release = text("release")
    inputs = [k for k in ("qemu_args", "libvirt_xml", "machine") if k in given]
    if len(inputs) != 1:
        raise UsageError(f"{where}: give one of qemu_args, libvirt_xml or machine (+ devices)"
                         + (f", not {' and '.join(inputs)}" if inputs else ""))
    if inputs[0] != "machine" and any(k in given for k in ("devices", "globals", "smp", "mem")):
        raise UsageError(f"{where}: devices, globals, smp and mem go with machine, not "
                         f"{inputs[0]}")
    if inputs[0] == "qemu_args":
        args = given["qemu_args"]
        if isinstance(args, list) and all(isinstance(a, str) for a in args):
            import shlex  # a list: the arguments as the process got them

            return Row(where, name, release, "qemu-args", shlex.join(args))
        return Row(where, name, release, "qemu-args", text("qemu_args") or "")
    if inputs[0] == "libvirt_xml":
        xml = Path(text("libvirt_xml") or "")
        return Row(where, name, release, "libvirt-xml", str(xml if xml.is_absolute()
                                                             else base / xml))
    smp = text("smp")
    if smp is not None and not smp.isdigit():
        raise UsageError(f"{where}: smp must be a vCPU count, got '{smp}'")
    return Row(where, name, release, "fields", "", text("machine"), words("devices"),
               words("globals"), int(smp) if smp is not None else None, text("mem"))


def _jsonl(path: Path) -> Iterator[Row]:
    base, loads, plain, make = path.parent, orjson.loads, _PLAIN, tuple.__new__
    try:
        with path.open(encoding="utf-8", newline="") as f:
            for number, raw in enumerate(f, 1):
                where = f"{path}:{number}"
                try:
                    data = loads(raw)
                except orjson.JSONDecodeError as exc:
                    if not raw.strip():
                        continue
                    raise UsageError(f"{where}: not JSON: {exc}") from None
                if data.__class__ is dict and data.keys() == plain:
                    # the common row, inline: a million go through here
                    name, release, args = data["name"], data["release"], data["qemu_args"]
                    if name.__class__ is str and release.__class__ is str \
                            and args.__class__ is str and name and release and args:
                        yield make(Row, (where, name, release, "qemu-args", args, None, (), (),
                                         None, None))
                        continue
                if not isinstance(data, dict):
                    raise UsageError(f"{where}: expected a JSON object, got "
                                     f"{type(data).__name__}")
                yield _row(where, data, base)
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: {_why(exc)}") from None


def _csv(path: Path) -> Iterator[Row]:
    lines = (raw for _, raw in _open(path))
    reader = csv.reader(lines)
    make = tuple.__new__
    try:
        header = next(reader, None)
        if header is None:
            raise UsageError(f"{path}: empty: expected a header row ({', '.join(COLUMNS)})")
        header = [h.strip() for h in header]
        # the common table, name, release and qemu_args in any order: read inline
        plain = len(header) == 3 and set(header) == _PLAIN
        at_name, at_release, at_args = (header.index(k) for k in ("name", "release",
                                                                  "qemu_args")) \
            if plain else (0, 0, 0)
        for record in reader:
            where = f"{path}:{reader.line_num}"
            if plain and len(record) == 3:
                name, release, args = record[at_name], record[at_release], record[at_args]
                if name and release and args:
                    yield make(Row, (where, name, release, "qemu-args", args, None, (), (),
                                     None, None))
                    continue
            if not any(record):
                continue
            if len(record) != len(header):
                raise UsageError(f"{where}: {len(record)} fields, the header has "
                                 f"{len(header)}")
            yield _row(where, dict(zip(header, record, strict=True)), path.parent)
    except csv.Error as exc:
        raise UsageError(f"{path}:{reader.line_num}: {exc}") from None
