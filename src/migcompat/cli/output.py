"""Where results go: JSON (stable, versioned) or text for people, always on stdout.

Diagnostics go to stderr. Colour only when stdout is a terminal (rich decides).
"""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console

JSON_SCHEMA = 1

_out: Console | None = None
_err: Console | None = None


def out() -> Console:
    global _out
    if _out is None:
        # Piped output is read by people too (and by tests): do not squeeze it into 80
        # columns.
        _out = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
    return _out


def err() -> Console:
    global _err
    if _err is None:
        _err = Console(stderr=True, soft_wrap=True, highlight=False)
    return _err


def emit_json(command: str, payload: dict[str, Any]) -> None:
    doc = {"schema": JSON_SCHEMA, "command": command, **payload}
    sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    sys.stdout.flush()


def warn(message: str) -> None:
    err().print(f"[yellow]warning:[/yellow] {message}", markup=True, highlight=False)


def error_line(message: str) -> None:
    # One line per problem; markup off so brackets in messages print verbatim.
    err().print(f"migcompat: error: {message}", markup=False, highlight=False)
