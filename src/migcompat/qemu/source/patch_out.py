"""``lint --patch-out``: the fix as a unified diff against a QEMU tree, for ``patch -p1``.

Each entry goes at the end of its table, ``hw_compat_X_Y`` in ``hw/core/machine.c`` or
``pc_compat_X_Y`` in ``hw/i386/pc.c`` (the end: within a table, a later entry wins). A table
the tree lacks is created where QEMU keeps them (newest first), with its ``_len``, its
declarations (``include/hw/boards.h``, ``include/hw/i386/pc.h``) and a ``compat_props_add``
in the options function of machine type X.Y in ``hw/i386/pc_q35.c`` and ``pc_piix.c``.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path

from migcompat.errors import UsageError
from migcompat.model.globals import GlobalProperty, entry_text
from migcompat.model.machines import version_key

TABLE_FILES = {"hw": "hw/core/machine.c", "pc": "hw/i386/pc.c"}
HEADERS = {"hw": "include/hw/boards.h", "pc": "include/hw/i386/pc.h"}
BOARDS = ("hw/i386/pc_q35.c", "hw/i386/pc_piix.c")


def _version(table: str) -> str:
    return table.split("_compat_")[1].replace("_", ".")


def _add_to_table(lines: list[str], table: str, entries: list[GlobalProperty]) -> bool:
    """Append to an existing array; False when the file has no such table."""
    start = next((i for i, line in enumerate(lines)
                  if re.match(rf"\s*GlobalProperty\s+{table}\[\]\s*=\s*{{", line)), None)
    if start is None:
        return False
    end = next(i for i in range(start, len(lines)) if lines[i].strip().startswith("};"))
    lines[end:end] = [f"    {entry_text(e)}\n" for e in entries]
    return True


def _create_table(lines: list[str], table: str, entries: list[GlobalProperty]) -> None:
    prefix = table.split("_compat_")[0]
    mine = version_key(_version(table))
    block = [f"GlobalProperty {table}[] = {{\n", *(f"    {entry_text(e)}\n" for e in entries),
             "};\n", f"const size_t {table}_len = G_N_ELEMENTS({table});\n", "\n"]
    at = len(lines)
    for i, line in enumerate(lines):
        found = re.match(rf"\s*GlobalProperty\s+{prefix}_compat_(\d+)_(\d+)\[\]", line)
        if found and version_key(f"{found[1]}.{found[2]}") < mine:
            at = i
            break
    lines[at:at] = block


def _declare(lines: list[str], table: str) -> None:
    if any(f"{table}[]" in line for line in lines):
        return
    prefix = table.split("_compat_")[0]
    at = next((i for i, line in enumerate(lines)
               if re.match(rf"extern GlobalProperty {prefix}_compat_\d+_\d+\[\];", line)), None)
    if at is None:
        raise UsageError(f"cannot place the declaration of {table}: no other "
                         f"{prefix}_compat_X_Y is declared")
    lines[at:at] = [f"extern GlobalProperty {table}[];\n",
                    f"extern const size_t {table}_len;\n", "\n"]


def _hook(lines: list[str], table: str) -> bool:
    """Add ``compat_props_add`` to machine X.Y's options function; False if it has none."""
    v = _version(table).replace(".", "_")
    pattern = re.compile(rf"static void pc_(q35|i440fx)_(machine_)?{v}_(machine_)?options\(")
    start = next((i for i, line in enumerate(lines) if pattern.match(line)), None)
    if start is None:
        return False
    if any(f"{table}," in line for line in lines[start:start + 40]):
        return True
    end = next(i for i in range(start + 1, len(lines)) if lines[i].startswith("}"))
    lines[end:end] = [f"    compat_props_add(m->compat_props, {table}, {table}_len);\n"]
    return True


def fix_patch(by_table: dict[str, list[GlobalProperty]], tree: Path) -> str:
    """The unified diff (a/ b/ paths) that adds the entries, by table, to ``tree``."""
    edited: dict[str, list[str]] = {}

    def lines_of(rel: str) -> list[str]:
        if rel not in edited:
            path = tree / rel
            if not path.is_file():
                raise UsageError(f"{tree}: no {rel} (is it a QEMU source tree?)")
            edited[rel] = path.read_text(encoding="utf-8").splitlines(keepends=True)
        return edited[rel]

    for table, entries in sorted(by_table.items()):
        prefix = table.split("_compat_")[0]
        lines = lines_of(TABLE_FILES[prefix])
        if _add_to_table(lines, table, entries):
            continue
        _create_table(lines, table, entries)
        _declare(lines_of(HEADERS[prefix]), table)
        hooked = [_hook(lines_of(board), table) for board in BOARDS]
        if not any(hooked):
            raise UsageError(f"{tree}: no machine type {_version(table)} options function to "
                             f"add {table} to")
    out: list[str] = []
    for rel, lines in sorted(edited.items()):
        before = (tree / rel).read_text(encoding="utf-8").splitlines(keepends=True)
        out.extend(difflib.unified_diff(before, lines, f"a/{rel}", f"b/{rel}"))
    return "".join(out)
