"""Every command's help ends with examples, and they stay true: each names a command and
options that exist, and those that need nothing but the bundled catalogs run."""

from __future__ import annotations

import itertools
import shlex

import click
import pytest

from cli_run import run
from migcompat.cli.main import COMMAND_MODULES, cli

# Commands whose examples need no file, QEMU, network or second process.
RUNNABLE = ("check", "props", "matrix", "releases", "machines", "diff", "lint")


def examples(command: click.Command) -> list[list[str]]:
    """The example command lines of a help text, continuation lines joined, comments off."""
    text = (command.epilog or "").split("Examples:", 1)[-1]
    lines, joined = [], ""
    for raw in text.splitlines():
        joined += raw.strip()
        if joined.endswith("\\"):
            joined = joined[:-1] + " "
            continue
        if joined:
            lines.append(shlex.split(joined, comments=True))
        joined = ""
    return lines


def command(name: str) -> click.Command:
    found = cli.get_command(click.Context(cli), name)
    assert found is not None, name
    return found


@pytest.mark.parametrize("name", sorted(COMMAND_MODULES))
def test_help_ends_with_examples_of_real_options(name: str) -> None:
    cmd = command(name)
    assert "Examples:" in (cmd.epilog or ""), name
    lines = examples(cmd)
    assert any(line[:2] == ["migcompat", *name.split()[:1]] for line in lines), name
    for line in lines:
        if line[0] != "migcompat":
            assert line[0] in ("make", "cat"), line
            continue
        target = command(line[1])
        rest = line[2:]
        if isinstance(target, click.Group):  # builds fetch ...
            target = target.commands[rest[0]]
        flags = {o for p in target.params for o in getattr(p, "opts", [])} | {"--help"}
        unknown = [t.split("=")[0] for t in rest if t.startswith("-") and t != "-"
                   and t.split("=")[0] not in flags]
        assert unknown == [], (line, unknown)


def names_a_file(line: list[str]) -> bool:
    """``--catalog PATH`` (a value with a slash or ending in .toml or .json: DESIGN.md), a
    source tree or patch (``diff``/``lint`` take paths), or output sent to a file."""
    return any(a == "--catalog" and ("/" in b or b.endswith((".toml", ".json")))
               for a, b in itertools.pairwise(line)) or \
        any("/" in a or a == ">" or a.endswith((".patch", ".json")) for a in line)


CATALOG_ONLY = [" ".join(line) for name in RUNNABLE for line in examples(command(name))
                if not names_a_file(line)]


def test_most_examples_of_the_catalog_commands_run() -> None:
    assert len(CATALOG_ONLY) >= 12  # the filter above must not drop them all


@pytest.mark.parametrize("line", CATALOG_ONLY)
def test_the_catalog_only_examples_run(line: str, capsys: pytest.CaptureFixture[str]) -> None:
    result = run(capsys, *shlex.split(line)[1:])
    assert result.code in (0, 1), (line, result.err)  # 2 would be a stale example
    assert result.out, line
