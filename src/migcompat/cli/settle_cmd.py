"""``settle``: decide where a migration whose outcome is unknown left its VM."""

from __future__ import annotations

from pathlib import Path

import click

from migcompat.cli.options import format_option
from migcompat.cli.output import emit_json, out
from migcompat.errors import EXIT_UNKNOWN
from migcompat.migration.journal import journal_dir, settle


@click.command("settle", epilog="""\b
Examples:
  migcompat settle 3f2a9c...                 # both sides wrote to the default journal
  migcompat settle 3f2a9c... /srv/a/journal /srv/b/journal
  migcompat settle 3f2a9c... --format json
""")
@click.argument("migration")
@click.argument("journals", nargs=-1, metavar="[JOURNAL_DIR]...")
@format_option
def settle_command(migration: str, journals: tuple[str, ...], fmt: str) -> None:
    """Decide where migration MIGRATION left its VM, from both sides' journal records.

    JOURNAL_DIR: where the sides wrote (their --journal; default: the default journal),
    one per side when they wrote to different places.

    A `run` or `migrate` that exits 4 could not tell whether the handover happened; it
    holds its copy of the VM at rest and names the migration. `settle` reads the records,
    says which side has the VM (and which held file now is the VM, to load with `run
    --incoming file:FILE`), and removes the other copies. Exit 0 when settled, 4 when the
    records cannot tell yet (a side's record is missing), 2 when there is no record at all.
    """
    directories = [journal_dir(j) for j in journals] or [journal_dir()]
    decision, records = settle(migration, directories)
    where = {"migrated": "on the destination", "failed": "on the source"}
    if fmt == "json":
        emit_json("settle", {
            "migration": migration, "outcome": decision.outcome or "unknown",
            "why": decision.why, "vm": decision.vm, "removed": decision.discard,
            "records": {role: r.to_json() for role, r in records.items()}})
    elif decision.outcome is None:
        out().print(f"migration {migration}: still unknown: {decision.why}", markup=False)
    else:
        held = (f"; the VM is the held file {decision.vm} (load it with `migcompat run ... "
                f"--incoming file:{decision.vm}`)" if decision.vm else "")
        out().print(f"migration {migration}: {decision.outcome}, the VM is "
                    f"{where[decision.outcome]}: {decision.why}{held}", markup=False)
        for name in decision.discard:
            out().print(f"  removed the other copy {Path(name).name}", markup=False)
    if decision.outcome is None:
        raise click.exceptions.Exit(EXIT_UNKNOWN)


COMMANDS = [settle_command]
