"""``run`` (destination) and ``migrate`` (source): real migrations between processes."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import click

from migcompat.cli.options import VMArgs, catalog_option, format_option, vm_config, vm_options
from migcompat.cli.output import emit_json, error_line, out, warn
from migcompat.errors import EXIT_INCOMPATIBLE, EXIT_UNKNOWN
from migcompat.migration.journal import Outcome, journal_dir
from migcompat.migration.session import (
    HANDOVER_SECONDS,
    Handover,
    ReceiveResult,
    SendResult,
    load_file,
    migrate,
    serve_incoming,
)
from migcompat.migration.transport import Listener
from migcompat.migration.uri import parse_uri
from migcompat.model.props import parse_size
from migcompat.vm.live import LiveVM, build, build_empty

seed_option = click.option("--seed", type=int, default=0, show_default=True,
                           help="Seed of the device state and RAM content.")


journal_option = click.option(
    "--journal", metavar="DIR", default=None,
    help="Where a side in doubt keeps its record and its copy of the VM for `migcompat "
         "settle` (default: $MIGCOMPAT_STATE, else ~/.local/state/migcompat/journal).")
handover_option = click.option(
    "--handover-timeout", type=click.FloatRange(0.1, 3600), default=HANDOVER_SECONDS,
    show_default=True, help="Seconds to wait for each word of the handover.")


def _send_report(res: SendResult, uri: str) -> dict[str, Any]:
    rate = res.bytes_sent / res.seconds if res.seconds > 0 else 0.0
    return {"uri": uri, "outcome": res.outcome, "ok": res.ok, "error": res.error,
            "migration": res.migration, "digest": res.digest,
            "destination_digest": res.dest_digest, "bytes": res.bytes_sent,
            "seconds": round(res.seconds, 4), "bytes_per_second": round(rate),
            "record": str(res.record) if res.record else None}


def _load_report(res: ReceiveResult) -> dict[str, Any]:
    load = res.load
    return {"outcome": res.outcome, "ok": res.outcome == "migrated", "error": res.error,
            "migration": res.migration, "machine": load.live.machine, "digest": load.digest,
            "source_digest": load.source_digest, "bytes": load.bytes_read,
            "sections": len([s for s in load.live.sections if s.state is not None]),
            "warnings": load.warnings, "record": str(res.record) if res.record else None}


def outcome_code(outcome: Outcome) -> int:
    """The exit code of an outcome (docs/design.md): unknown is 4, for ``settle``."""
    return {"migrated": 0, "saved": 0, "failed": EXIT_INCOMPATIBLE}.get(outcome, EXIT_UNKNOWN)


def _in_doubt(migration: str, record: Path | None) -> None:
    error_line(f"migration {migration}: the outcome is unknown; the VM is held at rest "
               f"({record}); decide with `migcompat settle {migration}`")


def do_migrate(live: LiveVM, to: str, fmt: str, retry_for: float = 5.0,
               journal: str | None = None, timeout: float = HANDOVER_SECONDS) -> int:
    uri = parse_uri(to)
    res = migrate(live, uri, retry_for,
                  Handover(uuid.uuid4().hex, journal_dir(journal), timeout))
    if fmt == "json":
        emit_json("migrate", _send_report(res, str(uri)))
    elif res.outcome in ("migrated", "saved"):
        done = "written" if res.outcome == "saved" else "completed"
        out().print(f"migration {done}: {res.bytes_sent} bytes in {res.seconds:.3f}s, "
                    f"digest {res.digest}", markup=False)
    if res.outcome == "failed":
        error_line(f"migration failed: {res.error}")
    elif res.outcome == "unknown":
        _in_doubt(res.migration, res.record)
    return outcome_code(res.outcome)


@click.command(epilog="""\b
Examples:
  migcompat run qemu-5.1 pc-5.1 --device virtio-blk-pci --smp 4 --incoming tcp::0
  migcompat run qemu-5.2 pc-5.1 --device virtio-blk-pci --incoming unix:/tmp/mig.sock
  migcompat run qemu-5.2 pc-5.1 --device virtio-blk-pci --incoming file:/tmp/vm.mig
  migcompat run qemu-5.2 pc-5.1 --device virtio-blk-pci --incoming tcp::0 \\
      --then-migrate tcp:127.0.0.1:4445
