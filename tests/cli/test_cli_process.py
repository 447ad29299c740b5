"""The command process: the lazy command table, and a reader that leaves early."""

from __future__ import annotations

import importlib
import subprocess
import sys

import click
from click.testing import CliRunner

from migcompat.cli.main import COMMAND_MODULES, cli


def test_table_matches_the_modules_commands() -> None:
    exported: dict[str, str] = {}
    for module_name in {m for m, _ in COMMAND_MODULES.values()}:
        module = importlib.import_module(f"migcompat.cli.{module_name}")
        for command in module.COMMANDS:
            assert isinstance(command, click.Command)
            exported[command.name or ""] = module_name
    assert exported == {name: m for name, (m, _) in COMMAND_MODULES.items()}
    for name, (module_name, attr) in COMMAND_MODULES.items():
        module = importlib.import_module(f"migcompat.cli.{module_name}")
        assert getattr(module, attr).name == name


def test_help_lists_every_command_and_unknown_is_an_error() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for name in COMMAND_MODULES:
        assert f"  {name} " in result.output
    bad = CliRunner().invoke(cli, ["analyse"])
    assert bad.exit_code == 2
    assert "No such command 'analyse'" in bad.output


def test_reader_leaving_early_keeps_the_exit_code() -> None:
    # More than a pipe buffer of text (64 KiB), read one line and close: rich would exit 1.
    argv = [sys.executable, "-m", "migcompat", "props", "--catalog", "qemu", "7.2",
            "pc-q35-5.1", "--explain", *[x for d in ("virtio-blk-pci", "e1000",
                                                     "virtio-net-pci", "virtio-scsi-pci")
                                         for x in ("--device", d)]]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline().startswith(b"release 7.2")
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=60) == 0, err
    assert b"Traceback" not in err
