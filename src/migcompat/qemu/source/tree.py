"""A QEMU source tree parsed with tree-sitter: files, macros, enum constants.

Macros are read from ``#define`` nodes of the headers (and of each ``.c`` file for its
local ones), choosing ``#if`` branches for the x86_64 Linux build (``cond.BuildConfig``).
When a name is defined in several headers, the first in a fixed order wins (``include/``
first, then the device directories, then ``target/i386``), and the choice is recorded.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import tree_sitter
import tree_sitter_c

from migcompat.errors import MacroExpansionError
from migcompat.qemu.source import cexpr, cond, cpp
from migcompat.qemu.source.build_inputs import BUILTIN_MACROS, SKIP_DIRS, SOURCE_DIRS

_LANGUAGE = tree_sitter.Language(tree_sitter_c.language())
_DEFINE_RE = re.compile(r"([A-Za-z_]\w*)(?:\(([^)]*)\))?\s*(.*)", re.DOTALL)

def node_text(node: tree_sitter.Node) -> str:
    return (node.text or b"").decode("utf-8", "replace")


def line_of(node: tree_sitter.Node) -> int:
    return node.start_point[0] + 1


@dataclass
class SourceFile:
    """One file; ``root`` is its tree-sitter parse after #if selection (``cond.preselect``),
    with multi-line comments inside directives spliced (``cpp.splice_directive_comments``)."""

    path: str  # relative to the tree root
    data: bytes
    config: cond.BuildConfig | None = None
    _tree: tree_sitter.Tree | None = None

    @property
    def root(self) -> tree_sitter.Node:
        if self._tree is None:
            data = self.data
            if b"#" in data:
                text = cpp.splice_directive_comments(self.text)
                if self.config is not None:
                    text = cond.preselect(text, self.config)
                data = text.encode("utf-8")
            self._tree = tree_sitter.Parser(_LANGUAGE).parse(data)
        return self._tree.root_node

    @property
    def text(self) -> str:
        return self.data.decode("utf-8", "replace")


def parse_c(text: str) -> tree_sitter.Node:
    """tree-sitter parse of a C fragment (e.g. a macro-expanded initializer)."""
    return tree_sitter.Parser(_LANGUAGE).parse(text.encode()).root_node


def active_children(node: tree_sitter.Node, config: cond.BuildConfig) -> Iterator[tree_sitter.Node]:
    """Children of ``node``, descending into the taken branch of each #if/#ifdef."""
    for child in node.children:
        if child.type in ("preproc_ifdef", "preproc_if"):
            yield from _taken_branch(child, config)
        else:
            yield child


def _taken_branch(node: tree_sitter.Node, config: cond.BuildConfig) -> Iterator[tree_sitter.Node]:
    if node.type == "preproc_ifdef" or node.type == "preproc_elifdef":
        name = node.child_by_field_name("name")
        keyword = node.children[0].type if node.children else "#ifdef"
        taken = config.is_defined(node_text(name)) if name is not None else False
        if keyword in ("#ifndef", "#elifndef"):
            taken = not taken
    elif node.type in ("preproc_if", "preproc_elif"):
        condition = node.child_by_field_name("condition")
        taken = (
            cond.eval_condition(cpp.tokenize(node_text(condition)), config)
            if condition is not None
            else False
        )
    else:  # preproc_else
        taken = True
    alternative = node.child_by_field_name("alternative")
    if taken:
        for i, child in enumerate(node.children):
            if node.field_name_for_child(i) in ("name", "condition", "alternative"):
                continue
            if child.type.startswith("#") or child.type == "\n":
                continue
            if child.type in ("preproc_ifdef", "preproc_if"):
                yield from _taken_branch(child, config)
            else:
                yield child
    elif alternative is not None:
        yield from _taken_branch(alternative, config)