""")
@click.argument("release")
@click.argument("machine")
@vm_options
@click.option("--incoming", required=True, metavar="URI",
              help="tcp:HOST:PORT (tcp::PORT = loopback, port 0 = any free), unix:PATH, "
                   "file:PATH.")
@click.option("--then-migrate", metavar="URI", default=None,
              help="After a successful load, migrate the VM on to URI (chains A->B->C).")
@click.option("--timeout", type=float, default=60.0, show_default=True,
              help="Seconds to wait for the source to connect.")
@handover_option
@journal_option
@catalog_option
@format_option
def run(release: str, machine: str, vm: VMArgs, incoming: str, then_migrate: str | None,
        timeout: float, handover_timeout: float, journal: str | None, catalog: str | None,
        fmt: str) -> None:
    """Start a destination VM of RELEASE on MACHINE and wait for an incoming migration.

    The first line of output is the URI actually bound (port 0 resolved). The VM loads with
    its own release's schemas; nothing is applied unless the whole stream loads and the
    source's digest matches, and it runs only once the source committed to the handover.
    Exit 0 when loaded, 1 when the migration failed, 3 when the URI cannot be bound, 4 when
    the outcome is unknown (run `migcompat settle ID`).
    """
    config = vm_config(release, machine, catalog, vm)
    target = build_empty(config)
    uri = parse_uri(incoming)
    if uri.scheme == "file":
        print(uri, flush=True)
        load = load_file(target, uri.path)
        result = ReceiveResult("migrated", load, load.migration)
    else:
        with Listener(uri) as listener:
            print(listener.uri, flush=True)
            result = serve_incoming(target, listener, timeout, journal_dir(journal),
                                    handover_timeout)
    for w in result.load.warnings:
        warn(w)
    if fmt == "json":
        emit_json("run", _load_report(result))
    elif result.outcome == "migrated":
        out().print(f"migration loaded: {result.load.bytes_read} bytes, digest "
                    f"{result.load.digest} (matches the source)", markup=False)
    if result.outcome == "unknown":
        _in_doubt(result.migration, result.record)
    elif result.outcome == "failed":
        error_line(f"migration failed: {result.error}")
    code = outcome_code(result.outcome)
    if then_migrate and result.outcome == "migrated":
        code = do_migrate(result.load.live, then_migrate, fmt, journal=journal,
                          timeout=handover_timeout)
    if code:
        raise click.exceptions.Exit(code)


@click.command(epilog="""\b
Examples:
  migcompat migrate qemu-5.2 pc-5.1 --device virtio-blk-pci --smp 4 --to tcp:127.0.0.1:4444
  migcompat migrate qemu-5.2 pc-5.1 --device virtio-blk-pci --to unix:/tmp/mig.sock
  migcompat migrate qemu-5.2 pc-5.1 --device virtio-blk-pci -m 1G --to file:/tmp/vm.mig
""")
@click.argument("release")
@click.argument("machine")
@vm_options
@click.option("--to", "to", required=True, metavar="URI", help="Where the destination listens.")
@seed_option
@click.option("--ram-data", default=None, metavar="SIZE",
              help="Bytes of non-zero (seeded random) RAM; default 1/64 of RAM.")
@click.option("--retry", type=float, default=5.0, show_default=True,
              help="Seconds to keep retrying the connection.")
@handover_option
@journal_option
@catalog_option
@format_option
def migrate_command(release: str, machine: str, vm: VMArgs, to: str, seed: int,
                    ram_data: str | None, retry: float, handover_timeout: float,
                    journal: str | None, catalog: str | None, fmt: str) -> None:
    """Start a source VM of RELEASE on MACHINE and migrate it to a destination.

    On tcp and unix the VM is handed over (docs/migration.md "Handover"): the destination
    runs it only after this side commits, and this side commits only once the destination
    loaded it. Exit 0 when the destination runs the VM (or the file was written), 1 when it
    failed (this side keeps the VM), 3 when the destination cannot be reached, 4 when the
    outcome is unknown (run `migcompat settle ID`).
    """
    config = vm_config(release, machine, catalog, vm)
    data = parse_size("ram-data", ram_data) if ram_data is not None else None
    live = build(config, seed=seed, ram_data=data)
    code = do_migrate(live, to, fmt, retry, journal, handover_timeout)
    if code:
        raise click.exceptions.Exit(code)


migrate_command.name = "migrate"
COMMANDS = [run, migrate_command]
