"""QEMU's ``scripts/vmstate-static-checker.py`` as a peer of compare_schemas (shared helper of
tests/qemu_binary/test_vmstate_peer.py and tools/vmstate_peer_table.py).

``dump_vmstate`` writes a real build's ``-dump-vmstate`` file; ``run_peer`` runs the checker
from a pinned QEMU source tree (never a copy of it); ``parse_peer`` turns each line it prints
into a :class:`PeerMessage`: the section, the description and the names it is about, and the
finding kinds of ours that say the same thing. ``covering`` gives our findings that cover one
message: same section, one of those kinds, inside that description, about those names.

The peer stops a description at the first field it cannot explain ("skipping rest"), so such
a message is covered by any layout finding of ours in that description, not only at the field
it names: the first difference we see may come earlier (e1000e's retired array in 10.0).
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from migcompat.vmstate.compare import VmstateFinding
from migcompat.vmstate.schema import VMStateDescription
from qemu_helpers import BASE_ARGS

if TYPE_CHECKING:
    from migcompat.qemu.debian.builds import QemuBuild

LAYOUT = frozenset({"vmstate-field-removed", "vmstate-field-added", "vmstate-field-renamed",
                    "vmstate-field-size-changed", "vmstate-field-struct-changed",
                    "vmstate-field-version", "vmstate-field-exists-changed"})
VERSIONS = frozenset({"vmstate-version-too-new", "vmstate-version-too-old",
                      "vmstate-version-changed", "vmstate-field-version"})


def dump_vmstate(qemu: QemuBuild, machine: str, path: Path) -> Path:
    """``QEMU -M machine -dump-vmstate path``: QEMU writes the file and exits."""
    proc = subprocess.run([qemu.binary, *qemu.args(), *BASE_ARGS, "-M", machine,
                           "-dump-vmstate", str(path)], env=qemu.env, capture_output=True,
                          text=True, timeout=120, check=False)
    if proc.returncode != 0 or not path.is_file():
        raise RuntimeError(f"{qemu.binary} -dump-vmstate failed ({proc.returncode}): "
                           f"{proc.stderr.strip()}")
    return path


def peer_script(tree: Path) -> Path:
    return tree / "scripts" / "vmstate-static-checker.py"


def run_peer(script: Path, src: Path, dest: Path) -> tuple[int, list[str]]:
    """The checker's exit code (its count of problems, at most 255) and its lines."""
    proc = subprocess.run([sys.executable, str(script), "-s", str(src), "-d", str(dest)],
                          capture_output=True, text=True, timeout=120, check=False)
    if proc.stderr.strip():
        raise RuntimeError(f"the peer failed: {proc.stderr.strip()}")
    return proc.returncode, [line for line in proc.stdout.splitlines() if line.strip()]


@dataclass(frozen=True)
class PeerMessage:
    text: str
    section: str  # "" for the machine warning
    description: str | None  # the description the peer names, when it names one
    names: tuple[str, ...]  # a field, subsection or description our finding must name
    kinds: frozenset[str]  # our kinds that say the same
    taint: bool = True  # counted in the peer's exit code


Q = r'"([^"]*)"'
_PREFIX = rf"^Section {Q}"


