"""Compat tables: ``GlobalProperty hw_compat_X_Y[]``, ``pc_compat_X_Y[]``, family defaults.

Reference §1 and §4: each entry is ``{driver, property, value}`` written positionally,
with ``.optional = true`` where needed; drivers are often ``TYPE_*`` macros or string
concatenations (``"EPYC" "-" TYPE_X86_CPU``), and some entries come from macros that
expand to several entries (``PC_CPU_MODEL_IDS``).
"""

from __future__ import annotations

from typing import Any

import tree_sitter

from migcompat.errors import CompatEntryError
from migcompat.qemu.source import cexpr, cpp
from migcompat.qemu.source.cinit import FileContext, declarations_of_type, designated
from migcompat.qemu.source.tree import line_of, node_text

# Files holding the versioned tables (reference §4) and the family defaults (§3.3).
TABLE_FILES = ("hw/core/machine.c", "hw/i386/pc.c", "hw/i386/pc_q35.c", "hw/i386/pc_piix.c")


def read_entries(ctx: FileContext, init: tree_sitter.Node, table_file: str) -> list[dict[str, Any]]:
    """Entries of one ``GlobalProperty x[] = {...}`` initializer, in order."""
    tokens = ctx.tokens(node_text(init), line_of(init))
    body = tokens[1:-1] if tokens and tokens[0].text == "{" else tokens
    entries: list[dict[str, Any]] = []
    for element in cpp.split_top(body):
        if not element:
            continue
        line = element[0].line
        for item in cpp.split_top(ctx.expand(element)):
            if not item or [t.text for t in item] == ["{", "}"]:
                continue
            entries.append(_entry(ctx, item, line, table_file))
    return entries


def _entry(ctx: FileContext, item: list[cpp.Token], line: int, table_file: str) -> dict[str, Any]:
    fields, positional = designated(item)
    names = ("driver", "property", "value")
    values: dict[str, str] = {}
    for i, part in enumerate(positional[:3]):
        values[names[i]] = _string(ctx, part, line)
    for key in names:
        if key in fields:
            values[key] = _string(ctx, fields[key], line)
    missing = [k for k in names if k not in values]
    if missing:
        raise CompatEntryError(f"compat entry without {', '.join(missing)}",
                               str(ctx.file.path), line)
    entry: dict[str, Any] = {
        "driver": values["driver"],
        "property": values["property"],
        "value": values["value"],
    }
    if "optional" in fields:
        try:
            optional = ctx.value(fields["optional"])
        except cexpr.Unresolved as exc:
            raise CompatEntryError(f".optional: {exc}", str(ctx.file.path), line) from exc
        if optional:
            entry["optional"] = True
    entry["line"] = line
    if ctx.file.path != table_file:
        entry["file"] = ctx.file.path
    return entry


def _string(ctx: FileContext, tokens: list[cpp.Token], line: int) -> str:
    try:
        return ctx.string(tokens)
    except cexpr.Unresolved as exc:
        raise CompatEntryError(str(exc), str(ctx.file.path), line) from exc


def read_tables(ctx: FileContext) -> dict[str, dict[str, Any]]:
    """Every file-level ``GlobalProperty name[]`` table of the file, in file order."""
    tables: dict[str, dict[str, Any]] = {}
    for name, node, init, is_array in declarations_of_type(ctx, {"GlobalProperty"}):
        if not is_array or init.type != "initializer_list":
            continue
        tables[name] = {
            "file": ctx.file.path,
            "line": line_of(node),
            "entries": read_entries(ctx, init, ctx.file.path),
        }
    return tables
