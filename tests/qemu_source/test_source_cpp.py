"""The small preprocessor: tokens, macro expansion, #if selection, constant values."""

from __future__ import annotations

import pytest

from migcompat.qemu.source import cexpr, cond, cpp, tree


def expand(text: str, **macros: tuple[tuple[str, ...] | None, str]) -> str:
    table = {name: cpp.make_macro(name, p, body) for name, (p, body) in macros.items()}
    return cpp.join(cpp.Expander(table.get).expand(cpp.tokenize(text)))


def value(text: str, names: dict[str, int] | None = None) -> cexpr.Value:
    return cexpr.evaluate(cpp.tokenize(text), (names or {}).get)


def test_tokenize_drops_comments_and_counts_lines() -> None:
    tokens = cpp.tokenize('a /* x\n y */ "s\\"q" // c\n 0x1fULL', line=10)
    assert [(t.kind, t.text, t.line) for t in tokens] == [
        ("id", "a", 10), ("str", '"s\\"q"', 11), ("num", "0x1fULL", 12),
    ]  # fmt: skip


def test_object_and_function_macros_with_stringify_and_paste() -> None:
    assert expand("T", T=(None, '"x86_64-cpu"')) == '"x86_64-cpu"'
    assert expand("S(FOO)", S=(("s",), "T(s)"), T=(("s",), "#s"), FOO=(None, "0x0500")) == (
        '"0x0500"'
    )
    assert expand("P(a, b)", P=(("x", "y"), "x ## _ ## y")) == "a_b"


def test_variadic_macros_and_gnu_comma() -> None:
    m = {"F": (("a", "..."), "g(a, ## __VA_ARGS__)")}
    assert expand("F(1)", **m) == "g(1)"
    assert expand("F(1, 2, 3)", **m) == "g(1, 2, 3)"
    named = {"N": (("fmt", "args..."), "h(fmt, args)")}
    assert expand("N(1, 2, 3)", **named) == "h(1, 2, 3)"


def test_recursive_macro_is_not_expanded_forever() -> None:
    assert expand("A", A=(None, "A + 1")) == "A + 1"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("(uint32_t)-1", 4294967295),
        ("(uint16_t)65535", 65535),
        ("(int32_t)0xFFFFFFFF", -1),
        ("256 * (1LL << 10)", 262144),
        ("1 << 20", 1048576),
        ("(bool)2", True),
        ('"EPYC" "-" "x86_64-cpu"', "EPYC-x86_64-cpu"),
        ("3 > 2 ? 10 : 20", 10),
        ("0x10 | 010", 24),
        ("'a'", 97),
        ("-7 / 2", -3),
    ],
)
def test_constant_expressions(text: str, expected: cexpr.Value) -> None:
    assert value(text) == expected


def test_enum_constants_and_enum_casts() -> None:
    assert value("(OnOffAuto)ON_OFF_AUTO_AUTO", {"ON_OFF_AUTO_AUTO": 0}) == 0


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("FOO_BAR", "FOO_BAR is not a compile-time constant"),
        ("sizeof(int)", "sizeof"),
        ("runtime(1)", "calls runtime()"),
        ("1 / 0", "division by zero"),
    ],
)
def test_unresolvable_values_say_why(text: str, reason: str) -> None:
    with pytest.raises(cexpr.Unresolved, match=reason.replace("(", r"\(").replace(")", r"\)")):
        value(text)


def test_builtin_choose_expr_as_in_min_const() -> None:
    text = (
        "__builtin_choose_expr(__builtin_constant_p(5) && __builtin_constant_p(3),"
        " 5 < 3 ? 5 : 3, ((void)0))"
    )
    assert value(text) == 3


def test_preselect_blanks_inactive_lines_and_keeps_numbering() -> None:
    text = (
        "a\n#ifdef __linux__\nb\n#else\nc\n#endif\n"
        "#if defined(_WIN32) || 0\nd\n#elif 1\ne\n#endif\n#define X \\\n 1"
    )
    out = cond.preselect(text, cond.X86_64_LINUX).split("\n")
    assert len(out) == len(text.split("\n"))
    assert [line for line in out if line] == ["a", "b", "e", "#define X \\", " 1"]


def test_build_config_policy() -> None:
    config = cond.X86_64_LINUX
    assert config.is_defined("TARGET_X86_64")
    assert not config.is_defined("CONFIG_USER_ONLY")
    assert not config.is_defined("CONFIG_MICROVM_DEFAULT")
    assert config.is_defined("CONFIG_SOME_DEVICE")  # Debian enables nearly everything
    assert not config.is_defined("DEBUG_SOMETHING")


def test_multi_line_comment_inside_a_macro_body_keeps_the_rest_of_the_body() -> None:
    # C drops comments before it ends a directive at a line break, so the body goes on
    # after a comment that spans lines (QEMU's DEFINE_SDHCI_COMMON_PROPERTIES).
    text = (
        "#define PROPS(s) \\\n"
        "    P(\"a\", s, 1), \\\n"
        "    /* spans\n"
        "     * two lines */ \\\n"
        "    P(\"b\", s, 2), /* one line */ \\\n"
        "    P(\"c\", s, 3)\n"
        "int x; /* a comment\n outside a directive stays */\n"
        "#define AFTER 4\n"
    )
    spliced = cpp.splice_directive_comments(text)
    assert spliced.count("\n") == text.count("\n")
    assert "/* a comment\n outside a directive stays */" in spliced
    f = tree.SourceFile("x.h", text.encode(), cond.X86_64_LINUX)
    macros = {m.name: m for m in tree.collect_defines(f.root, "x.h", cond.X86_64_LINUX)}
    assert set(macros) == {"PROPS", "AFTER"}
    assert cpp.join(macros["PROPS"].body) == 'P("a", s, 1), P("b", s, 2), P("c", s, 3)'
    assert macros["AFTER"].line == 9
    assert cpp.join(macros["AFTER"].body) == "4"


def test_splice_leaves_comment_markers_in_strings_and_non_directive_hashes() -> None:
    text = 'const char *s = "/* not\\n a comment */"; x = a # b; /*\n*/\n'
    assert cpp.splice_directive_comments(text) == text
