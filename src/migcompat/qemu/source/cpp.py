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

from migcompat.errors import MacroExpansionError

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


_LITERAL_OR_COMMENT_RE = re.compile(
    r"""(?P<lit>(?:u8|[uUL])?"(?:[^"\\\n]|\\.)*"|(?:[uUL])?'(?:[^'\\\n]|\\.)*')"""
    r"|(?P<comment>/\*.*?\*/|//[^\n]*)",
    re.DOTALL,
)


def blank_comments(text: str) -> str:
    """``text`` with every comment replaced by spaces, its newlines kept (C translation
    phase 3), so that a fragment read line by line never sees half of a ``/* ... */``."""

    def blank(m: re.Match[str]) -> str:
        if m.lastgroup != "comment":
            return m.group()
        return re.sub(r"[^\n]", " ", m.group())

    return _LITERAL_OR_COMMENT_RE.sub(blank, text)


_DIRECTIVE_SCAN_RE = re.compile(
    r"""(?P<lit>(?:u8|[uUL])?"(?:[^"\\\n]|\\.)*"|(?:[uUL])?'(?:[^'\\\n]|\\.)*')"""
    r"|(?P<comment>/\*.*?\*/|//[^\n]*)"
    r"|(?P<splice>\\\n)"
    r"|(?P<nl>\n)"
    r"|(?P<hash>\#)"
    r"|(?P<space>[ \t\r\f\v]+)"
    r"|(?P<other>[^\"'/\\\n\# \t\r\f\v]+|.)",
    re.DOTALL,
)


def splice_directive_comments(text: str) -> str:
    """``text`` with every comment inside a preprocessing directive blanked, the line
    breaks of a multi-line one turned into line splices (backslash-newline).

    C removes comments (translation phase 3) before it ends directives at line breaks
    (phase 4), so a ``/* ... */`` that spans lines inside a ``#define`` body belongs to
    the directive, and the body goes on after it. tree-sitter's C grammar instead ends the
    macro value at a comment, and at the comment's first line break ends the directive:
    the rest of the body is lost (QEMU's ``DEFINE_SDHCI_COMMON_PROPERTIES``). Line
    numbers are kept; text outside directives is unchanged.
    """
    if "#" not in text or ("/*" not in text and "//" not in text):
        return text
    out: list[str] = []
    line_start = True  # only whitespace (or comments) so far on this logical line
    directive = False
    for m in _DIRECTIVE_SCAN_RE.finditer(text):
        kind = m.lastgroup
        value = m.group()
        if kind == "nl":
            line_start, directive = True, False
        elif kind == "hash":
            if line_start:
                directive = True
            line_start = False
        elif kind == "comment":
            if directive:
                value = "\\\n".join(" " * len(part) for part in value.split("\n"))
        elif kind in ("lit", "other"):
            line_start = False
        out.append(value)
    return "".join(out)


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
    return Macro(
        name, plist, tuple(tokenize(body.replace("\\\n", " "), line)), variadic, file, line
    )


MacroLookup = Callable[[str], "Macro | None"]


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
                    raise MacroExpansionError("unbalanced brackets in macro arguments")
                return args, i
            depth -= 1
        elif t.text == "," and depth == 0:
            args.append([])
            continue
        args[-1].append(t)
    raise MacroExpansionError("unterminated macro invocation")


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
                raise MacroExpansionError("macro expansion does not terminate")
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
            rest = args[len(named) :]
            va: list[Token] = []
            for i, a in enumerate(rest):
                if i:
                    va.append(Token("punct", ",", a[0].line if a else 0))
                va.extend(a)
            bound[macro.variadic] = va
            bound["\0va-present"] = (
                [Token("num", "1")] if rest and (len(rest) > 1 or rest[0]) else []
            )
        elif len(args) > len(named) and named:
            raise MacroExpansionError(f"too many arguments to {macro.name}")
        return bound

    def _subst(
        self, macro: Macro, bound: dict[str, list[Token]], hide: frozenset[str], line: int
    ) -> list[Token]:
        body = list(macro.body)
        result: list[Token] = []
        i = 0
        while i < len(body):
            t = body[i]
            if (
                t.text == "#"
                and macro.params is not None
                and i + 1 < len(body)
                and body[i + 1].text in bound
            ):
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
                right = bound.get(nxt.text, [nxt])
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
