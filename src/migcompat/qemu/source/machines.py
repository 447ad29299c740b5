"""Versioned x86 machine types (pc-q35, pc-i440fx) in their three macro generations.

Reference §3.2-§3.5. Each ``DEFINE_Q35_MACHINE``/``DEFINE_I440FX_MACHINE`` invocation
names an options function. We run that function symbolically: calls to other functions
of the same file are followed, ``compat_props_add(m->compat_props, T, ...)`` appends
table ``T``, and assignments to ``alias``, ``is_default`` and ``deprecation_reason`` are
recorded. The tables appended by the options function itself are the machine's own;
tables appended by a non-versioned base function are the family defaults.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import tree_sitter

from migcompat.qemu.source import cexpr, cpp
from migcompat.qemu.source.cinit import FileContext
from migcompat.qemu.source.compat import read_entries
from migcompat.qemu.source.tree import active_children, find_nodes, line_of, node_text

# board file -> (macro infix, family id, the family's base options function)
FAMILIES = {
    "hw/i386/pc_q35.c": ("Q35", "pc-q35", "pc_q35_machine_options"),
    "hw/i386/pc_piix.c": ("I440FX", "pc-i440fx", "pc_i440fx_machine_options"),
}
_VERSION_RE = re.compile(r"(\d+)\.(\d+)(?:\.(\d+))?$")


@dataclass
class _State:
    alias: str | None = None
    is_default: bool = False
    deprecation_reason: str | None = None
    own: list[str] = field(default_factory=list)
    base: list[tuple[str, str]] = field(default_factory=list)  # (function, table)


@dataclass
class Invocation:
    macro: str
    args: list[list[cpp.Token]]
    line: int


def _invocations(ctx: FileContext, prefix: str) -> list[Invocation]:
    """``DEFINE_<prefix>_MACHINE[...](...)`` calls outside #define lines, in file order."""
    wanted = re.compile(rf"^DEFINE_{prefix}_MACHINE(_AS_LATEST|_BUGFIX)?$")
    tokens = ctx.tokens(ctx.file.text, 1)
    found: list[Invocation] = []
    i = 0
    while i < len(tokens):
        t = tokens[i]
        if (
            t.kind == "id"
            and wanted.match(t.text)
            and i + 1 < len(tokens)
            and tokens[i + 1].text == "("
        ):
            depth = 0
            for j in range(i + 1, len(tokens)):
                if tokens[j].text == "(":
                    depth += 1
                elif tokens[j].text == ")":
                    depth -= 1
                    if depth == 0:
                        break
            found.append(Invocation(t.text, cpp.split_top(tokens[i + 2 : j]), t.line))
            i = j
        i += 1
    return found


