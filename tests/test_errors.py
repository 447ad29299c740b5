"""The exception tree: every class in errors.py, drawn in its docstring, and no caller
that tells errors apart by their message text."""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

import migcompat
from migcompat import errors
from migcompat.errors import MigcompatError

SRC = Path(migcompat.__file__).parent


def all_subclasses(cls: type) -> set[type]:
    found = set()
    for sub in cls.__subclasses__():
        found |= {sub} | all_subclasses(sub)
    return found


def import_everything() -> None:
    for mod in pkgutil.walk_packages([str(SRC)], "migcompat."):
        if mod.name.endswith("__main__"):
            continue
        importlib.import_module(mod.name)


def test_every_error_class_is_defined_in_errors_py() -> None:
    import_everything()
    elsewhere = sorted(f"{c.__module__}.{c.__qualname__}" for c in all_subclasses(MigcompatError)
                       if c.__module__ != "migcompat.errors")
    assert elsewhere == []


def test_the_docstring_draws_the_whole_tree() -> None:
    doc = errors.__doc__ or ""
    drawn: dict[str, int] = {}  # class name -> depth in the drawing
    for line in doc.splitlines():
        body = line[4:]  # the drawing is indented by four spaces in the docstring
        m = re.match(r"((?:[│ ]   )*)(?:[├└]── )?([A-Z]\w+)\s", body + " ")
        if m and hasattr(errors, m.group(2)):
            marker = body.startswith(("├", "└"), len(m.group(1)))
            drawn[m.group(2)] = len(m.group(1)) // 4 + (1 if marker else 0)
    defined = {c.__name__ for c in all_subclasses(MigcompatError)
               if c.__module__ == "migcompat.errors"} | {"MigcompatError"}
    assert set(drawn) == defined
    # and each one under its real parent: a class is drawn one level below its base
    for name, depth in drawn.items():
        cls = getattr(errors, name)
        if name != "MigcompatError":
            base = next(b for b in cls.__bases__ if issubclass(b, MigcompatError))
            assert drawn[base.__name__] == depth - 1, name


def test_exit_codes_follow_the_table() -> None:
    assert errors.UsageError("x").exit_code == 2
    assert errors.StreamError("x").exit_code == 1
    assert errors.TruncatedStream("x").exit_code == 1
    assert errors.UnreadableStream(errors.TruncatedStream("x", 7)).exit_code == 2
    assert errors.CannotListen("x").exit_code == 3
    assert errors.ConnectionLost("x").exit_code == 1
    assert errors.PackageFileGone("x").exit_code == 3
    assert errors.SourceImportError("x").exit_code == 2
    assert errors.QemuNotFound("x").exit_code == 3


MESSAGE_MATCH = re.compile(
    r"(str\((exc|err|e)\)|\b(exc|err|e)\.message)\s*\.\s*(startswith|endswith|find|index)\b"
    r"|\bin\s+(str\((exc|err|e)\)|\b(exc|err|e)\.message)")


def test_no_caller_matches_message_text() -> None:
    hits = [f"{p.relative_to(SRC)}:{n}: {line.strip()}"
            for p in sorted(SRC.rglob("*.py"))
            for n, line in enumerate(p.read_text().splitlines(), 1)
            if MESSAGE_MATCH.search(line)]
    assert hits == []


def test_the_message_pattern_catches_what_it_should() -> None:
    assert MESSAGE_MATCH.search('if exc.message.startswith("truncated"):')
    assert MESSAGE_MATCH.search('if "404" in str(exc):')
    assert MESSAGE_MATCH.search('if "HTTP 404" not in str(exc)')
    assert not MESSAGE_MATCH.search('if isinstance(exc, TruncatedStream):')
