"""``run`` (destination) and ``migrate`` (source): real migrations between processes."""

from __future__ import annotations

from typing import Any

import click

from migcompat.cli.options import VMArgs, catalog_option, format_option, vm_config, vm_options
from migcompat.cli.output import emit_json, error_line, out, warn
from migcompat.errors import EXIT_INCOMPATIBLE
from migcompat.migration.session import SendResult, load_file, migrate, serve_incoming
from migcompat.migration.transport import Listener
from migcompat.migration.uri import parse_uri
from migcompat.model.props import parse_size
from migcompat.vm.live import LiveVM, build, build_empty
from migcompat.vm.loadvm import LoadResult

seed_option = click.option("--seed", type=int, default=0, show_default=True,
                           help="Seed of the device state and RAM content.")


def _send_report(res: SendResult, uri: str) -> dict[str, Any]:
    rate = res.bytes_sent / res.seconds if res.seconds > 0 else 0.0
    return {"uri": uri, "ok": res.ok, "error": res.error, "digest": res.digest,
            "destination_digest": res.dest_digest, "bytes": res.bytes_sent,
            "seconds": round(res.seconds, 4), "bytes_per_second": round(rate)}


def _load_report(res: LoadResult) -> dict[str, Any]:
    return {"ok": True, "machine": res.live.machine, "digest": res.digest,
            "source_digest": res.source_digest, "bytes": res.bytes_read,
            "sections": len([s for s in res.live.sections if s.state is not None]),
            "warnings": res.warnings}


def do_migrate(live: LiveVM, to: str, fmt: str, retry_for: float = 5.0) -> int:
    uri = parse_uri(to)
    res = migrate(live, uri, retry_for)
    if fmt == "json":
        emit_json("migrate", _send_report(res, str(uri)))
    elif res.ok is not False:
        done = "written" if res.ok is None else "completed"
        out().print(f"migration {done}: {res.bytes_sent} bytes in {res.seconds:.3f}s, "
                    f"digest {res.digest}", markup=False)
    if res.ok is False:
        error_line(f"migration failed: {res.error}")
        return EXIT_INCOMPATIBLE
    return 0


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
@catalog_option
@format_option
def run(release: str, machine: str, vm: VMArgs, incoming: str, then_migrate: str | None,
        timeout: float, catalog: str | None, fmt: str) -> None:
    """Start a destination VM of RELEASE on MACHINE and wait for an incoming migration.

    The first line of output is the URI actually bound (port 0 resolved). The VM loads with
    its own release's schemas; nothing is applied unless the whole stream loads and the
    source's digest matches. Exit 0 when loaded, 1 when the migration failed, 3 when the
    URI cannot be bound.
    """
    config = vm_config(release, machine, catalog, vm)
    target = build_empty(config)
    uri = parse_uri(incoming)
    if uri.scheme == "file":
        print(uri, flush=True)
        result = load_file(target, uri.path)
    else:
        listener = Listener(uri)
        try:
            print(listener.uri, flush=True)
            result = serve_incoming(target, listener, timeout)
        finally:
            listener.close()
    for w in result.warnings:
        warn(w)
    if fmt == "json":
        emit_json("run", _load_report(result))
    else:
        checked = " (matches the source)" if result.source_digest else ""
        out().print(f"migration loaded: {result.bytes_read} bytes, digest "
                    f"{result.digest}{checked}", markup=False)
    if then_migrate:
        code = do_migrate(result.live, then_migrate, fmt)
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
@catalog_option
@format_option
def migrate_command(release: str, machine: str, vm: VMArgs, to: str, seed: int,
                    ram_data: str | None, retry: float, catalog: str | None, fmt: str) -> None:
    """Start a source VM of RELEASE on MACHINE and migrate it to a destination.

    On tcp and unix the destination answers on a return channel; when it fails, its error is
    printed here. Exit 0 when the destination loaded the VM (or the file was written), 1 when
    it failed, 3 when it cannot be reached.
    """
    config = vm_config(release, machine, catalog, vm)
    data = parse_size("ram-data", ram_data) if ram_data is not None else None
    live = build(config, seed=seed, ram_data=data)
    code = do_migrate(live, to, fmt, retry)
    if code:
        raise click.exceptions.Exit(code)


migrate_command.name = "migrate"
COMMANDS = [run, migrate_command]
