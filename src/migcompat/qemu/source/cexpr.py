"""Constant-expression evaluation for property defaults and ``#if`` conditions.

Input is a fully macro-expanded token list; identifiers left over are looked up through
a ``names`` callback (enum constants). Casts to fixed-width types wrap as C does
(``(uint32_t)-1`` is 4294967295). Anything that is not a compile-time constant raises
:class:`Unresolved` with a reason, so the importer never guesses.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar

from migcompat.qemu.source.cpp import Token, _collect_args, join


class Unresolved(Exception):
    """A value that cannot be computed statically; the message says why."""


_INT_TYPES: dict[str, tuple[int, bool]] = {
    "uint8_t": (8, False),
    "uint16_t": (16, False),
    "uint32_t": (32, False),
    "uint64_t": (64, False),
    "int8_t": (8, True),
    "int16_t": (16, True),
    "int32_t": (32, True),
    "int64_t": (64, True),
    "size_t": (64, False),
    "hwaddr": (64, False),
    "ram_addr_t": (64, False),
    "unsigned": (32, False),
    "int": (32, True),
    "long": (64, True),
    "char": (8, True),
    "uint": (32, False),
    "uintptr_t": (64, False),
    "intptr_t": (64, True),
    "ssize_t": (64, True),
    "off_t": (64, True),
    "unsigned long": (64, False),
    "unsigned int": (32, False),
    "unsigned long long": (64, False),
    "long long": (64, True),
    "signed char": (8, True),
    "unsigned char": (8, False),
    "uint16": (16, False),
    "uint32": (32, False),
    "uint64": (64, False),
}
_TYPE_WORDS = {"unsigned", "signed", "int", "long", "char", "short", "const", "struct", "enum"}


def wrap(value: int, bits: int, signed: bool) -> int:
    value &= (1 << bits) - 1
    if signed and value >= 1 << (bits - 1):
        value -= 1 << bits
    return value


def parse_int(text: str) -> int:
    t = text.rstrip("uUlL")
    try:
        if t.lower().startswith("0x"):
            return int(t, 16)
        if t.lower().startswith("0b"):
            return int(t[2:], 2)
        if len(t) > 1 and t.startswith("0") and t.isdigit():
            return int(t, 8)
        return int(t, 10)
    except ValueError as exc:
        raise Unresolved(f"not an integer constant: {text}") from exc


def _unescape(body: str) -> str:
    out = []
    i = 0
    simple = {
        "n": "\n",
        "t": "\t",
        "r": "\r",
        "0": "\0",
        "\\": "\\",
        '"': '"',
        "'": "'",
        "a": "\a",
        "b": "\b",
        "f": "\f",
        "v": "\v",
    }
    while i < len(body):
        c = body[i]
        if c == "\\" and i + 1 < len(body):
            n = body[i + 1]
            if n == "x":
                j = i + 2
                while j < len(body) and body[j] in "0123456789abcdefABCDEF":
                    j += 1
                out.append(chr(int(body[i + 2 : j], 16)))
                i = j
                continue
            out.append(simple.get(n, n))
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def string_value(tok: Token) -> str:
    text = tok.text
    start = text.index('"')
    return _unescape(text[start + 1 : -1])


Value = int | str | bool


class _Parser:
    """Pratt parser over tokens for C constant expressions."""

    BINARY: ClassVar[dict[str, int]] = {
        "||": 1,
        "&&": 2,
        "|": 3,
        "^": 4,
        "&": 5,
        "==": 6,
        "!=": 6,
        "<": 7,
        ">": 7,
        "<=": 7,
        ">=": 7,
        "<<": 8,
        ">>": 8,
        "+": 9,
        "-": 9,
        "*": 10,
        "/": 10,
        "%": 10,
    }

    def __init__(self, tokens: Sequence[Token], names: Callable[[str], Value | None]) -> None:
        self.ts = list(tokens)
        self.i = 0
        self.names = names

    def is_type(self, word: str) -> bool:
        """Unknown CamelCase names (OnOffAuto) and *_t names are types in a cast."""
        if word.endswith("_t"):
            return True
        return self.names(word) is None and word[:1].isupper() and not word.isupper()

    def peek(self, k: int = 0) -> Token | None:
        j = self.i + k
        return self.ts[j] if j < len(self.ts) else None

    def take(self) -> Token:
        t = self.peek()
        if t is None:
            raise Unresolved("expression ends early")
        self.i += 1
        return t

    def parse(self) -> Value:
        v = self.expr(0)
        if self.peek() is not None:
            raise Unresolved(f"cannot evaluate '{join(self.ts)}'")
        return v

    def expr(self, min_prec: int) -> Value:
        left = self.unary()
        while True:
            t = self.peek()
            if t is None:
                return left
            if t.text == "?" and min_prec == 0:
                self.take()
                a = self.expr(0)
                if self.take().text != ":":
                    raise Unresolved("malformed ?:")
                b = self.expr(0)
                left = a if _num(left) else b
                continue
            prec = self.BINARY.get(t.text)
            if prec is None or prec <= min_prec:
                return left
            self.take()
            right = self.expr(prec)
            left = _binary(t.text, left, right)

    def _cast_type(self) -> str | None:
        """If a '(' at the cursor opens a cast, the type's text; else None."""
        words: list[str] = []
        k = 0  # the '(' is already taken
        while True:
            t = self.peek(k)
            if t is None:
                return None
            if t.text == ")":
                break
            if t.kind != "id" and t.text != "*":
                return None
            words.append(t.text)
            k += 1
        if not words:
            return None
        name = " ".join(w for w in words if w != "const")
        first = words[0]
        if (
            first in _TYPE_WORDS
            or name in _INT_TYPES
            or "*" in words
            or self.is_type(first)
            or first == "bool"
            or first == "_Bool"
        ):
            nxt = self.peek(k + 1)
            if (
                nxt is None
                or nxt.text in (")", ",")
                or (nxt.text in self.BINARY and nxt.text not in ("-", "+", "*", "&"))
            ):
                return None
            self.i += k + 1
            return name
        return None

    def unary(self) -> Value:
        t = self.take()
        if t.text == "(":
            cast = self._cast_type()
            if cast is not None:
                v = self.unary()
                return _cast(cast, v)
            v = self.expr(0)
            if self.take().text != ")":
                raise Unresolved("unbalanced parentheses")
            return v
        if t.text in ("-", "+", "~", "!"):
            v = _num(self.unary())
            return {"-": -v, "+": v, "~": ~v, "!": int(not v)}[t.text]
        if t.kind == "num":
            return parse_int(t.text)
        if t.kind == "char":
            body = _unescape(t.text[t.text.index("'") + 1 : -1])
            if len(body) != 1:
                raise Unresolved(f"character constant {t.text}")
            return ord(body)
        if t.kind == "str":
            parts = [string_value(t)]
            while (n := self.peek()) is not None and n.kind == "str":
                parts.append(string_value(self.take()))
            return "".join(parts)
        if t.text in ("true", "false"):
            return t.text == "true"
        if t.text == "sizeof":
            raise Unresolved("uses sizeof, which depends on the C ABI")
        nxt = self.peek()
        if t.text in ("__builtin_constant_p", "__builtin_choose_expr") and nxt and nxt.text == "(":
            args, end = _collect_args(self.ts, self.i)
            self.i = end + 1
            if t.text == "__builtin_constant_p":
                try:
                    evaluate(args[0], self.names)
                    return 1
                except Unresolved:
                    return 0
            if len(args) != 3:
                raise Unresolved("malformed __builtin_choose_expr")
            chosen = args[1] if _num(evaluate(args[0], self.names)) else args[2]
            return evaluate(chosen, self.names)
        if t.kind == "id":
            known = self.names(t.text)
            if known is not None:
                return known
            n = self.peek()
            if n is not None and n.text == "(":
                raise Unresolved(f"calls {t.text}(), a run-time value")
            raise Unresolved(f"{t.text} is not a compile-time constant known here")
        raise Unresolved(f"unexpected '{t.text}'")


