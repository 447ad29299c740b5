"""Evaluating C initializers of one file: designated fields, strings, constants.

Shared by the compat-table, type and property readers. Text is first passed through
``#if`` selection, then tokenized, macro-expanded with the file's macro table and
evaluated; anything that is not a compile-time constant raises ``cexpr.Unresolved``
with a reason.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import tree_sitter

from migcompat.errors import MacroExpansionError
from migcompat.qemu.source import cexpr, cond, cpp
from migcompat.qemu.source.tree import (
    MacroTable,
    SourceFile,
    SourceTree,
    active_children,
    line_of,
    node_text,
)


class FileContext:
    """One source file with its macros and enum constants, ready to evaluate C."""

    def __init__(self, tree: SourceTree, f: SourceFile, extra_names: dict[str, int]) -> None:
        self.tree = tree
        self.file = f
        self.macros: MacroTable = tree.macros_for(f)
        self.expander = self.macros.expander()
        self.local_enums: dict[str, int] = {}
        tree.collect_enums(f, into=self.local_enums)
        self.extra_names = extra_names
        self._functions: dict[str, tree_sitter.Node] | None = None

    def names(self, name: str) -> cexpr.Value | None:
        if name in self.local_enums:
            return self.local_enums[name]
        value = self.tree.enum_values.get(name)
        if value is not None:
            return value
        return self.extra_names.get(name)

    def tokens(self, text: str, line: int) -> list[cpp.Token]:
        """Tokens of a source fragment starting at ``line``, after #if selection.

        Comments go first, as in C: a ``/* ... */`` over several lines would otherwise
        reach the tokenizer line by line as stray ``/`` and ``*`` punctuators."""
        tokens: list[cpp.Token] = []
        text = cpp.blank_comments(text)
        for lineno, source_line in cond.select_lines(text, self.tree.config, line):
            tokens.extend(cpp.tokenize(source_line, lineno))
        return tokens

    def expand(self, tokens: list[cpp.Token]) -> list[cpp.Token]:
        try:
            return self.expander.expand(tokens)
        except MacroExpansionError as exc:
            raise cexpr.Unresolved(f"macro expansion failed: {exc}") from exc

    def value(self, tokens: list[cpp.Token]) -> cexpr.Value:
        return cexpr.evaluate(self.expand(tokens), self.names)

    def node_value(self, node: tree_sitter.Node) -> cexpr.Value:
        return self.value(self.tokens(node_text(node), line_of(node)))

    def string(self, tokens: list[cpp.Token]) -> str:
        value = self.value(tokens)
        if not isinstance(value, str):
            raise cexpr.Unresolved(f"'{cpp.join(tokens)}' is not a string")
        return value

    @property
    def functions(self) -> dict[str, tree_sitter.Node]:
        """Function bodies of this file by name (the taken #if branches)."""
        if self._functions is None:
            self._functions = {}
            for node in _walk_top(self.file.root, self.tree.config):
                if node.type != "function_definition":
                    continue
                declarator = node.child_by_field_name("declarator")
                while declarator is not None and declarator.type != "function_declarator":
                    declarator = declarator.child_by_field_name("declarator")
                name = declarator.child_by_field_name("declarator") if declarator else None
                body = node.child_by_field_name("body")
                if name is not None and body is not None:
                    self._functions[node_text(name)] = body
        return self._functions


def _walk_top(node: tree_sitter.Node, config: cond.BuildConfig) -> Iterator[tree_sitter.Node]:
    for child in active_children(node, config):
        if child.type in ("linkage_specification", "declaration_list"):
            yield from _walk_top(child, config)
        else:
            yield child


walk_top = _walk_top


def strip_braces(tokens: list[cpp.Token]) -> list[cpp.Token]:
    if len(tokens) >= 2 and tokens[0].text == "{" and tokens[-1].text == "}":
        return tokens[1:-1]
    return tokens


def designated(tokens: list[cpp.Token]) -> tuple[dict[str, list[cpp.Token]], list[list[cpp.Token]]]:
    """Fields of a ``{ .a = x, .b.c = y, z }`` initializer: (designated, positional)."""
    fields: dict[str, list[cpp.Token]] = {}
    positional: list[list[cpp.Token]] = []
    for part in cpp.split_top(strip_braces(tokens)):
        if not part:
            continue
        if part[0].text == "." and "=" in [t.text for t in part]:
            eq = [t.text for t in part].index("=")
            key = "".join(t.text for t in part[1:eq])
            fields[key] = part[eq + 1 :]
        else:
            positional.append(part)
    return fields, positional


def declarations_of_type(
    ctx: FileContext, type_names: set[str]
) -> Iterator[tuple[str, tree_sitter.Node, tree_sitter.Node, bool]]:
    """(name, declaration node, initializer node, is_array) for top-level declarations
    whose type is one of ``type_names``, e.g. ``static const TypeInfo foo = {...}``."""
    for node in _walk_top(ctx.file.root, ctx.tree.config):
        if node.type != "declaration":
            continue
        type_node = node.child_by_field_name("type")
        if type_node is None or node_text(type_node) not in type_names:
            continue
        for decl in node.children_by_field_name("declarator"):
            if decl.type != "init_declarator":
                continue
            value = decl.child_by_field_name("value")
            target = decl.child_by_field_name("declarator")
            if value is None or target is None:
                continue
            is_array = target.type == "array_declarator"
            while target is not None and target.type != "identifier":
                target = target.child_by_field_name("declarator")
            if target is not None:
                yield node_text(target), node, value, is_array


Reason = Callable[[str], None]
