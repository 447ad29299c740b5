"""The CLI's options are defined once (cli/options.py) and mean the same in every command."""

from __future__ import annotations

import ast
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


def _option_sites(path: Path) -> list[tuple[str, int]]:
    """Each flag given to a ``click.option(...)`` (or ``option_factory(...)``) call in
    ``path``, with its line: what a line grep misses too (a call split over lines, single
    quotes, ``-m`` before ``--memory``)."""
    sites = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and ast.unparse(node.func) in (
                "click.option", "click.Option", "option_factory"):
            sites += [(a.value, node.lineno) for a in node.args
                      if isinstance(a, ast.Constant) and isinstance(a.value, str)
                      and a.value.startswith("-")]
    return sites


def _flags_of_options_py() -> set[str]:
    """The flags options.py defines (its literal flag strings; --src-*/--dst-* are made
    from them)."""
    tree = ast.parse((CLI / "options.py").read_text())
    return {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)
            and isinstance(n.value, str) and re.fullmatch(r"--?[a-z][a-z-]*", n.value)}


# The same flag, two different options on purpose: the reason each is not shared.
DIFFERENT_OPTIONS = {
    "--machine": "validate: the destination's machine type; probe/crosscheck: a filter",
    "--schema": "analyze/rewrite: the stream's own layout; validate: the destination's dump",
    "--against": "validate: a stream the destination saved; builds resolve: a codename",
    "--to": "migrate: the destination's URI; plan: the next release of the upgrade path",
    "--output": "import-source/probe: the catalog file made; plan: the plan (any format)",
    "-o": "the short form of --output, as above",
}


def test_options_py_defines_the_shared_flags_and_no_one_else_does() -> None:
    shared = _flags_of_options_py()
    assert {"--device", "--global", "--smp", "-m", "--memory", "--catalog", "--format",
            "--explain", "--both-directions"} <= shared
    hits = [f"{p.name}:{line} {flag}" for p in sorted(CLI.glob("*.py"))
            if p.name != "options.py" for flag, line in _option_sites(p) if flag in shared]
    assert hits == []


def test_no_option_is_written_out_twice() -> None:
    seen: dict[str, list[str]] = {}
    for p in sorted(CLI.glob("*.py")):
        if p.name != "options.py":
            for flag, line in _option_sites(p):
                seen.setdefault(flag, []).append(f"{p.name}:{line}")
    twice = {flag: where for flag, where in seen.items() if len(where) > 1}
    # define it once (options.py, or the top of the module), or say here why it differs
    assert set(twice) == set(DIFFERENT_OPTIONS), twice


# (command, flag): the commands whose help (or default) is deliberately their own, given
# through the shared factory's parameters.
PARAMETERISED = {
    ("demo", "--catalog"), ("crosscheck", "--catalog"),  # tutorial, qemu by default
    ("diff", "--all"), ("lint", "--all"),  # what "all" adds is each command's own
    ("check", "--explain"), ("props", "--explain"),
    ("check", "--both-directions"), ("matrix", "--both-directions"),
}


# (command, flag): options that take other values there, on purpose, each with why; both
# are still defined in options.py.
OWN_VALUES = {
    ("lint", "--format"): "adds sarif, for code scanning",
    ("plan", "--format"): "adds jsonl and csv: one line or row per VM of a fleet",
    ("lint", "--fail-on"): "a SARIF severity (error, warning, note), not a verdict category",
}


def _shape(param: click.Option) -> tuple[object, ...]:
    return (type(param.type).__name__, getattr(param.type, "choices", None), param.metavar,
            param.multiple, param.is_flag, param.name)


def test_an_option_means_the_same_in_every_command() -> None:
    shapes: dict[str, tuple[tuple[object, ...], str]] = {}
    helps: dict[str, tuple[tuple[str, object], str]] = {}
    used = set()
    for where, command in all_commands().items():
        for param in command.params:
            if not isinstance(param, click.Option) or param.opts[-1] in DIFFERENT_OPTIONS:
                continue
            flag = param.opts[-1]
            if (where, flag) in OWN_VALUES:
                used.add((where, flag))
                continue
            first = shapes.setdefault(flag, (_shape(param), where))
            assert _shape(param) == first[0], f"{flag} in {where} vs {first[1]}"
            if (where, flag) in PARAMETERISED:
                used.add((where, flag))
                continue
            # the VM options end with the command's scope, "(every side)": not compared
            text = re.sub(r" \((every side|both sides|with --dest)\)$", "", param.help or "")
            said = helps.setdefault(flag, ((text, param.default), where))
            assert (text, param.default) == said[0], f"{flag} in {where} vs {said[1]}"
    assert used == PARAMETERISED | set(OWN_VALUES)  # a stale entry would hide a redefinition


def test_the_options_of_one_side_are_the_shared_ones() -> None:
    params = {p.opts[-1]: p for p in all_commands()["check"].params
              if isinstance(p, click.Option)}
    for side in ("src", "dst"):
        for flag, base in (("device", "--device"), ("global", "--global"), ("smp", "--smp"),
                           ("m", "--memory")):
            one = params[f"--{side}-{flag}"]
            assert _shape(one)[:5] == _shape(params[base])[:5], one.opts
            assert one.default in ((), None)  # nothing given: the shared value holds


def test_a_catalog_default_is_not_described_as_the_release_s_catalog() -> None:
    for name, default in (("crosscheck", "qemu"), ("demo", "tutorial"), ("check", None)):
        (param,) = [p for p in all_commands()[name].params if p.name == "catalog"]
        assert param.default == default
        assert ("the bundled catalog that has the release" in (param.help or "")) == (
            default is None), name


def test_an_unknown_release_is_the_same_error_everywhere(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # matrix takes release ids, the others RELEASE:MACHINE: all find the release one way
    stream = tmp_path / "vm.mig"
    stream.write_bytes(b"QEVM\x00\x00\x00\x03")
    lines = set()
    for args in (("check", "nope:pc-5.1", "qemu-5.1:pc-5.1"),
                 ("matrix", "nope", "qemu-5.1"),
                 ("props", "nope", "pc-5.1"),
                 ("validate", stream, "--dest", "nope:pc-5.1")):
        result = run(capsys, *args)
        assert result.code == 2, args
        (line,) = result.err.strip().splitlines()
        lines.add(line)
    (line,) = lines
    assert line.startswith("migcompat: error: unknown release 'nope'; known: ")
