"""The registry of reason codes (analysis/reasons.py): a Reason is checked against it, every
code raised in the source is in it and nothing in it is dead, and docs/check.md lists it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from migcompat.analysis.check import CheckResult, check
from migcompat.analysis.reasons import CATEGORIES, REASON_CODES, Reason, ReasonCode
from migcompat.catalog.load import open_catalog
from migcompat.errors import SchemaError
from migcompat.model.devspec import parse_device
from migcompat.model.vm import VMConfig

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "migcompat"
CHECK_MD = ROOT / "docs" / "check.md"


def test_a_reason_takes_its_codes_default_category() -> None:
    assert Reason("layout-differs", "m").category == "breaking"
    assert Reason("layout-differs", "m").breaking
    assert Reason("device-extra", "m").category == "note"
    assert not Reason("device-extra", "m").breaking
    assert Reason("property-one-side", "m").category == "note"


def test_an_unknown_code_or_a_category_the_code_may_not_take_is_refused() -> None:
    with pytest.raises(SchemaError, match="unknown reason code 'layout-differ'"):
        Reason("layout-differ", "m")
    with pytest.raises(SchemaError, match="'layout-differs' may not be 'note'"):
        Reason("layout-differs", "m", category="note")
    with pytest.raises(SchemaError, match="'device-extra' may not be 'breaking'"):
        Reason("device-extra", "m", category="breaking")


def test_property_codes_may_take_every_category() -> None:
    for code in ("property-differs", "property-one-side"):
        assert REASON_CODES[code].categories == CATEGORIES
        visible = Reason(code, "m", property="p", category="guest-visible")
        assert not visible.breaking
        assert visible.to_json()["category"] == "guest-visible"
    # compatible still means "no breaking reason": a guest-visible one does not break
    cat = open_catalog("tutorial")
    dummy = VMConfig(cat.release("qemu-5.1"), "pc-5.1", [])
    shown = Reason("property-differs", "m", category="guest-visible")
    assert CheckResult(dummy, dummy, [shown]).compatible
    assert not CheckResult(dummy, dummy, [shown, Reason("property-differs", "m")]).compatible


def test_a_registry_entry_must_hold_its_own_default() -> None:
    with pytest.raises(SchemaError, match="default 'note' is not one of"):
        ReasonCode("x", "y", ("breaking",), "note")
    with pytest.raises(SchemaError, match="non-empty subset"):
        ReasonCode("x", "y", (), "note")


def test_reasons_are_frozen() -> None:
    r = Reason("layout-differs", "m")
    with pytest.raises(AttributeError):
        r.category = "note"  # type: ignore[misc]


# -- every raised code is registered, and every registered code is raised --------------

def _constructs_reason(tree: ast.Module) -> bool:
    """Does the module import Reason from the analysis package (or define it)? Other
    modules may use the name for something else (qemu/source/cinit.py does)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                "migcompat.analysis") and any(a.name == "Reason" for a in node.names):
            return True
        if isinstance(node, ast.ClassDef) and node.name == "Reason":
            return True
    return False


def raised_codes() -> dict[str, list[str]]:
    """code -> where ``Reason(...)`` is called with it, for every such call in src/."""
    found: dict[str, list[str]] = {}
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        if not _constructs_reason(tree):
            continue
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id == "Reason"):
                continue
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            first = node.args[0] if node.args else next(
                (k.value for k in node.keywords if k.arg == "code"), None)
            # a computed code would hide from this scan: every raise site names its code
            assert isinstance(first, ast.Constant) and isinstance(first.value, str), \
                f"{where}: Reason() without a literal code"
            found.setdefault(first.value, []).append(where)
    return found


def test_every_raised_code_is_registered_and_none_is_dead() -> None:
    raised = raised_codes()
    unregistered = {code: at for code, at in raised.items() if code not in REASON_CODES}
    assert unregistered == {}
    dead = sorted(set(REASON_CODES) - set(raised))
    assert dead == []


# -- docs/check.md lists the registry ---------------------------------------------------

def docs_table() -> list[tuple[str, str, tuple[str, ...], str]]:
    text = CHECK_MD.read_text()
    section = text.split("\n## Every reason code\n", 1)[1].split("\n## ", 1)[0]
    header = "| code | description | categories | default |"
    assert header in section
    rows = []
    for line in section.split(header, 1)[1].splitlines()[2:]:
        if not line.startswith("|"):
            break
        code, description, categories, default = (
            c.strip() for c in line.strip().strip("|").split(" | "))
        rows.append((code.strip("`"), description,
                     tuple(re.findall(r"`([^`]+)`", categories)), default.strip("`")))
    return rows


def test_docs_check_md_lists_the_registry_exactly() -> None:
    registry = [(e.code, e.description, e.categories, e.default)
                for e in REASON_CODES.values()]
    assert docs_table() == registry


# -- behaviour: the JSON of a real check -----------------------------------------------

def test_forgotten_compat_entry_reasons_carry_a_category_that_agrees_with_breaking() -> None:
    cat = open_catalog("tutorial")
    dev = [parse_device("virtio-blk-pci")]
    res = check(VMConfig(cat.release("qemu-5.1"), "pc-5.1", dev, smp=4),
                VMConfig(cat.release("qemu-5.2-broken"), "pc-5.1", dev, smp=4))
    assert not res.compatible
    docs = [r.to_json() for r in res.reasons]
    assert {(d["code"], d["category"]) for d in docs} == {
        ("property-differs", "breaking"), ("layout-differs", "breaking"),
        ("property-one-side", "note")}
    for d in docs:
        assert d["breaking"] is (d["category"] == "breaking"), d
        assert d["category"] in REASON_CODES[d["code"]].categories
