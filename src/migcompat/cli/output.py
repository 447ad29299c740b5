"""Where results go: JSON (stable, versioned) or text for people, always on stdout.

Diagnostics go to stderr. Colour only when stdout is a terminal (rich decides).
"""

from __future__ import annotations

import json
import os
import sys
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from rich.console import Console

JSON_SCHEMA = 1
_ORJSON = orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE | orjson.OPT_NON_STR_KEYS

_out: Console | None = None
_err: Console | None = None


def out() -> Console:
    global _out
    if _out is None:
        from rich.console import Console  # imported on first use: it costs 25 ms of start-up

        # Piped output is read by people too (and by tests): do not squeeze it into 80
        # columns.
        class _Out(Console):
            def on_broken_pipe(self) -> None:
                # `migcompat check ... | head`: the reader left, but the command's exit code
                # is still its answer (rich would exit 1). Later output goes nowhere.
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, sys.stdout.fileno())
                os.close(devnull)

        _out = _Out(highlight=False, width=None if sys.stdout.isatty() else 160)
    return _out


def err() -> Console:
    global _err
    if _err is None:
        from rich.console import Console  # on first use, as out()

        _err = Console(stderr=True, soft_wrap=True, highlight=False)
    return _err


def json_text(doc: dict[str, Any]) -> str:
    """``doc`` as indented JSON text ending in a newline (orjson: the standard library's
    indented encoder is pure Python, a tenth of a second on a real stream's report)."""
    try:
        return orjson.dumps(doc, option=_ORJSON).decode()
    except TypeError:  # an integer wider than 64 bits: the standard encoder takes it
        return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def emit_json(command: str, payload: dict[str, Any], schema: int = JSON_SCHEMA) -> None:
    """``payload`` with its ``schema`` (raised per command when a key changes meaning,
    docs/json.md) and ``command``."""
    text = json_text({"schema": schema, "command": command, **payload})
    sys.stdout.write(text)
    sys.stdout.flush()


# Control bytes (C0 but tab, DEL, C1) as \xNN: a name from a hostile stream or catalog
# must not move the cursor, recolour the terminal or break a one-line message in two.
_CONTROL = {c: f"\\x{c:02x}" for c in (*range(0x20), *range(0x7f, 0xa0)) if c != 0x09}


def printable(text: str) -> str:
    return text.translate(_CONTROL)


def warn(message: str) -> None:
    if _err is None and not sys.stderr.isatty():
        # Piped or logged: plain text, without loading rich for it (25 ms of a command
        # that has nothing else to colour).
        sys.stderr.write(f"warning: {printable(message)}\n")
        sys.stderr.flush()
        return
    from rich.markup import escape  # with err(): rich is loaded by then

    err().print(f"[yellow]warning:[/yellow] {escape(printable(message))}", markup=True,
                highlight=False)


def error_line(message: str) -> None:
    # One line per problem; markup off so brackets in messages print verbatim.
    err().print(f"migcompat: error: {printable(message)}", markup=False, highlight=False)