def _macro_from_node(node: tree_sitter.Node, path: str) -> cpp.Macro | None:
    name = node.child_by_field_name("name")
    if name is None:
        return None
    value = node.child_by_field_name("value")
    body = node_text(value) if value is not None else ""
    params: list[str] | None = None
    if node.type == "preproc_function_def":
        pnode = node.child_by_field_name("parameters")
        params = (
            []
            if pnode is None
            else [node_text(c) for c in pnode.children if c.type not in ("(", ")", ",")]
        )
        # "args..." is parsed as identifier followed by "..."
        merged: list[str] = []
        for p in params:
            if p == "..." and merged and pnode is not None and not _has_comma_before_dots(pnode):
                merged[-1] += "..."
            else:
                merged.append(p)
        params = merged
    return cpp.make_macro(node_text(name), params, body, path, line_of(node))


def _has_comma_before_dots(pnode: tree_sitter.Node) -> bool:
    kids = [c for c in pnode.children]
    for i, c in enumerate(kids):
        if c.type == "..." and i > 0:
            return kids[i - 1].type == ","
    return True


# Nodes that may hold #define lines: QEMU defines *_BITNR macros inside enum bodies.
_DEFINE_CONTAINERS = {
    "linkage_specification",
    "declaration_list",
    "enum_specifier",
    "enumerator_list",
    "type_definition",
    "declaration",
    "struct_specifier",
    "union_specifier",
    "field_declaration_list",
    "ERROR",
}


def collect_defines(
    node: tree_sitter.Node, path: str, config: cond.BuildConfig
) -> Iterator[cpp.Macro]:
    for child in active_children(node, config):
        if child.type in ("preproc_def", "preproc_function_def"):
            macro = _macro_from_node(child, path)
            if macro is not None:
                yield macro
        elif child.type == "preproc_call":
            # inside an enum body tree-sitter sees "#define X 3" as a generic directive
            directive = child.child_by_field_name("directive")
            argument = child.child_by_field_name("argument")
            if directive is not None and argument is not None and node_text(directive) == "#define":
                match = _DEFINE_RE.match(node_text(argument))
                if match:
                    params = match.group(2)
                    yield cpp.make_macro(
                        match.group(1),
                        None if params is None else params.split(","),
                        match.group(3),
                        path,
                        line_of(child),
                    )
        elif child.type in _DEFINE_CONTAINERS:
            yield from collect_defines(child, path, config)


@dataclass
class MacroTable:
    """Macros visible to one file: its own, then the headers', then the builtins."""

    headers: dict[str, cpp.Macro]
    local: dict[str, cpp.Macro] = field(default_factory=dict)

    def get(self, name: str) -> cpp.Macro | None:
        return self.local.get(name) or self.headers.get(name)

    def expander(self) -> cpp.Expander:
        return cpp.Expander(self.get)


