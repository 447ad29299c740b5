"""Typed device properties and QEMU's rules for parsing them from strings.

Every value that reaches a property (a compat entry, a ``--global``, a ``--device`` option)
is text, parsed by the property's kind exactly as QEMU's string-input visitor does
(reference §5.3). Error texts follow QEMU's wording so they can be compared with real runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from migcompat.errors import PropertyValueError

Value = bool | int | str | tuple[object, ...] | None

# Integer kinds: (bits, signed, C type name used in QEMU's range error).
INT_KINDS: dict[str, tuple[int, bool, str]] = {
    "uint8": (8, False, "uint8_t"),
    "uint16": (16, False, "uint16_t"),
    "uint32": (32, False, "uint32_t"),
    "uint64": (64, False, "uint64_t"),
    "int8": (8, True, "int8_t"),
    "int16": (16, True, "int16_t"),
    "int32": (32, True, "int32_t"),
    "int64": (64, True, "int64_t"),
}
BOOL_KINDS = frozenset({"bool", "bit", "bit64"})
SIZE_KINDS = frozenset({"size", "size32"})
# Kinds whose value is kept as the text given (backend references, addresses, uuids...).
# QEMU checks some of these (macaddr, pci-devfn) with device-specific parsers; we keep the
# text and compare spellings as given.
TEXT_KINDS = frozenset({"str", "link"})
OTHER_KINDS = frozenset({"enum", "OnOffAuto", "array", "pci-devfn"})
ALL_KINDS = frozenset(INT_KINDS) | BOOL_KINDS | SIZE_KINDS | TEXT_KINDS | OTHER_KINDS

ON_OFF_AUTO = ("auto", "on", "off")

_TRUE = frozenset({"on", "yes", "true", "y"})
_FALSE = frozenset({"off", "no", "false", "n"})


@dataclass(frozen=True)
class Property:
    """A typed, named setting of a type, with its static (class) default.

    ``has_default`` is False for properties QEMU gives no static default (strings, links,
    ``*_NODEFAULT``); ``unresolved`` holds the reason when a default exists but could not be
    computed from source. ``word``/``bit`` place a bit property in its shared storage word.
    ``equivalent`` lists groups of values that give the same device (the same migrated state
    and guest view), ``equivalent_why`` says why: ``check`` does not count a difference
    within a group (pci-device ``rombar`` 1 up to 9.x and -1 "auto" from 10.0).
    """

    name: str
    kind: str
    default: Value = None
    has_default: bool = True
    enum_values: tuple[str, ...] = ()
    enum_name: str = ""
    word: str = ""
    bit: int = -1
    unresolved: str = ""
    qapi_type: str = ""
    link_type: str = ""  # a link's target type (memdev: memory-backend)
    file: str = ""
    line: int = 0
    tags: frozenset[str] = field(default_factory=frozenset)
    equivalent: tuple[tuple[Value, ...], ...] = ()
    equivalent_why: str = ""

    def equivalent_group(self, a: Value, b: Value) -> tuple[Value, ...] | None:
        """The declared group holding both ``a`` and ``b`` (values of the same type), if any."""
        for group in self.equivalent:
            if _member(a, group) and _member(b, group):
                return group
        return None

    def parse(self, text: str) -> Value:
        """Parse ``text`` as a value of this property, or raise PropertyValueError."""
        return parse_value(self.kind, self.name, text, self.enum_values)

    def format(self, value: Value) -> str:
        return format_value(self.kind, value)


def _member(value: Value, group: tuple[Value, ...]) -> bool:
    # typed: True is not 1 here
    return any(type(value) is type(v) and value == v for v in group)


def parse_value(kind: str, name: str, text: str, enum_values: tuple[str, ...] = ()) -> Value:
    if kind in BOOL_KINDS:
        return parse_bool(name, text)
    if kind in INT_KINDS:
        bits, signed, ctype = INT_KINDS[kind]
        return parse_int(name, text, bits, signed, ctype)
    if kind in SIZE_KINDS:
        value = parse_size(name, text)
        if kind == "size32" and value > 0xFFFFFFFF:
            # QEMU names the object's type here; callers that know it prefix it.
            raise PropertyValueError(
                f"Property {name} doesn't take value {value} (maximum: 4294967295)", name,
                name_at=len("Property "),
            )
        return value
    if kind == "OnOffAuto":
        return parse_enum(name, text, ON_OFF_AUTO)
    if kind == "enum":
        return parse_enum(name, text, enum_values)
    if kind == "pci-devfn":
        return parse_devfn(name, text)
    if kind == "array":
        raise PropertyValueError(
            f"array property '{name}' cannot be set from a single string", name
        )
    return text


def parse_bool(name: str, text: str) -> bool:
    """Exactly on/yes/true/y and off/no/false/n; case matters and digits are refused."""
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise PropertyValueError(f"Parameter '{name}' expects 'on' or 'off'", name)


_C_INT = re.compile(r"\s*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)\Z")


def _strto64(text: str) -> int | None:
    """C base-0 integer syntax (strtoull/strtoll): 0x hex, leading 0 octal, else decimal."""
    m = _C_INT.match(text)
    if m is None:
        return None
    sign, digits = m.groups()
    if digits[:2] in ("0x", "0X"):
        value = int(digits[2:], 16)
    elif digits.startswith("0") and len(digits) > 1:
        value = int(digits[1:], 8)
    else:
        value = int(digits, 10)
    return -value if sign == "-" else value


def parse_int(name: str, text: str, bits: int, signed: bool, ctype: str) -> int:
    value = _strto64(text)
    if signed:
        if value is None or not -(1 << 63) <= value < (1 << 63):
            raise PropertyValueError(f"Parameter '{name}' expects int64", name)
        lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    else:
        if value is None or not -(1 << 64) < value < (1 << 64):
            raise PropertyValueError(f"Parameter '{name}' expects uint64", name)
        # strtoull accepts a minus sign and wraps: "-1" is UINT64_MAX.
        value &= (1 << 64) - 1
        lo, hi = 0, (1 << bits) - 1
    if not lo <= value <= hi:
        raise PropertyValueError(f"Parameter '{name}' expects {ctype}", name)
    return value


_SIZE = re.compile(r"(0[xX][0-9a-fA-F]+|[0-9]+(?:\.[0-9]*)?|\.[0-9]+)([bBkKmMgGtTpPeE]?)\Z")
_SUFFIX = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40,
           "p": 1 << 50, "e": 1 << 60}


def parse_size(name: str, text: str) -> int:
    """qemu_strtosz: decimal with binary suffix, fractions with a suffix, hex without one."""
    err = PropertyValueError(
        f"Parameter '{name}' expects a non-negative number below 2^64"
        " Optional suffix k, M, G, T, P or E means kilo-, mega-, giga-, tera-, peta-"
        " and exabytes, respectively.",
        name,
    )
    m = _SIZE.match(text)
    if m is None:
        raise err
    number, suffix = m.groups()
    mult = _SUFFIX[suffix.lower()]
    if number[:2] in ("0x", "0X"):
        if suffix:  # "0x20M" is refused, and "0x1b" was already read as hex 27
            raise err
        value = int(number, 16)
    elif "." in number:
        if mult == 1:  # a fraction needs a suffix larger than B
            raise err
        whole, _, frac = number.partition(".")
        # Exact arithmetic: QEMU multiplies a double fraction by the unit.
        value = int(whole or "0") * mult + int(float("0." + (frac or "0")) * mult)
    else:
        value = int(number, 10) * mult  # no octal for sizes: "08" is eight
    if value >= 1 << 64:
        raise err
    return value


# "SLOT[.FN]", each hex as sscanf's %x reads it: an optional 0x, then hex digits (libvirt
# writes addr=0x2.0x1).
_DEVFN = re.compile(r"(?:0[xX])?([0-9a-fA-F]+)(?:\.(?:0[xX])?([0-9a-fA-F]+))?\Z")


def parse_devfn(name: str, text: str) -> int:
    """A PCI address from a string, as set_pci_devfn reads one (hw/core/qdev-properties-
    system.c): "SLOT[.FN]" in hex (slot < 32, fn < 8; addr=1 is slot 1); else a devfn
    number (-1: auto)."""
    m = _DEVFN.match(text)
    if m is not None:
        slot, fn = int(m.group(1), 16), int(m.group(2) or "0", 16)
        if slot < 32 and fn < 8:
            return slot << 3 | fn
    value = _strto64(text)
    if value is not None and -1 <= value < 256:
        return value
    # QEMU: "Property 'TYPE.NAME' doesn't take value ..." where it knows the type
    raise PropertyValueError(f"Property '{name}' doesn't take value '{text}'", name,
                             name_at=len("Property '"))


def parse_enum(name: str, text: str, values: tuple[str, ...]) -> str:
    if text in values:
        return text
    raise PropertyValueError(f"Parameter '{name}' does not accept value '{text}'", name)


def format_value(kind: str, value: Value) -> str:
    """The canonical text of a value, as QEMU's string output would give it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, tuple):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)


def normalise(kind: str, value: Value) -> Value:
    """Bring a value to its typed form (for comparing spellings like on/true, 0x10/16)."""
    if isinstance(value, str) and (kind in BOOL_KINDS or kind in INT_KINDS or kind in SIZE_KINDS):
        return parse_value(kind, "value", value)
    return value
