"""qdev properties: ``Property xxx[] = { DEFINE_PROP_*(...) }`` arrays and PropertyInfo.

Reference §5. Each array element is macro-expanded down to QEMU's designated form
``{ .name = ..., .info = &(qdev_prop_x), .set_default = true, .defval.u = (T)v, ... }``
(subsystem macros such as ``DEFINE_VIRTIO_COMMON_FEATURES`` expand to several). The
PropertyInfo named by ``.info`` gives the kind: the standard ``qdev_prop_*`` infos map
to our kinds; others map by their QAPI type, an ``enum_table`` makes an enum.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from migcompat.qemu.source import cexpr, cpp
from migcompat.qemu.source.cinit import FileContext, declarations_of_type, designated
from migcompat.qemu.source.tree import find_nodes, line_of, node_text

# PropertyInfo variables whose kind is one of ours (reference §5.2).
STANDARD_KINDS = {
    "qdev_prop_bit": "bit",
    "qdev_prop_bit64": "bit64",
    "qdev_prop_bool": "bool",
    "qdev_prop_uint8": "uint8",
    "qdev_prop_uint16": "uint16",
    "qdev_prop_uint32": "uint32",
    "qdev_prop_uint64": "uint64",
    "qdev_prop_int8": "int8",
    "qdev_prop_int16": "int16",
    "qdev_prop_int32": "int32",
    "qdev_prop_int64": "int64",
    "qdev_prop_size": "size",
    "qdev_prop_size32": "size32",
    "qdev_prop_string": "str",
    "qdev_prop_on_off_auto": "OnOffAuto",
    "qdev_prop_link": "link",
    "qdev_prop_arraylen": "array",
    "qdev_prop_array": "array",
    "qdev_prop_uint64_checkmask": "uint64",
    "qdev_prop_on_off_auto_bit64": "OnOffAuto",
    "qdev_prop_usize": "uint64",
}
# Infos with a kind of their own: a PCI devfn is an int32 (-1 = auto) set as "SLOT[.FN]".
OWN_KINDS = {"qdev_prop_pci_devfn": "pci-devfn"}
# Integer-typed infos whose text syntax is their own ("0000:00:1f.2"): kept "str".
CUSTOM_SYNTAX = {"qdev_prop_pci_devfn", "qdev_prop_pci_host_devaddr"}
INTEGER_KINDS = {
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "int8",
    "int16",
    "int32",
    "int64",
    "size",
    "size32",
}


@dataclass(frozen=True)
class InfoDef:
    """What we need of one ``PropertyInfo`` definition."""

    var: str
    qapi_type: str | None
    enum: str | None
    set_default: str | None  # the set_default_value function's name


def read_infos(ctx: FileContext) -> dict[str, InfoDef]:
    infos: dict[str, InfoDef] = {}
    for var, _node, init, _arr in declarations_of_type(ctx, {"PropertyInfo"}):
        if init.type != "initializer_list":
            continue
        fields, _pos = designated(ctx.tokens(node_text(init), line_of(init)))
        qapi_type: str | None = None
        for key in ("type", "name"):
            if key in fields:
                try:
                    qapi_type = ctx.string(fields[key])
                    break
                except cexpr.Unresolved:
                    pass
        enum = None
        if "enum_table" in fields:
            ident = [t.text for t in fields["enum_table"] if t.kind == "id"]
            if ident and ident[-1].endswith("_lookup"):
                enum = ident[-1][: -len("_lookup")]
        setter = fields.get("set_default_value")
        infos[var] = InfoDef(var, qapi_type, enum, setter[-1].text if setter else None)
    return infos


def read_lookups(ctx: FileContext) -> dict[str, list[str]]:
    """Enums written in C rather than QAPI: ``const QEnumLookup SpdmTransport_lookup =
    { .array = (const char *const[]) { [C_X] = "x", "y", ... }, .size = C_MAX }`` gives
    ``{"SpdmTransport": ["x", "y", ...]}`` (the name an ``enum_table`` refers to). A table
    with a member that is not a constant string, or with holes, is left out."""
    lookups: dict[str, list[str]] = {}
    for var, _node, init, _arr in declarations_of_type(ctx, {"QEnumLookup"}):
        if init.type != "initializer_list" or not var.endswith("_lookup"):
            continue
        fields, _pos = designated(ctx.tokens(node_text(init), line_of(init)))
        texts = [t.text for t in fields.get("array", [])]
        if "{" not in texts:
            continue
        members: dict[int, str] = {}
        index = 0
        try:
            for item in cpp.split_top(fields["array"][texts.index("{") + 1 : -1]):
                if not item:
                    continue
                if item[0].text == "[" and "=" in [t.text for t in item]:
                    eq = [t.text for t in item].index("=")
                    index = int(ctx.value(item[1 : eq - 1]))
                    item = item[eq + 1 :]
                members[index] = ctx.string(item)
                index += 1
            size = int(ctx.value(fields["size"])) if "size" in fields else len(members)
        except (cexpr.Unresolved, ValueError, TypeError):
            continue
        if sorted(members) == list(range(size)):
            lookups[var[: -len("_lookup")]] = [members[i] for i in range(size)]
    return lookups


def read_info_copies(ctx: FileContext) -> dict[str, str]:
    """``my_info = qdev_prop_uint16;`` in a function: ``my_info`` behaves as the original
    (e1000e's ``subsys`` properties copy a standard info to change its description)."""
    copies: dict[str, str] = {}
    for body in ctx.functions.values():
        for assign in find_nodes(body, "assignment_expression"):
            left = assign.child_by_field_name("left")
            right = assign.child_by_field_name("right")
            if (
                left is not None
                and right is not None
                and left.type == "identifier"
                and right.type == "identifier"
            ):
                copies[node_text(left)] = node_text(right)
    return copies


@dataclass
class RawProperty:
    """One property as read from its array, before PropertyInfo is known."""

    name: str
    info: str
    file: str
    line: int
    bit: int | None = None
    word: str | None = None
    has_default: bool = False
    default: cexpr.Value | None = None
    unresolved: str | None = None
    link_type: str | None = None
    array_info: str | None = None


def _ident(tokens: list[cpp.Token]) -> str:
    names = [t.text for t in tokens if t.kind == "id"]
    return names[-1] if names else ""


def _field_name(tokens: list[cpp.Token]) -> str | None:
    """The struct field of ``.offset = offsetof(State, field) + ...``."""
    texts = [t.text for t in tokens]
    if "offsetof" not in texts:
        return None
    start = texts.index("offsetof") + 1
    args, _end = cpp._collect_args(tokens, start)
    return cpp.join(args[1]).replace(" ", "") if len(args) > 1 else None


def read_arrays(ctx: FileContext) -> dict[str, list[RawProperty]]:
    """Every file-level ``Property name[]`` array of the file."""
    arrays: dict[str, list[RawProperty]] = {}
    for name, _node, init, is_array in declarations_of_type(ctx, {"Property"}):
        if not is_array or init.type != "initializer_list":
            continue
        arrays[name] = read_array(ctx, init)
    return arrays


def read_array(ctx: FileContext, init: Any) -> list[RawProperty]:
    tokens = ctx.tokens(node_text(init), line_of(init))
    body = tokens[1:-1] if tokens and tokens[0].text == "{" else tokens
    out: list[RawProperty] = []
    for element in cpp.split_top(body):
        if not element:
            continue
        line = element[0].line
        try:
            expanded = ctx.expand(element)
        except cexpr.Unresolved:
            continue
        for item in cpp.split_top(expanded):
            if not item or [t.text for t in item] == ["{", "}"]:
                continue
            prop = _property(ctx, item, line)
            if prop is not None:
                out.append(prop)
    return out


def _property(ctx: FileContext, item: list[cpp.Token], line: int) -> RawProperty | None:
    fields, _pos = designated(item)
    if "name" not in fields or "info" not in fields:
        return None
    try:
        name = ctx.string(fields["name"])
    except cexpr.Unresolved:
        return None
    prop = RawProperty(name, _ident(fields["info"]), ctx.file.path, line)
    if "offset" in fields:
        prop.word = _field_name(fields["offset"])
    if "bitnr" in fields:
        try:
            prop.bit = int(ctx.value(fields["bitnr"]))
        except cexpr.Unresolved as exc:
            prop.unresolved = f"bit number: {exc}"
    if "link_type" in fields:
        try:
            prop.link_type = ctx.string(fields["link_type"])
        except cexpr.Unresolved:
            prop.link_type = None
    if "arrayinfo" in fields:
        prop.array_info = _ident(fields["arrayinfo"])
    set_default = False
    if "set_default" in fields:
        try:
            set_default = bool(ctx.value(fields["set_default"]))
        except cexpr.Unresolved:
            set_default = True
    if set_default:
        prop.has_default = True
        value_tokens = fields.get("defval.u") or fields.get("defval.i") or []
        if not value_tokens:
            prop.default = 0  # zero-initialised union: QEMU's default is 0
        else:
            try:
                prop.default = ctx.value(value_tokens)
            except cexpr.Unresolved as exc:
                prop.unresolved = f"default {cpp.join(value_tokens)}: {exc}"
    return prop


def finish(
    raw: RawProperty,
    infos: dict[str, InfoDef],
    enums: dict[str, list[str]],
    copies: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The catalog form of one property (kind, typed default, provenance)."""
    var = raw.info
    for _ in range(3):
        alias = copies.get(var) if copies else None
        if alias is None or var in STANDARD_KINDS or var in OWN_KINDS:
            break
        var = alias
    info = infos.get(var)
    kind = STANDARD_KINDS.get(var) or OWN_KINDS.get(var)
    out: dict[str, Any] = {}
    enum_name = info.enum if info else None
    if kind is None:
        qapi_type = info.qapi_type if info else None
        if enum_name:
            kind = "enum"
        elif qapi_type in INTEGER_KINDS and var not in CUSTOM_SYNTAX:
            kind = str(qapi_type)  # e.g. qdev_prop_blocksize is a "size"
        else:
            kind = "str"
    out["kind"] = kind
    if kind == "enum":
        out["enum"] = enum_name
    if kind == "str" or (kind not in STANDARD_KINDS.values() and kind != "enum"):
        out["qapi_type"] = info.qapi_type if info and info.qapi_type else "str"
    if kind in ("bit", "bit64") or var == "qdev_prop_on_off_auto_bit64":
        out["word"] = raw.word
        out["bit"] = raw.bit
    if kind == "link" and raw.link_type:
        out["link_type"] = raw.link_type
    if raw.unresolved:
        out["unresolved"] = raw.unresolved
    elif raw.has_default and raw.default is not None:
        value: Any
        reason: str | None
        if var == "qdev_prop_array":
            value, reason = [], None  # a >= 8.2 list property: QEMU reports an empty list
        else:
            value, reason = _typed_default(raw.default, kind, info, enum_name, enums)
        if reason is not None:
            out["unresolved"] = reason
        elif value is not None:
            out["default"] = value
    out["file"] = raw.file
    out["line"] = raw.line
    return out


def _typed_default(
    value: cexpr.Value,
    kind: str,
    info: InfoDef | None,
    enum_name: str | None,
    enums: dict[str, list[str]],
) -> tuple[Any, str | None]:
    """(typed default, None), or (None, the reason it cannot be given)."""
    if kind in ("bool", "bit", "bit64"):
        return bool(value), None
    if kind in INTEGER_KINDS or kind == "array":
        if isinstance(value, str):
            return None, f"string default {value!r} for an integer"
        return int(value), None
    if kind == "pci-devfn":
        if isinstance(value, str) or not -1 <= int(value) < 256:
            return None, f"{value!r} is not a devfn (0..255, or -1 for auto)"
        return int(value), None
    if kind in ("OnOffAuto", "enum"):
        enum = enum_name or "OnOffAuto"
        members = enums.get(enum)
        if members is None:
            return None, f"enum {enum} is neither in qapi/*.json nor a constant QEnumLookup"
        if isinstance(value, str) or not 0 <= int(value) < len(members):
            return None, f"{value!r} is not a member of {enum}"
        return members[int(value)], None
    setter = info.set_default if info else None
    if setter and setter.endswith(("_int", "_uint")):
        return (value if isinstance(value, str) else int(value)), None
    if setter == "set_default_uuid_auto":
        return "auto", None
    if setter:
        return None, f"default set by {setter}(), not a plain value"
    return None, None