class SourceTree:
    """Lazy access to one QEMU tree's files, macros and enum constants."""

    def __init__(
        self,
        root: Path,
        config: cond.BuildConfig | None = None,
        progress: Callable[[str, int, int], None] | None = None,
    ) -> None:
        self.root = root
        self.config = config or cond.BuildConfig(
            dict(cond.X86_64_LINUX.defined), set(cond.X86_64_LINUX.undefined)
        )
        self.progress = progress
        self._files: dict[str, SourceFile] = {}
        self.version = (root / "VERSION").read_text().strip()
        major, minor, micro = (int(x) for x in re.findall(r"\d+", self.version)[:3])
        self.version_tuple = (major, minor, micro)
        for name, value in (
            ("QEMU_VERSION_MAJOR", major),
            ("QEMU_VERSION_MINOR", minor),
            ("QEMU_VERSION_MICRO", micro),
        ):
            self.config.defined[name] = str(value)
        self.c_files, self.h_files = self._list()
        self.headers: dict[str, cpp.Macro] = {}
        self.enum_values: dict[str, int] = {}
        self.typedef_names: set[str] = set()

    def _list(self) -> tuple[list[str], list[str]]:
        c_files: list[str] = []
        h_files: list[str] = []
        for entry in SOURCE_DIRS:
            base = self.root / entry
            if base.is_file():
                c_files.append(entry)
                continue
            if not base.is_dir():
                continue
            for path in sorted(base.rglob("*.[ch]")):
                rel = path.relative_to(self.root)
                if SKIP_DIRS.intersection(rel.parts):
                    continue
                (c_files if path.suffix == ".c" else h_files).append(rel.as_posix())
        return c_files, h_files

    def file(self, rel: str) -> SourceFile:
        f = self._files.get(rel)
        if f is None:
            f = SourceFile(rel, (self.root / rel).read_bytes(), self.config)
            self._files[rel] = f
        return f

    def drop(self, rel: str) -> None:
        """Forget a parsed file (keeps memory flat while walking the tree)."""
        self._files.pop(rel, None)

    def load_headers(self) -> None:
        """Read every header's macros and enum constants."""
        for name, (params, body) in BUILTIN_MACROS.items():
            self.headers[name] = cpp.make_macro(name, params, body, "<builtin>")
        for name in ("QEMU_VERSION_MAJOR", "QEMU_VERSION_MINOR", "QEMU_VERSION_MICRO"):
            # config-host.h is generated from VERSION at build time
            self.headers[name] = cpp.make_macro(name, None, self.config.defined[name], "VERSION")
        total = len(self.h_files)
        for i, rel in enumerate(self.h_files):
            f = self.file(rel)
            for macro in collect_defines(f.root, rel, self.config):
                self.headers.setdefault(macro.name, macro)
            self.collect_enums(f)
            self.drop(rel)
            if self.progress and i % 50 == 0:
                self.progress("headers", i, total)
        if self.progress:
            self.progress("headers", total, total)

    def macros_for(self, f: SourceFile) -> MacroTable:
        local = {m.name: m for m in collect_defines(f.root, f.path, self.config)}
        return MacroTable(self.headers, local)

    def collect_enums(self, f: SourceFile, into: dict[str, int] | None = None) -> None:
        """Enumerator values of ``f`` (``enum { A, B = 4 }``), evaluated when constant."""
        target = self.enum_values if into is None else into
        table = MacroTable(self.headers)
        if b"enum" not in f.data:
            return
        captures = _query("enum_bodies").captures(f.root)
        for body in captures.get("body", []):
            nxt = 0
            for item in body.children:
                if item.type != "enumerator":
                    continue
                name_node = item.child_by_field_name("name")
                value_node = item.child_by_field_name("value")
                if name_node is None:
                    continue
                if value_node is not None:
                    try:
                        expr = table.expander().expand(cpp.tokenize(node_text(value_node)))
                        value = cexpr.evaluate(
                            expr, lambda n: target.get(n, self.enum_values.get(n))
                        )
                        nxt = int(value) if not isinstance(value, str) else nxt
                    except (cexpr.Unresolved, MacroExpansionError):
                        nxt = -(1 << 70)  # unknown: later ones too
                if nxt > -(1 << 69):
                    target.setdefault(node_text(name_node), nxt)
                nxt += 1
        for node in _query("typedef_names").captures(f.root).get("name", []):
            self.typedef_names.add(node_text(node))

    def value_of(self, name: str, local: dict[str, int] | None = None) -> cexpr.Value | None:
        if local and name in local:
            return local[name]
        return self.enum_values.get(name)


_QUERIES = {
    "enum_bodies": "(enum_specifier body: (enumerator_list) @body)",
    "typedef_names": "(type_definition declarator: (type_identifier) @name)",
}
_COMPILED: dict[str, tree_sitter.QueryCursor] = {}


def _query(name: str) -> tree_sitter.QueryCursor:
    cursor = _COMPILED.get(name)
    if cursor is None:
        cursor = tree_sitter.QueryCursor(tree_sitter.Query(_LANGUAGE, _QUERIES[name]))
        _COMPILED[name] = cursor
    return cursor


def _find(node: tree_sitter.Node, kind: str) -> list[tree_sitter.Node]:
    """All nodes of type ``kind`` in ``node``'s subtree, in document order."""
    cursor = _COMPILED.get("find:" + kind)
    if cursor is None:
        cursor = tree_sitter.QueryCursor(tree_sitter.Query(_LANGUAGE, f"({kind}) @n"))
        _COMPILED["find:" + kind] = cursor
    return sorted(cursor.captures(node).get("n", []), key=lambda n: n.start_byte)


find_nodes = _find