class _Runner:
    """Symbolic execution of options functions, enough for the fields we need."""

    def __init__(self, ctx: FileContext, tables: dict[str, dict[str, Any]]) -> None:
        self.ctx = ctx
        self.tables = tables  # receives function-local tables
        self.machine_functions: set[str] = set()

    def run(self, fn: str, state: _State, depth: int = 0) -> None:
        body = self.ctx.functions.get(fn)
        if body is None:
            raise cexpr.Unresolved(f"options function {fn} not found in {self.ctx.file.path}")
        if depth > 100:
            raise cexpr.Unresolved(f"options functions recurse through {fn}")
        local_tables = self._local_tables(fn, body)
        for stmt in self._statements(body):
            for call in find_nodes(stmt, "call_expression"):
                self._call(fn, call, state, depth, local_tables)
            for assign in find_nodes(stmt, "assignment_expression"):
                self._assign(assign, state)

    def _statements(self, node: tree_sitter.Node) -> list[tree_sitter.Node]:
        out: list[tree_sitter.Node] = []
        for child in active_children(node, self.ctx.tree.config):
            if child.type == "compound_statement":
                out.extend(self._statements(child))
            elif child.type == "expression_statement":
                out.append(child)
        return out

    def _local_tables(self, fn: str, body: tree_sitter.Node) -> dict[str, str]:
        names: dict[str, str] = {}
        for decl in find_nodes(body, "declaration"):
            type_node = decl.child_by_field_name("type")
            if type_node is None or node_text(type_node) != "GlobalProperty":
                continue
            for init in decl.children_by_field_name("declarator"):
                value = init.child_by_field_name("value")
                target = init.child_by_field_name("declarator")
                while target is not None and target.type != "identifier":
                    target = target.child_by_field_name("declarator")
                if value is None or target is None:
                    continue
                qualified = f"{fn}.{node_text(target)}"
                names[node_text(target)] = qualified
                if qualified not in self.tables:
                    self.tables[qualified] = {
                        "file": self.ctx.file.path,
                        "line": line_of(decl),
                        "entries": read_entries(self.ctx, value, self.ctx.file.path),
                    }
        return names

    def _call(
        self,
        fn: str,
        call: tree_sitter.Node,
        state: _State,
        depth: int,
        local_tables: dict[str, str],
    ) -> None:
        callee = node_text(call.child_by_field_name("function") or call)
        args_node = call.child_by_field_name("arguments")
        args = [a for a in (args_node.named_children if args_node else []) if a.type != "comment"]
        if callee == "compat_props_add" and len(args) >= 2:
            table = node_text(args[1])
            table = local_tables.get(table, table)
            if depth == 0:
                state.own.append(table)
            elif fn not in self.machine_functions:
                state.base.append((fn, table))
        elif callee in self.ctx.functions and callee != fn:
            self.run(callee, state, depth + 1)

    def _assign(self, node: tree_sitter.Node, state: _State) -> None:
        left = node.child_by_field_name("left")
        right = node.child_by_field_name("right")
        if left is None or right is None or left.type != "field_expression":
            return
        member = left.child_by_field_name("field")
        name = node_text(member) if member is not None else ""
        if name not in ("alias", "is_default", "deprecation_reason"):
            return
        tokens = self.ctx.expand(self.ctx.tokens(node_text(right), line_of(right)))
        value = cexpr.evaluate(tokens, self.ctx.names) if tokens else None
        if name == "is_default":
            state.is_default = bool(value)
        else:
            text = value if isinstance(value, str) else None
            if name == "alias":
                state.alias = text
            else:
                state.deprecation_reason = text


def _expired(version: tuple[int, int, int], cutoff: int, major: int, minor: int) -> bool:
    """QEMU's machine-version age test (reference §3.5), dev snapshots included."""
    qmajor, qminor, qmicro = version
    if qmicro < 50:
        return qmajor - major > cutoff or (qmajor - major == cutoff and qminor - minor >= 0)
    if qminor < 2:
        return qmajor - major > cutoff or (qmajor - major == cutoff and qminor + 1 - minor >= 0)
    if qminor == 2:
        return qmajor + 1 - major > cutoff or (qmajor + 1 - major == cutoff and -minor >= 0)
    return False


def read_machines(
    ctx: FileContext, tables: dict[str, dict[str, Any]]
) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """(machines, family) of one board file; ``tables`` receives function-local tables."""
    prefix, family, base_fn = FAMILIES[ctx.file.path]
    runner = _Runner(ctx, tables)
    plans: list[tuple[Invocation, dict[str, Any]]] = []
    for inv in _invocations(ctx, prefix):
        plan = _plan(ctx, inv)
        runner.machine_functions.add(plan["options"])
        plans.append((inv, plan))
    machines: dict[str, dict[str, Any]] = {}
    base: list[tuple[str, str]] = []
    for inv, plan in plans:
        if plan.get("deleted"):
            continue
        state = _State()
        runner.run(plan["options"], state)
        if plan.get("deprecated"):
            state.deprecation_reason = plan["deprecated"]
        if "is_default" in plan:
            state.is_default = plan["is_default"]
            state.alias = plan["alias"]
        base = base or state.base
        machines[plan["name"]] = {
            "family": family,
            "version": plan["version"],
            "compat": state.own,
            "alias": state.alias,
            "default": state.is_default,
            "deprecated": state.deprecation_reason,
            "file": ctx.file.path,
            "line": inv.line,
        }
    defaults = list(dict.fromkeys(table for _fn, table in base))
    body = ctx.functions.get(base[0][0] if base else base_fn)
    line = line_of(body.parent) if body is not None and body.parent is not None else 1
    return machines, {"defaults": defaults, "file": ctx.file.path, "line": line}


