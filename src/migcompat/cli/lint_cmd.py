"""``lint``: the compat entries a release forgot, written as QEMU writes them (docs/lint.md)."""

from __future__ import annotations

import contextlib
import functools
import hashlib
from pathlib import Path
from typing import Any

import click

from migcompat.analysis.diff import compare
from migcompat.analysis.lint import (
    SEVERITIES,
    Finding,
    fix_entries,
    lint,
    severity_at_least,
    vmstate_findings,
)
from migcompat.catalog.cache import cache_root, enabled, load_kept, store, trusted
from migcompat.cli.options import (
    catalog_option,
    format_choice,
    severity_fail_on_option,
    show_all_choice,
    type_glob_option,
    vmstate_dump_options,
)
from migcompat.cli.output import emit_json, json_text, out
from migcompat.cli.release_args import (
    is_tree_argument,
    keyed_release_args,
    label,
    machine_glob_option,
    vmstate_pair,
)
from migcompat.errors import EXIT_INCOMPATIBLE, UsageError
from migcompat.model.globals import entry_text
from migcompat.model.release import Release

LINT_SCHEMA = 1


def finding_json(f: Finding) -> dict[str, Any]:
    return {"kind": f.kind, "severity": f.severity, "driver": f.driver,
            "property": f.property, "old_value": f.old_value, "new_value": f.new_value,
            "table": f.table or None, "fix": f.fix or None, "verified": f.verified,
            "entries": [{"table": e.table, "fix": entry_text(e)} for e in f.entries],
            "machines": f.machines, "types": f.types, "derived": f.derived,
            "location": {"file": f.file, "line": f.line} if f.file else None,
            "message": f.message}


def _text(findings: list[Finding], old: str, new: str, shown: list[Finding]) -> None:
    console = out()
    counts = {s: sum(1 for f in findings if f.severity == s) for s in ("error", "warning", "note")}
    console.print(f"lint {old} -> {new}: {counts['error']} error(s), {counts['warning']} "
                  f"warning(s), {counts['note']} note(s)", markup=False)
    for f in shown:
        where = f" ({f.file}:{f.line})" if f.file else ""
        console.print(f"\n{f.severity}: {f.kind} {f.driver}.{f.property}{where}", markup=False)
        console.print(f"  {f.message}", markup=False)
        if f.machines and f.kind in ("changed-default", "new-property"):
            console.print(f"  machine types: {_span(f.machines)}", markup=False)
        if f.types and f.types != [f.driver]:
            more = f" (+{len(f.types) - 6} more)" if len(f.types) > 6 else ""
            console.print(f"  seen on: {', '.join(f.types[:6])}{more}", markup=False)
        for d in f.derived:
            console.print(f"  also restores {d['driver']}.{d['property']} (realize: "
                          f"{d['via']})", markup=False)
        entries = f.entries or ([f.entry] if f.entry else [])
        for e in entries:
            console.print(f"  fix, in {e.table}: {entry_text(e)}", markup=False)
        if entries and f.kind == "new-property":
            console.print("  (inferred from the default, not verified: review it)", markup=False)
        elif entries and not f.verified:
            console.print("  (not verified: applied to the new release, it does not give "
                          "every machine type its old value back; review by hand)", markup=False)


def _span(machines: list[str]) -> str:
    """pc-i440fx-2.4 ... pc-i440fx-7.2 (24), pc-q35-... : one run per family."""
    families: dict[str, list[str]] = {}
    for m in machines:
        families.setdefault(m.rsplit("-", 1)[0], []).append(m)
    parts = []
    for names in families.values():
        parts.append(names[0] if len(names) == 1 else f"{names[0]} ... {names[-1]} "
                                                      f"({len(names)})")
    return ", ".join(parts)


@click.command("lint", epilog="""\b
Examples:
  migcompat lint --catalog tutorial qemu-5.1 qemu-5.2-broken
  migcompat lint --catalog qemu 7.2 10.0
  migcompat lint ~/src/qemu-7.2 ~/src/qemu             # two source trees
  migcompat lint ~/src/qemu --patch my-change.patch    # the tree before and after a patch
  migcompat lint 7.2 ~/src/qemu --format sarif > lint.sarif
  migcompat lint --catalog qemu 7.2 10.0 --fail-on error --format json
  migcompat lint 7.2 10.0 --old-vmstate 7.2.json --new-vmstate 10.0.json  # + device state
""")
@click.argument("old")
@click.argument("new", required=False)
@catalog_option
@machine_glob_option
@type_glob_option
@click.option("--patch", "patch", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="Lint OLD (a tree) against OLD with this patch applied "
              "(patch -p1): for a change not yet in a second tree.")
@click.option("--patch-out", "patch_out", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Write the fix as a unified diff against NEW's tree "
              "(hw/core/machine.c, hw/i386/pc.c, ...), for patch -p1.")
@format_choice(type=click.Choice(["text", "json", "sarif"]),
               help="Output: text, JSON (docs/json.md) or SARIF 2.1.0 (code scanning).")
