"""The CLI's options are defined once (cli/options.py) and mean the same in every command."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from cli_run import run
from migcompat.cli.main import COMMAND_MODULES, cli
from migcompat.cli.options import VMArgs, parse_side
from migcompat.errors import UsageError

CLI = Path(__file__).resolve().parents[2] / "src" / "migcompat" / "cli"
SHARED = ("--device", "--global", "--smp", "--catalog", "--format", "--memory")


def all_commands() -> dict[str, click.Command]:
    ctx = click.Context(cli)
    found: dict[str, click.Command] = {}
    for name in COMMAND_MODULES:
        command = cli.get_command(ctx, name)
        assert command is not None, name
        if isinstance(command, click.Group):
            found.update({f"{name} {sub}": c for sub, c in command.commands.items()})
        else:
            found[name] = command
    return found


def test_no_command_module_defines_a_shared_option() -> None:
    pattern = re.compile(r"click\.option\(\s*\"(" + "|".join(SHARED) + r")\"")
    hits = [f"{p.name}:{n}" for p in sorted(CLI.glob("*.py")) if p.name != "options.py"
            for n, line in enumerate(p.read_text().splitlines(), 1) if pattern.search(line)]
    assert hits == []


def test_a_shared_option_has_one_type_and_one_wording() -> None:
    seen: dict[str, tuple[str, str, str]] = {}
    for where, command in all_commands().items():
        for param in command.params:
            if not isinstance(param, click.Option) or param.opts[-1] not in SHARED:
                continue
            # the help may end with the command's scope, "(both sides)": compare the rest
            text = re.sub(r" \([^)]*\)$", "", param.help or "")
            shape = (type(param.type).__name__, param.metavar or "", text.split(". Default")[0])
            first = seen.setdefault(param.opts[-1], (*shape[:2], where))
            assert shape[:2] == first[:2], f"{param.opts[-1]} in {where} vs {first[2]}"
    assert {"--device", "--catalog", "--format"} <= set(seen)


def test_vm_options_of_a_side_come_after_the_shared_ones() -> None:
    shared = VMArgs(("a",), ("g.p=1",), 2, "64M")
    side = VMArgs(("b",), (), None, "128M")
    assert shared.then(side) == VMArgs(("a", "b"), ("g.p=1",), 2, "128M")
    assert shared.then(VMArgs()) == shared


@pytest.mark.parametrize("text", ["qemu-5.2", ":pc-5.1", "qemu-5.2:", ""])
def test_release_machine_is_parsed_in_one_place(text: str) -> None:
    with pytest.raises(UsageError, match=re.escape(f"expected RELEASE:MACHINE, got '{text}'")):
        parse_side(text)


def test_every_command_gives_the_same_error_for_a_bad_side(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    stream = tmp_path / "vm.mig"
    stream.write_bytes(b"QEVM\x00\x00\x00\x03")
    for side, args in (("qemu-5.2", ("check", "qemu-5.2", "qemu-5.1:pc-5.1")),
                       ("qemu-5.1", ("validate", stream, "--dest", "qemu-5.1"))):
        result = run(capsys, *args)
        assert result.code == 2
        assert result.err.strip().splitlines() == [
            f"migcompat: error: expected RELEASE:MACHINE, got '{side}'"]