def _gates(ctx: FileContext, macro_name: str) -> bool:
    """Extra conditions inside ``MACHINE_VER_DELETION``/``..._DEPRECATION`` besides the age
    test. QEMU 10.0 gates deletion on ``getenv("QEMU_DELETE_MACHINES")`` or a version
    >= 10.1; we model the default environment, where the variable is unset."""
    macro = ctx.macros.get(macro_name)
    if macro is None:
        return True
    body = list(macro.body)
    for i, tok in enumerate(body):
        if tok.text != "if" or i + 1 >= len(body) or body[i + 1].text != "(":
            continue
        args, _end = cpp._collect_args(body, i + 1)
        condition = [t for arg in args for t in arg]
        if any(t.text.startswith("MACHINE_VER_") for t in condition):
            continue  # the age test itself, computed by _expired
        tokens: list[cpp.Token] = []
        j = 0
        while j < len(condition):
            if condition[j].text == "getenv" and j + 1 < len(condition):
                _args, end = cpp._collect_args(condition, j + 1)
                tokens.append(cpp.Token("num", "0"))
                j = end + 1
                continue
            tokens.append(condition[j])
            j += 1
        if not ctx.value(tokens):
            return False
    return True


def _plan(ctx: FileContext, inv: Invocation) -> dict[str, Any]:
    """Name, version, options function and the macro-level settings of one invocation."""
    second = inv.args[1] if len(inv.args) > 1 else []
    if second and second[0].kind == "str":
        # <= 9.0: DEFINE_Q35_MACHINE(v7_2, "pc-q35-7.2", compatfn, optionsfn)
        name = ctx.string(second)
        match = _VERSION_RE.search(name)
        if match is None:
            raise cexpr.Unresolved(f"machine name {name!r} has no version")
        return {"name": name, "version": match.group(0), "options": cpp.join(inv.args[-1])}
    # >= 9.1: DEFINE_Q35_MACHINE(major, minor[, micro]) via DEFINE_PC_VER_MACHINE
    version = [int(ctx.value(a)) for a in inv.args]
    local = ctx.macros.get(inv.macro)
    if local is None:
        raise cexpr.Unresolved(f"{inv.macro} is not defined")
    body = ctx.expander._subst(
        local, dict(zip(local.params or (), inv.args, strict=False)), frozenset(), inv.line
    )
    inner = ctx.macros.get(body[0].text) if body else None
    if inner is None or inner.params is None:
        raise cexpr.Unresolved(f"{inv.macro} does not expand to a known machine macro")
    args, _end = cpp._collect_args(body, 1)
    bound = dict(zip(inner.params, args, strict=False))
    namesym = cpp.join(bound["namesym"])
    namestr = ctx.string(bound["namestr"])
    ver = ".".join(str(v) for v in version)
    plan: dict[str, Any] = {
        "name": f"{namestr}-{ver}",
        "version": ver,
        "options": f"{namesym}_machine_{'_'.join(str(v) for v in version)}_options",
    }
    if "isdefault" in bound and "malias" in bound:
        plan["is_default"] = bool(ctx.value(bound["isdefault"]))
        alias = ctx.value(bound["malias"])
        plan["alias"] = alias if isinstance(alias, str) else None
    inner_text = {t.text for t in inner.body}
    major, minor = version[0], version[1]
    if "MACHINE_VER_DELETION" in inner_text:
        cutoff = int(ctx.value(cpp.tokenize("MACHINE_VER_DELETION_MAJOR")))
        plan["deleted"] = _expired(ctx.tree.version_tuple, cutoff, major, minor) and _gates(
            ctx, "MACHINE_VER_DELETION"
        )
    if "MACHINE_VER_DEPRECATION" in inner_text:
        cutoff = int(ctx.value(cpp.tokenize("MACHINE_VER_DEPRECATION_MAJOR")))
        if _expired(ctx.tree.version_tuple, cutoff, major, minor) and _gates(
            ctx, "MACHINE_VER_DEPRECATION"
        ):
            plan["deprecated"] = ctx.string(cpp.tokenize("MACHINE_VER_DEPRECATION_MSG"))
    return plan