def _message(text: str) -> PeerMessage:  # one branch per message the peer prints
    def m(pattern: str) -> re.Match[str] | None:
        return re.fullmatch(pattern, text)

    if g := m(rf"Warning: checking incompatible machine types: {Q}, {Q}"):
        return PeerMessage(text, "", None, (), frozenset({"vmstate-machine-differs"}), False)
    if g := m(rf"{_PREFIX} does not exist in dest"):
        return PeerMessage(text, g[1], None, (), frozenset({"vmstate-section-removed",
                                                            "vmstate-section-renamed"}))
    if g := m(rf"{_PREFIX} (?:Description {Q}: )?version error: \d+ > \d+"):
        kinds = VERSIONS if g[2] else frozenset({"vmstate-version-too-new"})
        return PeerMessage(text, g[1], g[2], (), kinds)
    if g := m(rf"{_PREFIX} Description {Q}: minimum version error: \d+ < \d+"):
        return PeerMessage(text, g[1], g[2], (), VERSIONS - {"vmstate-field-version"})
    if g := m(rf"{_PREFIX}: Entry {Q} missing"):
        return PeerMessage(text, g[1], None, (g[2],), frozenset())  # no Description: no dump
    if g := m(rf"{_PREFIX} Description {Q}: Entry {Q} missing"):
        kind = {"Fields": "vmstate-field-removed", "Subsections": "vmstate-subsection-removed"}
        return PeerMessage(text, g[1], g[2], (), frozenset({kind.get(g[3], "")}))
    if g := m(rf"{_PREFIX}: Description {Q} missing, got {Q} instead; skipping"):
        return PeerMessage(text, g[1], None, (g[2],),
                           frozenset({"vmstate-description-renamed"}))
    if g := m(rf"{_PREFIX}, Description {Q}: expected field {Q}, got {Q}; skipping rest"):
        return PeerMessage(text, g[1], g[2], (), LAYOUT)
    if g := m(rf"{_PREFIX}, Description {Q}: expected field {Q}, while dest has no further "
              "fields"):
        return PeerMessage(text, g[1], g[2], (g[3],), frozenset({"vmstate-field-removed"}))
    if g := m(rf'{_PREFIX}, Description {Q}: unused size mismatch near " ?([^"]*)"'):
        return PeerMessage(text, g[1], g[2], (), LAYOUT)
    if g := m(rf"{_PREFIX} Description {Q} Field {Q} size mismatch: \d+ , \d+"):
        return PeerMessage(text, g[1], g[2], (g[3],),
                           frozenset({"vmstate-field-size-changed"}))
    if g := m(rf"{_PREFIX}, Description {Q}, Field {Q}: missing description"):
        return PeerMessage(text, g[1], g[2], (g[3],),
                           frozenset({"vmstate-field-struct-changed"}))
    if g := m(rf"{_PREFIX}, Description {Q}: Subsection {Q} not found"):
        return PeerMessage(text, g[1], g[2], (g[3],),
                           frozenset({"vmstate-subsection-removed"}))
    raise ValueError(f"a peer message this helper does not know: {text!r}")


def parse_peer(lines: list[str]) -> list[PeerMessage]:
    return [_message(line) for line in lines]


def _contexts(vmsd: VMStateDescription, path: str) -> set[str]:
    """The descriptions a finding's path is in: the innermost one holding the item, and the
    item itself when it is a struct or a subsection. Field names may hold dots
    ('esp.mig_version_id'), so every field whose name starts the path is tried."""
    if not path:
        return {vmsd.name}
    if path.startswith("["):
        name, _, rest = path[1:].partition("]")
        sub = vmsd.subsection(name)
        if sub is None:
            return {vmsd.name}
        return {vmsd.name, sub.name} if not rest else _contexts(sub, rest.removeprefix("."))
    found: set[str] = set()
    for f in vmsd.fields:
        if path == f.name:
            found |= {vmsd.name} | ({f.struct.name} if f.struct is not None else set())
        elif path.startswith(f.name + ".") and f.struct is not None:
            found |= _contexts(f.struct, path[len(f.name) + 1:])
    return found or {vmsd.name}


def _names(f: VmstateFinding, name: str) -> bool:
    return f.field == name or f.field.endswith("." + name) or name in (f.old, f.new)


def covering(message: PeerMessage, findings: list[VmstateFinding],
             old: Mapping[str, VMStateDescription],
             new: Mapping[str, VMStateDescription]) -> list[VmstateFinding]:
    """Our findings that say what ``message`` says (see the module docstring)."""
    out = []
    for f in findings:
        if f.section != message.section or f.kind not in message.kinds:
            continue
        if message.names and not any(_names(f, n) for n in message.names):
            continue
        if message.description is not None:
            where = set().union(*(_contexts(side[f.section], f.field)
                                  for side in (old, new) if f.section in side))
            if message.description not in where:
                continue
        out.append(f)
    return out