def _num(v: Value) -> int:
    if isinstance(v, str):
        raise Unresolved("a string used as a number")
    return int(v)


def _binary(op: str, a: Value, b: Value) -> Value:
    x, y = _num(a), _num(b)
    if op in ("/", "%") and y == 0:
        raise Unresolved("division by zero")
    result: int = {
        "||": lambda: int(bool(x) or bool(y)),
        "&&": lambda: int(bool(x) and bool(y)),
        "|": lambda: x | y,
        "^": lambda: x ^ y,
        "&": lambda: x & y,
        "==": lambda: int(x == y),
        "!=": lambda: int(x != y),
        "<": lambda: int(x < y),
        ">": lambda: int(x > y),
        "<=": lambda: int(x <= y),
        ">=": lambda: int(x >= y),
        "<<": lambda: x << y,
        ">>": lambda: x >> y,
        "+": lambda: x + y,
        "-": lambda: x - y,
        "*": lambda: x * y,
        "/": lambda: int(x / y),
        "%": lambda: x - y * int(x / y),
    }[op]()
    return result


def _cast(type_name: str, v: Value) -> Value:
    if type_name in ("bool", "_Bool"):
        return bool(_num(v))
    if "*" in type_name:
        return v
    if type_name in _INT_TYPES:
        bits, signed = _INT_TYPES[type_name]
        return wrap(_num(v), bits, signed)
    return v  # enum and typedef'd names: the value is unchanged


def evaluate(tokens: Sequence[Token], names: Callable[[str], Value | None] | None = None) -> Value:
    """Value of a fully macro-expanded constant expression, or :class:`Unresolved`.

    ``names`` gives the value of identifiers left after expansion (enum constants).
    """
    if not tokens:
        raise Unresolved("empty expression")
    return _Parser(tokens, names or (lambda name: None)).parse()