@severity_fail_on_option
@vmstate_dump_options
@show_all_choice(help="Text: list notes too (new and removed properties on types that "
                 "migrate no state).")
def lint_command(old: str, new: str | None, catalog: str | None, machine_glob: str,
                 type_glob: str, patch: Path | None, patch_out: Path | None, fmt: str,
                 fail_on: str, old_vmstate: str | None, new_vmstate: str | None,
                 show_all: bool) -> int:
    """Find every change that breaks a machine type OLD knows, and the compat entry that fixes it.

    The rule is the migration document's: every machine type OLD knows must give each
    device, in NEW, the value it gave in OLD. OLD and NEW are release ids of a catalog, or
    paths to QEMU source trees (imported once per content). Each finding names the driver,
    the property, the old and new values, the machine types affected, the table the entry
    belongs in and the entry itself, verified by applying it to NEW. Exit 0 when clean, 1
    on findings at or above --fail-on, 2 on bad input.
    """
    schema_findings = vmstate_findings(vmstate_pair(old_vmstate, new_vmstate))
    if new is None and patch is None:
        raise UsageError("lint needs OLD and NEW, or a TREE and --patch FILE")
    if new is not None and patch is not None:
        raise UsageError("--patch lints one tree against itself patched: give one TREE")
    if patch is not None:
        # imported here: only --patch runs `patch` on a copy of the tree
        from migcompat.qemu.source.patching import patched_tree

        with patched_tree(Path(old), patch) as copy:
            old_r, new_r, findings = _lint(old, str(copy), catalog, machine_glob, type_glob)
            findings += schema_findings
            new_label = f"{old} + {patch.name}"
            tree = copy if patch_out is not None else None
            code = _report(findings, label(old, old_r), new_label, fmt, fail_on, show_all)
            if patch_out is not None and tree is not None:
                _write_patch(findings, tree, patch_out)
            return code
    assert new is not None
    old_r, new_r, findings = _lint(old, new, catalog, machine_glob, type_glob)
    findings += schema_findings
    code = _report(findings, label(old, old_r), label(new, new_r), fmt, fail_on, show_all)
    if patch_out is not None:
        _write_patch(findings, _tree_of(new, new_r), patch_out)
    return code


def _lint(old: str, new: str, catalog: str | None, machine_glob: str,
          type_glob: str) -> tuple[Release, Release, list[Finding]]:
    """The two releases and their findings, the findings from the cache when both releases
    and the code are as they were (evaluating two real releases takes seconds)."""
    (old_r, old_key), (new_r, new_key) = keyed_release_args([old, new], catalog)
    entry = None
    if old_key and new_key and enabled():
        h = hashlib.sha256(_code())
        for part in (old_key, new_key, machine_glob, type_glob):
            h.update(part.encode() + b"\0")
        entry = cache_root("lint") / f"{h.hexdigest()}.pickle"
        with contextlib.suppress(Exception):  # missing or broken: compute
            if trusted(entry):
                with entry.open("rb") as f:
                    found: list[Finding] = load_kept(f)
                return old_r, new_r, found
    findings = lint(compare(old_r, new_r, machine=machine_glob, type_glob=type_glob))
    if entry is not None:
        store(entry, findings)
    return old_r, new_r, findings


@functools.cache
def _code() -> bytes:
    """What a cached result depends on besides the releases: the analysis code."""
    h = hashlib.sha256()
    for py in sorted((Path(__file__).parents[1] / "analysis").glob("*.py")):
        st = py.stat()
        h.update(f"{py.name}:{st.st_size}:{st.st_mtime_ns};".encode())
    return h.digest()


def _report(findings: list[Finding], old: str, new: str, fmt: str, fail_on: str,
            show_all: bool) -> int:
    findings = sorted(findings, key=lambda f: SEVERITIES.index(f.severity))
    failing = any(severity_at_least(f.severity, fail_on) for f in findings)
    if fmt == "json":
        emit_json("lint", {"old": old, "new": new, "fail_on": fail_on,
                           "findings": [finding_json(f) for f in findings]}, schema=LINT_SCHEMA)
    elif fmt == "sarif":
        # imported here: only SARIF output needs the rule table
        from migcompat.cli.sarif import sarif_log

        click.echo(json_text(sarif_log(findings, old, new)), nl=False)
    else:
        shown = findings if show_all else [f for f in findings if f.severity != "note"]
        _text(findings, old, new, shown)
        hidden = len(findings) - len(shown)
        if hidden:
            out().print(f"\n({hidden} note(s) not shown: --all lists them)", markup=False)
    return EXIT_INCOMPATIBLE if failing else 0


def _tree_of(text: str, release: Any) -> Path:
    if is_tree_argument(text):
        return Path(text)
    raise UsageError(f"--patch-out needs NEW as a source tree (a path), not the release "
                     f"id '{release.id}'")


def _write_patch(findings: list[Finding], tree: Path, target: Path) -> None:
    # imported here: only --patch-out edits C sources
    from migcompat.qemu.source.patch_out import fix_patch

    text = fix_patch(fix_entries(findings), tree)
    target.write_text(text, encoding="utf-8")


COMMANDS = [lint_command]
