"""QOM types: ``TypeInfo`` declarations, virtio-pci proxy registrations, class_init links.

For each type we keep its parent, interfaces and abstract flag, the property arrays its
class_init installs (``device_class_set_props(dc, xxx)``, or ``dc->props = xxx`` in older
trees), and for virtio proxies the backend child created in instance_init
(``virtio_instance_init_common(obj, &dev->vdev, sizeof(dev->vdev), TYPE_X)`` creates
child ``virtio-backend`` of type ``TYPE_X``, see reference §2.3).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import tree_sitter

from migcompat.qemu.source import cexpr, cpp
from migcompat.qemu.source.cinit import FileContext, declarations_of_type, designated, walk_top
from migcompat.qemu.source.tree import find_nodes, line_of, node_text, parse_c

VIRTIO_BACKEND_CHILD = "virtio-backend"
_FIELD_TEST = re.compile(r"^\(\s*(!?)\s*\w+\s*->\s*(\w+)\s*\)$")

Condition = tuple[str, bool] | None
"""(class_data field, the truth value it must have), or None when unconditional."""


def _condition(node: tree_sitter.Node, stop: tree_sitter.Node) -> Condition:
    """The ``if (info->x)`` / ``if (!info->x)`` around ``node``, when that is its form."""
    child, parent = node, node.parent
    while parent is not None and parent != stop:
        if parent.type == "if_statement":
            cond = parent.child_by_field_name("condition")
            match = _FIELD_TEST.match(node_text(cond)) if cond is not None else None
            if match:
                in_else = child == parent.child_by_field_name("alternative")
                return match.group(2), (match.group(1) != "!") != in_else
            return None
        child, parent = parent, parent.parent
    return None


@dataclass
class RawType:
    name: str
    file: str
    line: int
    parent: str | None = None
    interfaces: list[str] = field(default_factory=list)
    abstract: bool = False
    prop_arrays: list[tuple[str, str]] = field(default_factory=list)  # (file, array)
    child_type: str | None = None


def _fn_name(tokens: list[cpp.Token]) -> str | None:
    ids = [t.text for t in tokens if t.kind == "id"]
    return ids[-1] if ids and ids[-1] not in ("NULL",) else None


def _interfaces(ctx: FileContext, tokens: list[cpp.Token]) -> list[str]:
    """``(InterfaceInfo[]) { { TYPE_A }, { TYPE_B }, { } }`` -> ["a", "b"]."""
    texts = [t.text for t in tokens]
    if "{" not in texts:
        return []
    start = texts.index("{")
    names: list[str] = []
    for item in cpp.split_top(tokens[start + 1 : -1]):
        inner = item[1:-1] if item and item[0].text == "{" else item
        fields, positional = designated(inner)
        value = fields.get("type") or (positional[0] if positional else None)
        if value:
            try:
                names.append(ctx.string(value))
            except cexpr.Unresolved:
                continue
    return names


def type_macros(headers: Mapping[str, cpp.Macro]) -> frozenset[str]:
    """Function-like header macros whose expansion declares a ``TypeInfo``, directly
    (``OBJECT_DEFINE_TYPE_EXTENDED``, ``DEFINE_MACHINE_EXTENDED``) or through another
    (``DEFINE_MACHINE``, ``OBJECT_DEFINE_SIMPLE_TYPE``)."""
    bodies = {
        name: {t.text for t in m.body if t.kind == "id"}
        for name, m in headers.items()
        if m.params is not None
    }
    found = {name for name, ids in bodies.items() if "TypeInfo" in ids}
    while True:
        more = {name for name, ids in bodies.items() if name not in found and ids & found}
        if not more:
            return frozenset(found)
        found |= more


class TypeReader:
    """Reads one file's types; ``class_props`` links class_init functions to arrays.

    ``macros``: the header macros that define types (:func:`type_macros`; computed from
    the tree's headers when not given)."""

    def __init__(self, ctx: FileContext, macros: frozenset[str] | None = None) -> None:
        self.ctx = ctx
        self.type_macros = type_macros(ctx.tree.headers) if macros is None else macros
        self._class_cache: dict[str, list[tuple[str, Condition]]] = {}
        self._child_cache: dict[str, str | None] = {}

    def props_of_class_init(self, fn: str | None, depth: int = 0) -> list[str]:
        """Property arrays installed by class_init ``fn`` (following same-file calls)."""
        return [array for array, _cond in self.conditional_props(fn, depth)]

    def conditional_props(self, fn: str | None, depth: int = 0) -> list[tuple[str, Condition]]:
        """Like :meth:`props_of_class_init`, with the class_data condition of each array:
        ``if (!info->unplug) set_props(a) else set_props(b)`` gives
        ``[(a, ("unplug", False)), (b, ("unplug", True))]`` (hw/usb/hcd-uhci.c)."""
        if fn is None or depth > 5:
            return []
        if fn in self._class_cache:
            return self._class_cache[fn]
        body = self.ctx.functions.get(fn)
        arrays: list[tuple[str, Condition]] = []
        if body is not None:
            for call in find_nodes(body, "call_expression"):
                callee = node_text(call.child_by_field_name("function") or call)
                args_node = call.child_by_field_name("arguments")
                args = args_node.named_children if args_node else []
                if callee.startswith("device_class_set_props") and len(args) >= 2:
                    arrays.append((node_text(args[1]).strip("&() "), _condition(call, body)))
                elif callee in self.ctx.functions and callee != fn:
                    arrays.extend(self.conditional_props(callee, depth + 1))
            for assign in find_nodes(body, "assignment_expression"):
                left = assign.child_by_field_name("left")
                right = assign.child_by_field_name("right")
                if left is not None and right is not None and left.type == "field_expression":
                    member = left.child_by_field_name("field")
                    if member is not None and node_text(member) in ("props", "props_"):
                        arrays.append((node_text(right).strip("&() "), _condition(assign, body)))
        self._class_cache[fn] = arrays
        return arrays

    def child_of_instance_init(self, fn: str | None) -> str | None:
        if fn is None:
            return None
        if fn in self._child_cache:
            return self._child_cache[fn]
        child = None
        body = self.ctx.functions.get(fn)
        if body is not None:
            for call in find_nodes(body, "call_expression"):
                callee = node_text(call.child_by_field_name("function") or call)
                args_node = call.child_by_field_name("arguments")
                args = args_node.named_children if args_node else []
                if callee == "virtio_instance_init_common" and len(args) >= 4:
                    try:
                        child = self.ctx.string(
                            self.ctx.tokens(node_text(args[3]), line_of(args[3]))
                        )
                    except cexpr.Unresolved:
                        child = None
        self._child_cache[fn] = child
        return child

    def _type(self, fields: dict[str, list[cpp.Token]], line: int) -> RawType | None:
        if "name" not in fields:
            return None
        try:
            name = self.ctx.string(fields["name"])
        except cexpr.Unresolved:
            return None
        t = RawType(name, self.ctx.file.path, line)
        if "parent" in fields:
            try:
                t.parent = self.ctx.string(fields["parent"])
            except cexpr.Unresolved:
                t.parent = None
        if "abstract" in fields:
            try:
                t.abstract = bool(self.ctx.value(fields["abstract"]))
            except cexpr.Unresolved:
                t.abstract = False
        if "interfaces" in fields:
            t.interfaces = _interfaces(self.ctx, fields["interfaces"])
        t.prop_arrays = [
            (self.ctx.file.path, a)
            for a in self.props_of_class_init(_fn_name(fields.get("class_init", [])))
        ]
        t.child_type = self.child_of_instance_init(_fn_name(fields.get("instance_init", [])))
        return t

    def _from_initializer(self, init: tree_sitter.Node, is_array: bool, line: int) -> list[RawType]:
        tokens = self.ctx.tokens(node_text(init), line_of(init))
        items = cpp.split_top(tokens[1:-1]) if is_array else [tokens]
        out: list[RawType] = []
        for item in items:
            if not item:
                continue
            fields, _pos = designated(self.ctx.expand(item))
            t = self._type(fields, item[0].line if is_array else line)
            if t is not None:
                out.append(t)
        return out

    def types(self) -> list[RawType]:
        out: list[RawType] = []
        for _name, node, init, is_array in declarations_of_type(self.ctx, {"TypeInfo"}):
            if init.type == "initializer_list":
                out.extend(self._from_initializer(init, is_array, line_of(node)))
        out.extend(self._function_local_types())
        out.extend(self._macro_types())
        return out

    def _function_local_types(self) -> list[RawType]:
        """``static const TypeInfo x = {...}`` inside a register function (qom/object.c)."""
        out: list[RawType] = []
        for body in self.ctx.functions.values():
            for decl in find_nodes(body, "declaration"):
                type_node = decl.child_by_field_name("type")
                if type_node is None or node_text(type_node) != "TypeInfo":
                    continue
                for d in decl.children_by_field_name("declarator"):
                    value = d.child_by_field_name("value") if d.type == "init_declarator" else None
                    target = d.child_by_field_name("declarator")
                    if value is not None and value.type == "initializer_list":
                        is_array = target is not None and target.type == "array_declarator"
                        out.extend(self._from_initializer(value, is_array, line_of(decl)))
        return out

    def _macro_types(self) -> list[RawType]:
        """TypeInfos declared by top-level invocations of :attr:`type_macros`
        (``OBJECT_DEFINE_TYPE(...)``, ``DEFINE_MACHINE("none", ...)``...)."""
        out: list[RawType] = []
        for node in walk_top(self.ctx.file.root, self.ctx.tree.config):
            text = node_text(node)
            head = text.split("(", 1)[0].strip()
            if head not in self.type_macros or "(" not in text:
                continue
            try:
                expanded = cpp.join(self.ctx.expand(self.ctx.tokens(text, line_of(node))))
            except cexpr.Unresolved:
                continue
            root = parse_c(expanded)
            for decl in find_nodes(root, "declaration"):
                type_node = decl.child_by_field_name("type")
                if type_node is None or node_text(type_node) != "TypeInfo":
                    continue
                for d in decl.children_by_field_name("declarator"):
                    value = d.child_by_field_name("value")
                    if value is None:
                        continue
                    fields, _pos = designated(cpp.tokenize(node_text(value)))
                    t = self._type(fields, line_of(node))
                    if t is not None:
                        out.append(t)
        return out

    def _macro_string(self, macro: str, fallback: str) -> str:
        try:
            return self.ctx.string(cpp.tokenize(macro))
        except cexpr.Unresolved:
            return fallback

    def virtio_pci_types(self, generic_props: list[tuple[str, str]]) -> list[RawType]:
        """Types registered by ``virtio_pci_types_register(&info)`` (hw/virtio/virtio-pci.c).

        ``generic_props``: the arrays of ``virtio_pci_generic_class_init`` (the
        ``disable-legacy``/``disable-modern`` properties of generic types).
        """
        out: list[RawType] = []
        for _name, node, init, _arr in declarations_of_type(self.ctx, {"VirtioPCIDeviceTypeInfo"}):
            if init.type != "initializer_list":
                continue
            line = line_of(node)
            fields, _pos = designated(self.ctx.expand(self.ctx.tokens(node_text(init), line)))

            def name_of(key: str, fields: dict[str, list[cpp.Token]] = fields) -> str | None:
                if key not in fields:
                    return None
                try:
                    return self.ctx.string(fields[key])
                except cexpr.Unresolved:
                    return None

            base, generic = name_of("base_name"), name_of("generic_name")
            parent = name_of("parent") or "virtio-pci"
            own_props = [
                (self.ctx.file.path, a)
                for a in self.props_of_class_init(_fn_name(fields.get("class_init", [])))
            ]
            child = self.child_of_instance_init(_fn_name(fields.get("instance_init", [])))
            ifaces = _interfaces(self.ctx, fields["interfaces"]) if "interfaces" in fields else []
            pcie = self._macro_string("INTERFACE_PCIE_DEVICE", "pci-express-device")
            conventional = self._macro_string(
                "INTERFACE_CONVENTIONAL_PCI_DEVICE", "conventional-pci-device"
            )
            both = [pcie, conventional]
            if base is None and generic is not None:
                # no base: "<generic>-base-type" carries the generic properties
                base = f"{generic}-base-type"
                out.append(
                    RawType(
                        base,
                        self.ctx.file.path,
                        line,
                        parent,
                        ifaces,
                        True,
                        list(generic_props),
                        child,
                    )
                )
                out.append(
                    RawType(
                        generic, self.ctx.file.path, line, base, list(both), False, own_props, child
                    )
                )
                continue
            if base is None:
                continue
            out.append(
                RawType(base, self.ctx.file.path, line, parent, ifaces, True, own_props, child)
            )
            if generic:
                out.append(
                    RawType(
                        generic,
                        self.ctx.file.path,
                        line,
                        base,
                        list(both),
                        False,
                        list(generic_props),
                        child,
                    )
                )
            nt, tr = name_of("non_transitional_name"), name_of("transitional_name")
            if nt:
                out.append(
                    RawType(nt, self.ctx.file.path, line, base, list(both), False, [], child)
                )
            if tr:
                out.append(
                    RawType(tr, self.ctx.file.path, line, base, [conventional], False, [], child)
                )
        return out
