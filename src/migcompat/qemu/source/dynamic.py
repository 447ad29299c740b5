"""Types registered in a loop over a table of device variants.

Some devices register one type per element of a static table (e1000's
``e1000_devices[]``, eepro100, megasas, uhci...): a register function fills a local
``TypeInfo`` (by initializer and ``ti.field = ...`` assignments), takes ``.name`` from the
element (``info->name`` or ``table[i].name``) and calls ``type_register(&ti)`` inside
``for (i = 0; i < ARRAY_SIZE(table); i++)``. The element may also carry the property
array (``device_class_set_props(dc, info->props)``) or the interfaces.
"""

from __future__ import annotations

import re

import tree_sitter

from migcompat.qemu.source import cexpr, cpp
from migcompat.qemu.source.cinit import designated, walk_top
from migcompat.qemu.source.qom import RawType, TypeReader, _fn_name, _interfaces
from migcompat.qemu.source.tree import find_nodes, line_of, node_text

_ARRAY_SIZE = re.compile(r"\bARRAY_SIZE\s*\(\s*([A-Za-z_]\w*)\s*\)")


def _table_elements(reader: TypeReader, table: str) -> list[tuple[int, dict[str, list[cpp.Token]]]]:
    """(line, fields) of each element of the file-level array ``table``."""
    ctx = reader.ctx
    for node in walk_top(ctx.file.root, ctx.tree.config):
        if node.type != "declaration":
            continue
        for decl in node.children_by_field_name("declarator"):
            target = decl.child_by_field_name("declarator")
            value = decl.child_by_field_name("value")
            if target is None or value is None or target.type != "array_declarator":
                continue
            ident = target.child_by_field_name("declarator")
            if ident is None or node_text(ident) != table:
                continue
            tokens = ctx.tokens(node_text(value), line_of(value))
            out = []
            for item in cpp.split_top(tokens[1:-1]):
                if item:
                    out.append((item[0].line, designated(ctx.expand(item))[0]))
            return out
    return []


def _local_typeinfo(body: tree_sitter.Node) -> tuple[str, tree_sitter.Node | None] | None:
    for decl in find_nodes(body, "declaration"):
        type_node = decl.child_by_field_name("type")
        if type_node is None or node_text(type_node) != "TypeInfo":
            continue
        for d in decl.children_by_field_name("declarator"):
            target = d.child_by_field_name("declarator") if d.type == "init_declarator" else d
            if target is not None and target.type == "identifier":
                value = d.child_by_field_name("value") if d.type == "init_declarator" else None
                return node_text(target), value
    return None


def dynamic_types(reader: TypeReader) -> list[RawType]:
    ctx = reader.ctx
    out: list[RawType] = []
    for fn, body in ctx.functions.items():
        text = node_text(body)
        if "type_register" not in text or "ARRAY_SIZE" not in text:
            continue
        local = _local_typeinfo(body)
        table_match = _ARRAY_SIZE.search(text)
        if local is None or table_match is None:
            continue
        var, init = local
        fields: dict[str, list[cpp.Token]] = {}
        if init is not None and init.type == "initializer_list":
            fields.update(designated(ctx.tokens(node_text(init), line_of(init)))[0])
        for assign in find_nodes(body, "assignment_expression"):
            left = assign.child_by_field_name("left")
            right = assign.child_by_field_name("right")
            if left is None or right is None or left.type != "field_expression":
                continue
            arg = left.child_by_field_name("argument")
            member = left.child_by_field_name("field")
            if arg is not None and member is not None and node_text(arg) == var:
                fields[node_text(member)] = ctx.tokens(node_text(right), line_of(right))
        out.extend(_expand_table(reader, fields, table_match.group(1), fn))
    return out


def _from_element(tokens: list[cpp.Token], element: dict[str, list[cpp.Token]]) -> list[cpp.Token]:
    """``info->x`` or ``table[i].x`` -> the element's own ``.x`` initializer."""
    texts = [t.text for t in tokens]
    if ("->" in texts or "." in texts) and tokens and tokens[-1].kind == "id":
        key = tokens[-1].text
        if key in element:
            return element[key]
    return tokens


def _truth(reader: TypeReader, element: dict[str, list[cpp.Token]], key: str) -> bool:
    """An element's field as a C truth value; an absent field is zero-initialised."""
    if key not in element:
        return False
    try:
        return bool(reader.ctx.value(element[key]))
    except cexpr.Unresolved:
        return True


def _expand_table(
    reader: TypeReader, fields: dict[str, list[cpp.Token]], table: str, fn: str
) -> list[RawType]:
    ctx = reader.ctx
    out: list[RawType] = []
    for line, element in _table_elements(reader, table):
        if "name" not in fields:
            continue
        try:
            name = ctx.string(_from_element(fields["name"], element))
        except cexpr.Unresolved:
            continue
        t = RawType(name, ctx.file.path, line)
        if "parent" in fields:
            try:
                t.parent = ctx.string(_from_element(fields["parent"], element))
            except cexpr.Unresolved:
                t.parent = None
        if "interfaces" in fields:
            t.interfaces = _interfaces(ctx, _from_element(fields["interfaces"], element))
        class_init = _fn_name(fields.get("class_init", []))
        for array, condition in reader.conditional_props(class_init):
            if condition is not None and _truth(reader, element, condition[0]) != condition[1]:
                continue
            if "->" in array or "." in array:
                key = re.split(r"->|\.", array)[-1]
                array = _fn_name(element.get(key, [])) or array
            t.prop_arrays.append((ctx.file.path, array))
        t.child_type = reader.child_of_instance_init(_fn_name(fields.get("instance_init", [])))
        out.append(t)
    return out
