"""QAPI enums from ``qapi/*.json``: their members and their generated C constants.

The C headers for QAPI types are generated at build time, so they are not in a source
tree. Property defaults such as ``ON_OFF_AUTO_AUTO`` or ``LOST_TICK_POLICY_DISCARD``
name those generated constants; we rebuild the names from the schema.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

from migcompat.qemu.source.cond import BuildConfig


def _strip_comments(text: str) -> str:
    """QAPI schema files are Python-like literals with ``#`` comments outside strings."""
    out: list[str] = []
    for line in text.splitlines():
        in_str = False
        for i, ch in enumerate(line):
            if ch == "'":
                in_str = not in_str
            elif ch == "#" and not in_str:
                line = line[:i]
                break
        out.append(line)
    return "\n".join(out)


def _expressions(text: str) -> list[dict[str, Any]]:
    """The top-level ``{...}`` expressions of a schema file."""
    text = _strip_comments(text)
    exprs: list[dict[str, Any]] = []
    depth = 0
    start = -1
    in_str = False
    for i, ch in enumerate(text):
        if ch == "'":
            in_str = not in_str
        if in_str:
            continue
        if ch == "{":
            if depth == 0:
                start = i
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0 and start >= 0:
                try:
                    value = ast.literal_eval(text[start : i + 1])
                except (ValueError, SyntaxError):
                    continue
                if isinstance(value, dict):
                    exprs.append(value)
    return exprs


def _cond(cond: Any, config: BuildConfig) -> bool:
    """A QAPI 'if' condition under the build configuration."""
    if cond is None:
        return True
    if isinstance(cond, str):
        name = cond[len("defined(") : -1] if cond.startswith("defined(") else cond
        return config.is_defined(name)
    if isinstance(cond, dict):
        if "all" in cond:
            return all(_cond(c, config) for c in cond["all"])
        if "any" in cond:
            return any(_cond(c, config) for c in cond["any"])
        if "not" in cond:
            return not _cond(cond["not"], config)
        return True
    return True


def c_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


def camel_to_upper_old(value: str) -> str:
    """QAPI's CamelCase to UPPER_CASE rule used up to QEMU 9.0."""
    s = c_name(value)
    if value.isupper():
        return s
    out = ""
    for i, ch in enumerate(s):
        if (
            ch.isupper()
            and i > 0
            and s[i - 1] != "_"
            and ((i < len(s) - 1 and s[i + 1].islower()) or s[i - 1].isdigit())
        ):
            out += "_"
        out += ch
    return out.lstrip("_").upper()


def camel_to_upper_new(value: str) -> str:
    """QAPI's later rule: a word also starts after a lower-case letter or a digit."""
    s = c_name(value)
    if value.isupper():
        return s
    out = ""
    for i, ch in enumerate(s):
        if (
            ch.isupper()
            and i > 0
            and s[i - 1] != "_"
            and (
                s[i - 1].islower()
                or s[i - 1].isdigit()
                or (i < len(s) - 1 and s[i + 1].islower() and s[i - 1].isupper())
            )
        ):
            out += "_"
        out += ch
    return out.lstrip("_").upper()


class QapiEnums:
    """Every QAPI enum of a tree: members in order, and C constant values."""

    def __init__(self, root: Path, config: BuildConfig) -> None:
        self.members: dict[str, list[str]] = {}
        self.constants: dict[str, int] = {}
        qapi_dir = root / "qapi"
        files = sorted(qapi_dir.glob("*.json")) if qapi_dir.is_dir() else []
        for path in files:
            for expr in _expressions(path.read_text(encoding="utf-8", errors="replace")):
                if "enum" in expr and _cond(expr.get("if"), config):
                    self._add(expr, config)

    def _add(self, expr: dict[str, Any], config: BuildConfig) -> None:
        name = str(expr["enum"])
        members: list[str] = []
        for item in expr.get("data", []):
            if isinstance(item, dict):
                if not _cond(item.get("if"), config):
                    continue
                members.append(str(item["name"]))
            else:
                members.append(str(item))
        self.members[name] = members
        prefixes = (
            {expr["prefix"]}
            if "prefix" in expr
            else {camel_to_upper_old(name), camel_to_upper_new(name)}
        )
        for prefix in prefixes:
            for index, member in enumerate(members):
                self.constants.setdefault(f"{prefix}_{c_name(member).upper()}", index)
            self.constants.setdefault(f"{prefix}__MAX", len(members))
