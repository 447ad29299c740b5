"""``#if``/``#ifdef`` selection for the build we model: x86_64 system emulator on Linux."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from migcompat.qemu.source.cexpr import Unresolved, evaluate
from migcompat.qemu.source.cpp import Token, tokenize


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
        "TARGET_X86_64": "1",
        "TARGET_I386": "1",
        "TARGET_LONG_BITS": "64",
        "CONFIG_LINUX": "1",
        "CONFIG_POSIX": "1",
        "__linux__": "1",
        "__x86_64__": "1",
        "CONFIG_SOFTMMU": "1",
        "CONFIG_SYSTEM_ONLY": "1",
        "CONFIG_KVM": "1",
        "CONFIG_TCG": "1",
        "HOST_X86_64": "1",
        "__GNUC__": "12",
        "HOST_LONG_BITS": "64",
        "NEED_CPU_H": "1",
        "COMPILING_PER_TARGET": "1",
        "CONFIG_I386_DIS": "1",
        "HAVE_CHARDEV_SERIAL": "1",
        "HAVE_CHARDEV_PARPORT": "1",  # osdep.h, on Linux
        # libspice-server's version (spice-server 0.15.1, Debian 12's; Debian 11 has
        # 0.14.3, which every test of it in hw/ answers alike): qxl's max_outputs is
        # defined only above 0.12.6, so without it the catalog lacked a real property.
        "SPICE_SERVER_VERSION": "0x000f01",
    },
    undefined={
        "CONFIG_USER_ONLY",
        "CONFIG_MICROVM_DEFAULT",
        "_WIN32",
        "CONFIG_WIN32",
        "CONFIG_DARWIN",
        "CONFIG_BSD",
        "HOST_WORDS_BIGENDIAN",
        "HOST_BIG_ENDIAN",
        "CONFIG_XEN_IS_POSSIBLE",
        "CONFIG_XEN_EMU",
        "CONFIG_FUZZ",
        "CONFIG_SOLARIS",
        "CONFIG_FREEBSD",
        "CONFIG_OPENBSD",
        "CONFIG_NETBSD",
        "CONFIG_EMSCRIPTEN",
        "TARGET_AARCH64",
        "TARGET_ARM",
        "TARGET_PPC",
        "TARGET_PPC64",
        "TARGET_S390X",
        "TARGET_RISCV32",
        "TARGET_RISCV64",
        "TARGET_MIPS",
        "TARGET_SPARC",
        "COMPILING_SYSTEM_VS_USER",
        "CONFIG_DEBUG_TCG",
        "CONFIG_DEBUG_MUTEX",
        "CONFIG_DEBUG_STACK_USAGE",
        "__cplusplus",
    },
)


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
