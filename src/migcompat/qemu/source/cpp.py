"""Just enough of the C preprocessor to read QEMU's tables.

tree-sitter parses C, but it does not expand macros, and QEMU's property arrays and
compat tables are written with them (``DEFINE_PROP_UINT32(...)``, ``TYPE_X86_CPU``,
``"EPYC" "-" TYPE_X86_CPU``, ``PC_CPU_MODEL_IDS("1.3.0")``). This module supplies the
missing step: a tokenizer, ``#if``/``#ifdef`` selection for one build configuration
(x86_64 system emulator on Linux), function-like macro expansion with ``#``, ``##`` and
``__VA_ARGS__``, and a constant-expression evaluator for defaults. The macro
*definitions* themselves are read with tree-sitter (see ``tree.py``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

# ---------------------------------------------------------------------------- tokens

_TOKEN_RE = re.compile(
    r"""
    (?P<ws>[ \t\r\f\v]+|\\\n)
  | (?P<nl>\n)
  | (?P<comment>/\*.*?\*/|//[^\n]*)
  | (?P<str>(?:u8|[uUL])?"(?:[^"\\\n]|\\.)*")
  | (?P<char>(?:[uUL])?'(?:[^'\\\n]|\\.)*')
  | (?P<num>\.?\d(?:[eEpP][+-]|[\w.])*)
  | (?P<id>[A-Za-z_]\w*)
  | (?P<punct>\.\.\.|<<=|>>=|->|\+\+|--|<<|>>|<=|>=|==|!=|&&|\|\||\#\#
              |[-+*/%&|^!=<>]=|[][(){}.,;:?~!#<>=+\-*/%&|^])
  | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)


@dataclass(frozen=True)
class Token:
    kind: str  # id, num, str, char, punct, other
    text: str
    line: int = 0
    space: bool = False  # whitespace before it (for # stringification)
    hide: frozenset[str] = field(default=frozenset(), compare=False)


def tokenize(text: str, line: int = 1) -> list[Token]:
    """C tokens of ``text``; comments dropped, line numbers counted from ``line``."""
    tokens: list[Token] = []
    space = False
    for m in _TOKEN_RE.finditer(text):
        kind = m.lastgroup or "other"
        value = m.group()
        if kind in ("ws", "comment", "nl"):
            line += value.count("\n")
            space = True
            continue
        tokens.append(Token(kind, value, line, space))
        space = False
    return tokens


def join(tokens: Iterable[Token]) -> str:
    """Tokens back to text, a space wherever the source had whitespace."""
    out: list[str] = []
    for i, tok in enumerate(tokens):
        if i and tok.space:
            out.append(" ")
        out.append(tok.text)
    return "".join(out)


# ---------------------------------------------------------------------------- macros


@dataclass(frozen=True)
class Macro:
    name: str
    params: tuple[str, ...] | None  # None for an object-like macro
    body: tuple[Token, ...]
    variadic: str | None = None  # name of the variadic parameter (__VA_ARGS__ or named)
    file: str = ""
    line: int = 0


def make_macro(
    name: str, params: Sequence[str] | None, body: str, file: str = "", line: int = 0
) -> Macro:
    variadic = None
    plist: tuple[str, ...] | None = None
    if params is not None:
        names = []
        for p in params:
            p = p.strip()
            if p == "...":
                variadic = "__VA_ARGS__"
                names.append("__VA_ARGS__")
            elif p.endswith("..."):
                variadic = p[:-3].strip()
                names.append(variadic)
            elif p:
                names.append(p)
        plist = tuple(names)
    return Macro(name, plist, tuple(tokenize(body.replace("\\\n", " "), line)), variadic,
                 file, line)  # fmt: skip


MacroLookup = Callable[[str], "Macro | None"]


class ExpansionError(Exception):
    """A macro invocation that cannot be expanded (unbalanced parentheses...)."""


def _collect_args(tokens: Sequence[Token], start: int) -> tuple[list[list[Token]], int]:
    """Arguments of an invocation whose ``(`` is at ``start``; returns (args, index of ``)``)."""
    args: list[list[Token]] = [[]]
    depth = 0
    for i in range(start + 1, len(tokens)):
        t = tokens[i]
        if t.text in ("(", "[", "{"):
            depth += 1
        elif t.text in (")", "]", "}"):
            if depth == 0:
                if t.text != ")":
                    raise ExpansionError("unbalanced brackets in macro arguments")
                return args, i
            depth -= 1
        elif t.text == "," and depth == 0:
            args.append([])
            continue
        args[-1].append(t)
    raise ExpansionError("unterminated macro invocation")


def _stringify(tokens: Sequence[Token], line: int) -> Token:
    text = join(tokens).strip()
    text = text.replace("\\", "\\\\").replace('"', '\\"')
    return Token("str", f'"{text}"', line, True)


def _paste(left: Token, right: Token) -> list[Token]:
    pasted = tokenize(left.text + right.text, left.line)
    if len(pasted) == 1:
        return [Token(pasted[0].kind, pasted[0].text, left.line, left.space, left.hide)]
    return [Token(t.kind, t.text, left.line, t.space, left.hide) for t in pasted]


class Expander:
    """Expands macros in token lists against a lookup (a macro table)."""

    def __init__(self, lookup: MacroLookup, max_steps: int = 20000) -> None:
        self.lookup = lookup
        self.max_steps = max_steps

    def expand(self, tokens: Sequence[Token]) -> list[Token]:
        ts = list(tokens)
        out: list[Token] = []
        steps = 0
        while ts:
            t = ts.pop(0)
            macro = self.lookup(t.text) if t.kind == "id" and t.text not in t.hide else None
            if macro is None:
                out.append(t)
                continue
            steps += 1
            if steps > self.max_steps:
                raise ExpansionError("macro expansion does not terminate")
            if macro.params is None:
                body = self._subst(macro, {}, t.hide | {macro.name}, t.line)
                ts[0:0] = body
                continue
            if not ts or ts[0].text != "(":
                out.append(t)  # a function-like macro name not followed by '('
                continue
            args, end = _collect_args(ts, 0)
            del ts[: end + 1]
            bound = self._bind(macro, args)
            ts[0:0] = self._subst(macro, bound, t.hide | {macro.name}, t.line)
        return out

    def _bind(self, macro: Macro, args: list[list[Token]]) -> dict[str, list[Token]]:
        params = macro.params or ()
        if len(params) == 0 and args == [[]]:
            return {}
        named = [p for p in params if p != macro.variadic]
        bound: dict[str, list[Token]] = {}
        for i, p in enumerate(named):
            bound[p] = args[i] if i < len(args) else []
        if macro.variadic is not None:
            rest = args[len(named):]
            va: list[Token] = []
            for i, a in enumerate(rest):
                if i:
                    va.append(Token("punct", ",", a[0].line if a else 0))
                va.extend(a)
            bound[macro.variadic] = va
            bound["\0va-present"] = [Token("num", "1")] if rest and (len(rest) > 1 or rest[0])\
                else []  # fmt: skip
        elif len(args) > len(named) and named:
            raise ExpansionError(f"too many arguments to {macro.name}")
        return bound

    def _subst(
        self, macro: Macro, bound: dict[str, list[Token]], hide: frozenset[str], line: int
    ) -> list[Token]:
        body = list(macro.body)
        result: list[Token] = []
        i = 0
        while i < len(body):
            t = body[i]
            if t.text == "#" and macro.params is not None and i + 1 < len(body) \
                    and body[i + 1].text in bound:  # fmt: skip
                result.append(_stringify(bound[body[i + 1].text], line))
                i += 2
                continue
            if t.text == "##" and result and i + 1 < len(body):
                nxt = body[i + 1]
                # GNU: ", ## __VA_ARGS__" drops the comma when no variadic arguments
                if nxt.text == macro.variadic and result[-1].text == ",":
                    if not bound.get("\0va-present"):
                        result.pop()
                    else:
                        result.extend(bound[nxt.text])
                    i += 2
                    continue
                right = bound[nxt.text] if nxt.text in bound else [nxt]
                if right:
                    left = result.pop()
                    result.extend(_paste(left, right[0]))
                    result.extend(right[1:])
                i += 2
                continue
            if t.kind == "id" and t.text in bound:
                raw = bound[t.text]
                pasting = i + 1 < len(body) and body[i + 1].text == "##"
                arg = raw if pasting else self.expand(raw)
                result.extend(arg)
                i += 1
                continue
            result.append(t)
            i += 1
        return [Token(r.kind, r.text, line, r.space, r.hide | hide) for r in result]


# ---------------------------------------------------------------------------- #if


@dataclass
class BuildConfig:
    """Which configuration symbols count as defined when choosing #if branches.

    Debian builds the x86_64 system emulator on Linux with nearly every optional
    feature, so an unknown ``CONFIG_*`` symbol counts as defined; any other unknown
    symbol counts as undefined, as the C preprocessor does.
    """

    defined: dict[str, str] = field(default_factory=dict)
    undefined: set[str] = field(default_factory=set)

    def is_defined(self, name: str) -> bool:
        if name in self.defined:
            return True
        if name in self.undefined:
            return False
        return name.startswith("CONFIG_")

    def value(self, name: str) -> str | None:
        if name in self.defined:
            return self.defined[name]
        if self.is_defined(name):
            return "1"
        return None


X86_64_LINUX = BuildConfig(
    defined={
        "TARGET_X86_64": "1", "TARGET_I386": "1", "TARGET_LONG_BITS": "64",
        "CONFIG_LINUX": "1", "CONFIG_POSIX": "1", "__linux__": "1", "__x86_64__": "1",
        "CONFIG_SOFTMMU": "1", "CONFIG_SYSTEM_ONLY": "1", "CONFIG_KVM": "1",
        "CONFIG_TCG": "1", "HOST_X86_64": "1", "__GNUC__": "12", "HOST_LONG_BITS": "64",
        "NEED_CPU_H": "1", "COMPILING_PER_TARGET": "1", "CONFIG_I386_DIS": "1",
        "HAVE_CHARDEV_SERIAL": "1", "HAVE_CHARDEV_PARPORT": "1",  # osdep.h, on Linux
    },
    undefined={
        "CONFIG_USER_ONLY", "CONFIG_MICROVM_DEFAULT", "_WIN32", "CONFIG_WIN32",
        "CONFIG_DARWIN", "CONFIG_BSD", "HOST_WORDS_BIGENDIAN", "HOST_BIG_ENDIAN",
        "CONFIG_XEN_IS_POSSIBLE", "CONFIG_XEN_EMU", "CONFIG_FUZZ", "CONFIG_SOLARIS",
        "CONFIG_FREEBSD", "CONFIG_OPENBSD", "CONFIG_NETBSD", "CONFIG_EMSCRIPTEN",
        "TARGET_AARCH64", "TARGET_ARM", "TARGET_PPC", "TARGET_PPC64", "TARGET_S390X",
        "TARGET_RISCV32", "TARGET_RISCV64", "TARGET_MIPS", "TARGET_SPARC", "COMPILING_SYSTEM_VS_USER",
        "CONFIG_DEBUG_TCG", "CONFIG_DEBUG_MUTEX", "CONFIG_DEBUG_STACK_USAGE", "__cplusplus",
    },
)  # fmt: skip


def eval_condition(tokens: Sequence[Token], config: BuildConfig) -> bool:
    """Value of an ``#if``/``#elif`` expression under ``config`` (unknown names are 0)."""
    ts: list[Token] = []
    i = 0
    while i < len(tokens):
        t = tokens[i]
        if t.text == "defined":
            if i + 1 < len(tokens) and tokens[i + 1].text == "(":
                name, i = tokens[i + 2].text if i + 2 < len(tokens) else "", i + 4
            else:
                name, i = tokens[i + 1].text if i + 1 < len(tokens) else "", i + 2
            ts.append(Token("num", "1" if config.is_defined(name) else "0"))
            continue
        if t.kind == "id":
            value = config.value(t.text)
            ts.extend(tokenize(value) if value is not None else [Token("num", "0")])
        else:
            ts.append(t)
        i += 1
    try:
        return bool(evaluate(ts))
    except Unresolved:
        return True  # can't tell: keep the first branch, as documented


def select_lines(text: str, config: BuildConfig, first_line: int = 1) -> list[tuple[int, str]]:
    """The lines of ``text`` that survive #if/#ifdef selection, with their line numbers.

    Directives are dropped; ``#define`` inside a fragment is ignored (fragments here are
    initializers, where QEMU does not define macros).
    """
    out: list[tuple[int, str]] = []
    stack: list[tuple[bool, bool]] = []  # (this branch active, some branch already taken)
    active = True
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        lineno = first_line + i
        line = lines[i]
        while line.endswith("\\") and i + 1 < len(lines):
            i += 1
            line = line[:-1] + " " + lines[i]
        i += 1
        stripped = line.lstrip()
        if not stripped.startswith("#"):
            if active:
                out.append((lineno, line))
            continue
        toks = tokenize(stripped[1:])
        directive = toks[0].text if toks else ""
        rest = toks[1:]
        if directive in ("if", "ifdef", "ifndef"):
            if directive == "if":
                cond = eval_condition(rest, config)
            else:
                cond = config.is_defined(rest[0].text) if rest else False
                cond = cond if directive == "ifdef" else not cond
            stack.append((active, cond))
            active = active and cond
        elif directive in ("elif", "else") and stack:
            outer, taken = stack[-1]
            cond = True if directive == "else" else eval_condition(rest, config)
            now = not taken and cond
            stack[-1] = (outer, taken or now)
            active = outer and now
        elif directive == "endif" and stack:
            active = stack.pop()[0]
    return out


_CONDITIONALS = {"if", "ifdef", "ifndef", "elif", "else", "endif", "elifdef", "elifndef"}


def preselect(text: str, config: BuildConfig) -> str:
    """``text`` with #if selection done: inactive lines and conditional directives blanked.

    Line numbers are kept (every removed line becomes an empty one), and ``#define``
    lines of active regions stay. tree-sitter then never sees a conditional: its error
    recovery on an ``#ifdef`` inside an initializer can swallow the rest of a file.
    """
    lines = text.split("\n")
    out: list[str] = []
    stack: list[tuple[bool, bool]] = []
    active = True
    i = 0
    while i < len(lines):
        group = [lines[i]]
        while group[-1].endswith("\\") and i + len(group) < len(lines):
            group.append(lines[i + len(group)])
        i += len(group)
        stripped = group[0].lstrip()
        directive = ""
        if stripped.startswith("#"):
            toks = tokenize(" ".join(g.rstrip("\\") for g in group).lstrip()[1:])
            directive = toks[0].text if toks else ""
            rest = toks[1:]
        if directive in _CONDITIONALS:
            if directive in ("if", "ifdef", "ifndef"):
                if directive == "if":
                    cond = eval_condition(rest, config)
                else:
                    cond = config.is_defined(rest[0].text) if rest else False
                    cond = cond if directive == "ifdef" else not cond
                stack.append((active, cond))
                active = active and cond
            elif directive == "endif":
                if stack:
                    active = stack.pop()[0]
            elif stack:
                outer, taken = stack[-1]
                if directive == "else":
                    cond = True
                elif directive in ("elifdef", "elifndef"):
                    cond = config.is_defined(rest[0].text) if rest else False
                    cond = cond if directive == "elifdef" else not cond
                else:
                    cond = eval_condition(rest, config)
                now = not taken and cond
                stack[-1] = (outer, taken or now)
                active = outer and now
            out.extend("" for _ in group)
        elif active:
            out.extend(group)
        else:
            out.extend("" for _ in group)
    return "\n".join(out)


# ---------------------------------------------------------------------------- evaluation


class Unresolved(Exception):
    """A value that cannot be computed statically; the message says why."""


_INT_TYPES: dict[str, tuple[int, bool]] = {
    "uint8_t": (8, False), "uint16_t": (16, False), "uint32_t": (32, False),
    "uint64_t": (64, False), "int8_t": (8, True), "int16_t": (16, True),
    "int32_t": (32, True), "int64_t": (64, True), "size_t": (64, False),
    "hwaddr": (64, False), "ram_addr_t": (64, False), "unsigned": (32, False),
    "int": (32, True), "long": (64, True), "char": (8, True), "uint": (32, False),
    "uintptr_t": (64, False), "intptr_t": (64, True), "ssize_t": (64, True),
    "off_t": (64, True), "unsigned long": (64, False), "unsigned int": (32, False),
    "unsigned long long": (64, False), "long long": (64, True), "signed char": (8, True),
    "unsigned char": (8, False), "uint16": (16, False), "uint32": (32, False),
    "uint64": (64, False),
}  # fmt: skip
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
    simple = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "\\": "\\", '"': '"', "'": "'",
              "a": "\a", "b": "\b", "f": "\f", "v": "\v"}  # fmt: skip
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

    BINARY: dict[str, int] = {
        "||": 1, "&&": 2, "|": 3, "^": 4, "&": 5, "==": 6, "!=": 6, "<": 7, ">": 7,
        "<=": 7, ">=": 7, "<<": 8, ">>": 8, "+": 9, "-": 9, "*": 10, "/": 10, "%": 10,
    }  # fmt: skip

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
        if first in _TYPE_WORDS or name in _INT_TYPES or "*" in words or self.is_type(first) \
                or first == "bool" or first == "_Bool":  # fmt: skip
            nxt = self.peek(k + 1)
            if nxt is None or nxt.text in (")", ",") or nxt.text in self.BINARY \
                    and nxt.text not in ("-", "+", "*", "&"):  # fmt: skip
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
        if t.text in ("__builtin_constant_p", "__builtin_choose_expr") and self.peek() \
                and self.peek().text == "(":  # fmt: skip
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
        "||": lambda: int(bool(x) or bool(y)), "&&": lambda: int(bool(x) and bool(y)),
        "|": lambda: x | y, "^": lambda: x ^ y, "&": lambda: x & y,
        "==": lambda: int(x == y), "!=": lambda: int(x != y), "<": lambda: int(x < y),
        ">": lambda: int(x > y), "<=": lambda: int(x <= y), ">=": lambda: int(x >= y),
        "<<": lambda: x << y, ">>": lambda: x >> y, "+": lambda: x + y, "-": lambda: x - y,
        "*": lambda: x * y, "/": lambda: int(x / y), "%": lambda: x - y * int(x / y),
    }[op]()  # fmt: skip
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


def evaluate(
    tokens: Sequence[Token], names: Callable[[str], Value | None] | None = None
) -> Value:
    """Value of a fully macro-expanded constant expression, or :class:`Unresolved`.

    ``names`` gives the value of identifiers left after expansion (enum constants).
    """
    if not tokens:
        raise Unresolved("empty expression")
    return _Parser(tokens, names or (lambda name: None)).parse()


def split_top(tokens: Sequence[Token], sep: str = ",") -> list[list[Token]]:
    """Split at top-level separators (outside (), [] and {})."""
    parts: list[list[Token]] = [[]]
    depth = 0
    for t in tokens:
        if t.text in ("(", "[", "{"):
            depth += 1
        elif t.text in (")", "]", "}"):
            depth -= 1
        elif t.text == sep and depth == 0:
            parts.append([])
            continue
        parts[-1].append(t)
    return parts
