"""The handover's journal: what a side knew when it stopped, so that ``settle`` can decide.

A side writes a record only when its peer may be in doubt, and holds its copy of the VM (as
a stream file, which ``run --incoming file:`` loads) only when it is in doubt itself:

- the source, ``failed`` after the whole stream went out and no verdict came back: a
  record (the destination may hold a copy in doubt), no held VM (it runs the VM);
- the source, ``unknown`` (it committed, no ack came): a record and its held VM;
- the destination, ``unknown`` (it loaded, no commit came): a record and its held VM;
- the destination, ``migrated`` without the source's ``bye``: a record (the source may be
  in doubt), no held VM (it runs the VM).

Records live in ``DIR/<migration>.<role>.json`` (``--journal DIR``; default
``$MIGCOMPAT_STATE``, else ``$XDG_STATE_HOME/migcompat/journal``, else
``~/.local/state/migcompat/journal``); a held VM beside it as ``<migration>.<role>.mig``.
:func:`decide` is the rule; :func:`settle` applies it to what the journals hold.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from migcompat.errors import UsageError

Role = Literal["source", "destination"]
Outcome = Literal["migrated", "failed", "unknown", "saved"]
ROLES: tuple[Role, ...] = ("source", "destination")
FORMAT = 1


def journal_dir(given: str | None = None) -> Path:
    if given:
        return Path(given)
    base = os.environ.get("MIGCOMPAT_STATE")
    if base:
        return Path(base).expanduser()
    xdg = os.environ.get("XDG_STATE_HOME")
    root = Path(xdg).expanduser() if xdg else Path.home() / ".local" / "state"
    return root / "migcompat" / "journal"


@dataclass(frozen=True)
class Record:
    """What one side knew when it stopped. ``phase`` is how far it got: ``sent`` (the whole
    stream out), ``committed``, ``loaded``, ``running``."""

    migration: str
    role: Role
    outcome: Outcome
    phase: str
    peer: str = ""
    digest: str | None = None
    held: str | None = None  # the held VM's file, when the side is in doubt
    format: int = FORMAT

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def _name(migration: str, role: Role, suffix: str) -> str:
    if not migration or any(c in migration for c in "/\\\0") or migration.startswith("."):
        raise UsageError(f"invalid migration id '{migration}'")
    return f"{migration}.{role}{suffix}"


def held_path(directory: Path, migration: str, role: Role) -> Path:
    return directory / _name(migration, role, ".mig")


def write_record(directory: Path, record: Record) -> Path:
    """Write ``record`` whole or not at all (a temporary name, then a rename)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / _name(record.migration, record.role, ".json")
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(record.to_json(), indent=1) + "\n")
    os.replace(tmp, path)
    return path


def read_record(path: Path) -> Record:
    try:
        doc = json.loads(path.read_text())
        if doc.get("format") != FORMAT or doc.get("role") not in ROLES:
            raise ValueError("not a migcompat journal record")
        return Record(**{k: doc[k] for k in ("migration", "role", "outcome", "phase")},
                      peer=str(doc.get("peer") or ""), digest=doc.get("digest"),
                      held=doc.get("held"))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"{path}: cannot read the journal record: {exc}") from None


def find_records(migration: str, directories: Iterable[Path]) -> dict[Role, Record]:
    found: dict[Role, Record] = {}
    for directory in directories:
        for role in ROLES:
            path = directory / _name(migration, role, ".json")
            if path.is_file() and role not in found:
                found[role] = read_record(path)
    return found


@dataclass(frozen=True)
class Decision:
    """Where the VM is: ``migrated`` (the destination has it), ``failed`` (the source has
    it), or ``None`` when the records cannot tell (exit 4 again). ``vm`` is the held file
    that now is the VM, if the side that keeps it was holding one."""

    outcome: Literal["migrated", "failed"] | None
    why: str
    vm: str | None = None
    discard: list[str] = field(default_factory=list)


def decide(source: Record | None, destination: Record | None) -> Decision:
    """The settle rule. The destination runs the VM only after a commit, and the source
    commits only after the destination said it loaded; so:

    - the destination ran it (``migrated``): it is there;
    - the source never committed (``failed``), or the destination refused it: it stayed on
      the source;
    - both in doubt (the source committed, the destination loaded but heard no commit):
      neither runs it, and the destination holds a whole, verified copy: the migration is
      completed there (the operator's intent), and the source's copy is discarded.
    """
    def held(r: Record | None) -> list[str]:
        return [r.held] if r is not None and r.held else []

    if destination is not None and destination.outcome == "migrated":
        return Decision("migrated", "the destination ran the VM after the source's commit",
                        None, held(source))
    if source is not None and source.outcome == "failed":
        return Decision("failed", "the source never committed: the destination cannot have "
                        "run the VM", None, held(destination))
    if destination is not None and destination.outcome == "failed":
        return Decision("failed", "the destination did not load the VM", held(source)[0]
                        if held(source) else None, [])
    if source is not None and source.outcome == "migrated":
        return Decision("migrated", "the source had the destination's ack", None,
                        held(destination))
    if source is not None and destination is not None:  # both unknown
        return Decision("migrated", "the source committed and the destination holds the "
                        "loaded, verified VM: the handover is completed there",
                        held(destination)[0] if held(destination) else None, held(source))
    missing = "source" if source is None else "destination"
    return Decision(None, f"the {missing}'s record is missing and the other side is in doubt")


def settle(migration: str, directories: list[Path]) -> tuple[Decision, dict[Role, Record]]:
    """Decide where migration ``migration`` left its VM and tidy the journals: the copies
    that are not the VM are removed, and so are the records of a decided migration."""
    records = find_records(migration, directories)
    if not records:
        where = ", ".join(str(d) for d in directories)
        raise UsageError(f"no journal record of migration '{migration}' in {where}")
    decision = decide(records.get("source"), records.get("destination"))
    if decision.outcome is not None:
        for name in decision.discard:
            Path(name).unlink(missing_ok=True)
        for directory in directories:
            for role in records:
                (directory / _name(migration, role, ".json")).unlink(missing_ok=True)
    return decision, records
