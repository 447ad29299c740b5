"""The ``migcompat`` command: a thin click group; each command lives in its own module."""

from __future__ import annotations

import sys

import click

from migcompat import __version__
from migcompat.cli.output import error_line
from migcompat.errors import EXIT_USAGE, CatalogError, MigcompatError

EPILOG = """\b
Examples:
  migcompat demo
  migcompat releases --catalog tutorial
  migcompat props qemu-5.2 pc-5.1 --device virtio-blk-pci,id=vb0 --smp 4 --explain
  migcompat check qemu-5.2:pc-5.1 qemu-5.1:pc-5.1 --device virtio-blk-pci --smp 4
"""


@click.group(epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"],
                                               "max_content_width": 100})
@click.version_option(__version__, prog_name="migcompat")
def cli() -> None:
    """QEMU migration compatibility: machine types, compat tables, device state, streams.

    Exit codes: 0 ok/compatible, 1 incompatible or migration failed, 2 bad usage or
    input, 3 environment (QEMU missing, cannot bind or connect).
    """


def _register() -> None:
    # Imported here so that `migcompat --help` stays fast and modules stay independent.
    from migcompat.cli import (
        catalog_cmds,
        check_cmd,
        demo,
        migrate_cmds,
        props,
        qemu_cmds,
        stream_cmds,
    )

    for module in (catalog_cmds, props, check_cmd, migrate_cmds, demo, qemu_cmds, stream_cmds):
        for command in module.COMMANDS:
            cli.add_command(command)


def main(argv: list[str] | None = None) -> None:
    _register()
    try:
        code = cli.main(args=argv, prog_name="migcompat", standalone_mode=False)
    except click.exceptions.Abort:
        error_line("interrupted")
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except CatalogError as exc:
        for problem in exc.problems:
            error_line(problem.format())
        sys.exit(exc.exit_code)
    except MigcompatError as exc:
        error_line(str(exc))
        sys.exit(exc.exit_code)
    except BrokenPipeError:
        sys.exit(0)
    sys.exit(code if isinstance(code, int) else 0)


__all__ = ["EXIT_USAGE", "cli", "main"]
