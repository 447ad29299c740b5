"""The ``migcompat`` command: a thin click group; each command lives in its own module."""

from __future__ import annotations

import importlib
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
  migcompat matrix --catalog qemu 7.2 10.0 --device virtio-blk-pci --smp 4
  migcompat lint --catalog tutorial qemu-5.1 qemu-5.2-broken
"""


# Each command's module is imported only when that command runs: importing them all cost
# about a quarter of a second per invocation, which dominated short runs such as `analyze`.
COMMAND_MODULES: dict[str, tuple[str, str]] = {
    "releases": ("catalog_cmds", "releases"),
    "machines": ("catalog_cmds", "machines"),
    "props": ("props", "props"),
    "check": ("check_cmd", "check_command"),
    "diff": ("diff_cmd", "diff_command"),
    "lint": ("lint_cmd", "lint_command"),
    "matrix": ("matrix_cmd", "matrix"),
    "plan": ("plan_cmd", "plan_command"),
    "run": ("migrate_cmds", "run"),
    "migrate": ("migrate_cmds", "migrate_command"),
    "settle": ("settle_cmd", "settle_command"),
    "demo": ("demo", "demo"),
    "import-source": ("qemu_cmds", "import_source"),
    "probe": ("qemu_cmds", "probe_command"),
    "crosscheck": ("qemu_cmds", "crosscheck_command"),
    "probe-compare": ("qemu_cmds", "probe_compare_command"),
    "builds": ("debian_cmds", "builds_group"),
    "sources": ("debian_cmds", "sources_command"),
    "analyze": ("stream_cmds", "analyze"),
    "rewrite": ("stream_cmds", "rewrite"),
    "validate": ("stream_cmds", "validate"),
}


# What ``migcompat --help`` says of each command, so that it imports none of them (the
# suite checks that it lists every command, each on one line).
SUMMARIES: dict[str, str] = {
    "releases": "List the releases of a catalog.",
    "machines": "List the machine types of a release.",
    "props": "Effective property values of a VM's devices and their origin.",
    "check": "Predict whether a VM can migrate, and the fix to make it.",
    "diff": "Compare every property of two releases or trees.",
    "lint": "Find changes that break old machine types, with the fix.",
    "matrix": "Predict migration for every machine type two releases share.",
    "plan": "Plan a fleet's upgrade, VM by VM, along a path of releases.",
    "run": "Start a destination VM and wait for a migration.",
    "migrate": "Start a source VM and migrate it to a destination.",
    "settle": "Decide where an unknown-outcome migration left its VM.",
    "demo": "Run the document's six cases and the A->B->C chain.",
    "import-source": "Read a QEMU source tree into a release catalog.",
    "probe": "Read a QEMU binary over QMP into a release catalog.",
    "crosscheck": "Compare the model's property values with a real QEMU binary.",
    "probe-compare": "Compare a probed release with its source import.",
    "builds": "The real QEMU builds pinned in catalogs.lock.toml.",
    "sources": "Fetch the pinned QEMU source trees.",
    "analyze": "Show what a QEMU migration stream file holds.",
    "rewrite": "Re-encode a stream file, optionally changing values.",
    "validate": "Predict whether a destination will accept a stream file.",
}


class LazyGroup(click.Group):
    """A group whose commands are imported on first use; ``--help`` lists them from
    SUMMARIES without importing them."""

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            summary = SUMMARIES.get(name)
            if summary is None:
                cmd = self.get_command(ctx, name)
                summary = cmd.get_short_help_str(80) if cmd is not None else ""
            rows.append((name, summary))
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMAND_MODULES, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands or cmd_name not in COMMAND_MODULES:
            return self.commands.get(cmd_name)
        module_name, attr = COMMAND_MODULES[cmd_name]
        module = importlib.import_module(f"migcompat.cli.{module_name}")
        command: click.Command = getattr(module, attr)
        self.add_command(command, cmd_name)
        return command


@click.group(cls=LazyGroup, epilog=EPILOG,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="migcompat")
def cli() -> None:
    """QEMU migration compatibility: machine types, compat tables, device state, streams.

    Exit codes: 0 ok/compatible, 1 incompatible or migration failed, 2 bad usage or
    input, 3 environment (QEMU missing, cannot bind or connect), 4 a migration whose
    outcome is unknown (`migcompat settle` resolves it).
    """


def main(argv: list[str] | None = None) -> None:
    """The program; ``argv`` None: the process's own arguments, and the process is this
    one command's (catalog/cache.py's FREEZE_LOADED)."""
    if argv is None:
        from migcompat.catalog import cache  # here: --help and --version need no cache

        cache.FREEZE_LOADED = True
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
