"""The package layering (docs/design.md "Layers"): every import points down.

Each package lists the packages it may import; it may also import whatever those may
import, and every package may import ``errors``, ``lazy`` (the package-level lazy import
helper) and ``gctools`` (the collector paused over bulk work), which import nothing of the
project. The test reads every module's imports with
``ast`` (module-level and local ones alike), so a forbidden import fails here whatever its
place in the file.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "migcompat"

# package -> the packages it lists (DESIGN: errors <- vmstate <- model <- stream <- vm <-
# analysis <- report; catalog reads files into model; the I/O package (migration) and the
# importers (qemu) sit beside them; cli on top).
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "lazy": set(),
    "gctools": set(),
    "vmstate": set(),
    "model": {"vmstate"},
    "stream": {"model"},
    "vm": {"stream"},
    "analysis": {"vm"},
    "report": {"analysis"},  # the HTML report's pages, as text
    "catalog": {"model"},
    "migration": {"vm"},
    "qemu": {"catalog", "stream"},
    "cli": {"*"},
    "__main__": {"cli"},
    "__init__": set(),
}
# Pure packages: no files, sockets or processes (DESIGN "Layers").
PURE = ("vmstate", "model", "stream", "vm", "analysis", "report")
# (mmap is allowed: model/memory.py maps anonymous memory, which is allocation, not I/O.)
IO_MODULES = {"socket", "subprocess", "tempfile", "shutil", "select", "selectors", "fcntl"}
IO_CALLS = {"open", "read_text", "read_bytes", "write_text", "write_bytes", "mkstemp"}


@cache
def reachable(package: str) -> frozenset[str]:
    """What ``package`` may import: its list, theirs, and so on, plus errors and lazy."""
    out = {"errors", "lazy", "gctools", package}
    for dep in ALLOWED[package]:
        out |= {dep} if dep == "*" else reachable(dep)
    return frozenset(out)


def package_of(path: Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def module_name(path: Path) -> str:
    rel = path.relative_to(SRC).with_suffix("")
    parts = ["migcompat", *rel.parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, source: str | None = None) -> list[tuple[int, str]]:
    """(line, absolute module) of every import in the file, relative ones resolved."""
    tree = ast.parse(path.read_text() if source is None else source, str(path))
    here = module_name(path).split(".")
    if path.name != "__init__.py":
        here = here[:-1]  # the package the module is in
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.append((node.lineno, target))
    return found


MODULES = sorted(SRC.rglob("*.py"))


def test_every_package_is_ruled() -> None:
    assert {package_of(p) for p in MODULES} <= set(ALLOWED)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SRC)))
def test_imports_point_down(path: Path) -> None:
    bad = forbidden(path)
    may = sorted(reachable(package_of(path)))
    assert not bad, f"{package_of(path)} may import {may} only:\n" + "\n".join(bad)


@pytest.mark.parametrize("path", [p for p in MODULES if package_of(p) in PURE],
                         ids=lambda p: str(p.relative_to(SRC)))
def test_pure_packages_do_no_io(path: Path) -> None:
    used = {t.split(".")[0] for _, t in imports(path)} & IO_MODULES
    assert not used, f"{path.relative_to(SRC)} is in a pure package and imports {sorted(used)}"
    calls = [f"line {n.lineno}: {_called(n)}()" for n in ast.walk(ast.parse(path.read_text()))
             if isinstance(n, ast.Call) and _called(n) in IO_CALLS]
    assert not calls, f"{path.relative_to(SRC)} is in a pure package and does I/O: {calls}"


def _called(node: ast.Call) -> str:
    f = node.func
    return f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""


def forbidden(path: Path, source: str | None = None) -> list[str]:
    may = reachable(package_of(path))
    return [f"{path.relative_to(SRC)}:{line} imports {target}"
            for line, target in imports(path, source)
            if target.split(".")[0] == "migcompat" and len(target.split(".")) > 1
            and "*" not in may and target.split(".")[1] not in may]


def test_the_rule_catches_upward_imports() -> None:
    # The checker itself, on made-up modules: upward and sideways imports are refused,
    # relative ones resolved, local (function-level) ones seen.
    analysis = SRC / "analysis" / "made_up.py"
    assert forbidden(analysis, "from migcompat.catalog.load import find_release\n")
    assert forbidden(analysis, "def f():\n    from ..migration import session\n")
    assert not forbidden(analysis, "from migcompat.vm.live import build\n"
                                   "from migcompat.vmstate import schema\n")
    assert forbidden(SRC / "stream" / "made_up.py", "from migcompat.vm import live\n")
    assert forbidden(SRC / "migration" / "made_up.py", "import migcompat.catalog.load\n")
    assert not forbidden(SRC / "qemu" / "binary" / "made_up.py",
                         "from migcompat.catalog.load import open_catalog\n")
    assert not forbidden(SRC / "cli" / "made_up.py", "from migcompat.qemu import binary\n")


def test_local_imports_say_why() -> None:
    # Imports inside functions are for start-up time only, and each says so (a comment on
    # its line or the one above the block).
    silent = []
    for path in MODULES:
        lines = path.read_text().splitlines()
        for fn in ast.walk(ast.parse("\n".join(lines))):
            if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            block = [n for n in fn.body if isinstance(n, ast.Import | ast.ImportFrom)]
            nested = [n for n in ast.walk(fn) if isinstance(n, ast.Import | ast.ImportFrom)]
            for node in nested:
                first = block[0] if node in block else node
                above = lines[first.lineno - 2].strip()
                said = "#" in lines[node.lineno - 1] or above.startswith("#")
                if not said:
                    silent.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert silent == []
