"""The hold-out test of `lint` on real QEMU trees (docs/lint.md, "Hold-out").

Take a newer pinned tree, empty the compat tables QEMU filled after the older release
(hw_compat_X_Y and pc_compat_X_Y for X.Y from the older release up to the one before the
newer), and lint the older tree against it. Every removed entry that pins a property the
older release already had must come back as a finding with the same driver, property and
value; entries that pin new properties are scored apart (precision and recall); every other
finding is listed for a judgement.

    python tools/lint_holdout.py 7.2 10.0     # and: 5.2 7.2

Prints a Markdown report. The trees come from `migcompat sources` (pinned, cached).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from migcompat.analysis.diff import compare  # noqa: E402
from migcompat.analysis.lint import Finding, lint  # noqa: E402
from migcompat.errors import PropertyValueError  # noqa: E402
from migcompat.model.globals import GlobalProperty  # noqa: E402
from migcompat.model.machines import version_key  # noqa: E402
from migcompat.model.release import Release  # noqa: E402
from migcompat.qemu.source.cached import tree_release  # noqa: E402

TABLE_FILES = ("hw/core/machine.c", "hw/i386/pc.c")


def held_out_tables(release: Release, old_version: str) -> list[str]:
    """The hw_/pc_compat tables of ``release`` for versions from ``old_version`` up."""
    floor = version_key(old_version)
    names = []
    for name in release.machines.tables:
        found = re.fullmatch(r"(hw|pc)_compat_(\d+)_(\d+)", name)
        if found and version_key(f"{found[2]}.{found[3]}") >= floor:
            names.append(name)
    return sorted(names)


def empty_tables(tree: Path, tables: list[str]) -> None:
    """Empty each table's array in place (the copy's files are rewritten, not edited
    through their hard links)."""
    for rel in TABLE_FILES:
        path = tree / rel
        text = path.read_text(encoding="utf-8")
        for table in tables:
            text = re.sub(rf"(GlobalProperty\s+{table}\[\]\s*=\s*\{{)[^;]*?(\}};)", r"\1\2",
                          text, flags=re.DOTALL)
        path.unlink()
        path.write_text(text, encoding="utf-8")


@dataclass
class Report:
    existing: list[tuple[GlobalProperty, Finding | None]] = field(default_factory=list)
    new_props: list[tuple[GlobalProperty, Finding | None]] = field(default_factory=list)
    other_target: list[GlobalProperty] = field(default_factory=list)
    unmatched: list[Finding] = field(default_factory=list)
    new_property_findings: int = 0  # new-property findings that propose an entry


def _same_value(release: Release, entry: GlobalProperty, value: str | None) -> bool:
    if value is None:
        return False
    prop = release.types.properties(entry.driver).get(entry.property)
    if prop is None:
        return entry.value == value
    try:
        return prop.parse(entry.value) == prop.parse(value)
    except PropertyValueError:
        return entry.value == value


def _match(release: Release, entry: GlobalProperty, findings: list[Finding]) -> Finding | None:
    for f in findings:
        for e in f.entries or ([f.entry] if f.entry else []):
            if e is not None and (e.driver, e.property) == (entry.driver, entry.property) \
                    and _same_value(release, entry, e.value):
                return f
    return None


def score(old: Release, new: Release, removed: list[GlobalProperty],
          findings: list[Finding]) -> Report:
    report = Report()
    matched: set[int] = set()
    for entry in removed:
        if entry.driver not in new.types:
            report.other_target.append(entry)
            continue
        hit = _match(new, entry, findings)
        if hit is not None:
            matched.add(id(hit))
        existing = entry.driver in old.types and \
            entry.property in old.types.properties(entry.driver)
        (report.existing if existing else report.new_props).append((entry, hit))
    report.unmatched = [f for f in findings if id(f) not in matched and f.severity != "note"]
    report.new_property_findings = sum(1 for f in findings
                                       if f.kind == "new-property" and f.fix)
    return report


def holdout(old_tree: Path, new_tree: Path, old_version: str) -> tuple[Report, list[str]]:
    """Lint ``old_tree`` against ``new_tree`` with the tables from ``old_version`` emptied."""
    new_full, _ = tree_release(new_tree)
    tables = held_out_tables(new_full, old_version)
    removed = [e for t in tables for e in new_full.machines.tables[t].entries]
    with tempfile.TemporaryDirectory(prefix="migcompat-holdout-") as scratch:
        copy = Path(scratch) / "tree"
        subprocess.run(["cp", "-al", str(new_tree), str(copy)], check=True)
        empty_tables(copy, tables)
        old, _ = tree_release(old_tree)
        held, _ = tree_release(copy)
    findings = lint(compare(old, held))
    return score(old, held, removed, findings), tables


def _entry(e: GlobalProperty) -> str:
    return f'`{{ "{e.driver}", "{e.property}", "{e.value}" }}` ({e.table})'


def markdown(report: Report, tables: list[str]) -> str:
    lines = [f"Tables emptied: {', '.join(tables)}.", ""]
    found = sum(1 for _, f in report.existing if f)
    lines.append(f"**Existing properties: {found} of {len(report.existing)} recalled.**")
    lines += ["", "| removed entry | finding |", "|---|---|"]
    lines += [f"| {_entry(e)} | {(f.fix + ' in ' + f.table) if f else 'MISSED'} |"
              for e, f in report.existing]
    hit = sum(1 for _, f in report.new_props if f)
    precision = hit / report.new_property_findings if report.new_property_findings else 0.0
    lines += ["", f"**New properties: recall {hit} of {len(report.new_props)}; of "
              f"{report.new_property_findings} new-property findings that propose an entry, "
              f"{hit} match a removed one (precision {precision:.0%}).**", "",
              "| removed entry | finding |", "|---|---|"]
    lines += [f"| {_entry(e)} | {(f.fix + ' in ' + f.table) if f else '-'} |"
              for e, f in report.new_props]
    lines += ["", f"Other targets' entries (the type is not in the x86_64 catalog): "
              f"{', '.join(_entry(e) for e in report.other_target) or 'none'}.", "",
              "Other findings (warning or error):", "", "| finding | table |", "|---|---|"]
    lines += [f"| {f.kind} {f.driver}.{f.property} {f.old_value} -> {f.new_value} | "
              f"{f.table} |" for f in report.unmatched]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("old", help="older pinned release (5.2, 7.2)")
    ap.add_argument("new", help="newer pinned release (7.2, 10.0)")
    args = ap.parse_args()
    from migcompat.qemu.debian.lock import load_pins
    from migcompat.qemu.debian.sources import fetch

    pins = load_pins()
    old_tree, new_tree = (fetch(pins[r], quiet=True) for r in (args.old, args.new))
    report, tables = holdout(old_tree, new_tree, args.old)
    sys.stdout.write(markdown(report, tables))


if __name__ == "__main__":
    main()
