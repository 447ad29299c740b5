"""``diff``: two releases, every type and property under each machine type both know."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from migcompat.analysis.defaults import SMPS, Outcome
from migcompat.analysis.diff import CLASSES, PropertyDiff, ReleaseDiff, Row, compare
from migcompat.cli.html_out import HtmlOutput, html_output
from migcompat.cli.options import (
    catalog_option,
    format_option,
    html_option,
    show_all_choice,
    type_glob_option,
    vmstate_dump_options,
)
from migcompat.cli.output import emit_json, out
from migcompat.cli.release_args import (
    is_tree_argument,
    keyed_release_args,
    label,
    machine_glob_option,
    vmstate_pair,
)
from migcompat.model.props import format_value
from migcompat.model.release import Release
from migcompat.model.vm import Layer
from migcompat.vmstate.findings import VmstateFinding

DIFF_SCHEMA = 1
SHOWN = ("unpinned", "pinned", "new", "removed", "unknown")


def _outcome_json(o: Outcome | None) -> dict[str, Any] | None:
    if o is None:
        return None
    return {"value": o.pre, "realized": dict(zip((f"smp{n}" for n in SMPS), o.realized,
                                                   strict=True)),
            "provenance": [layer.to_json() for layer in o.provenance]}


def _row_json(row: Row) -> dict[str, Any]:
    return {"machines": list(row.machines), "same": row.same, "old": _outcome_json(row.old),
            "new": _outcome_json(row.new)}


def property_json(p: PropertyDiff) -> dict[str, Any]:
    return {"type": p.type, "object": p.object or None, "object_type": p.object_type,
            "property": p.property, "class": p.cls, "declared_by": p.declared_by,
            "rows": [_row_json(r) for r in p.rows]}


def _schema_json(f: VmstateFinding) -> dict[str, Any]:
    return {"kind": f.kind, "severity": f.severity, "section": f.section, "field": f.field,
            "old": _plain(f.old), "new": _plain(f.new), "message": f.message}


def _plain(value: object) -> object:
    return list(value) if isinstance(value, tuple) else value


def _layer(layer: Layer) -> str:
    where = layer.table or layer.source
    if layer.file and not layer.table:
        where += f" {layer.file}:{layer.line}" if layer.line else f" {layer.file}"
    return where


def _values(o: Outcome | None) -> str:
    if o is None:
        return "(absent)"
    shown = sorted({format_value(o.kind, v) or "-" for v in o.realized})
    text = "/".join(shown)
    if len(shown) > 1:
        text += f" ({', '.join(f'{n} vCPU' + ('s' if n > 1 else '') for n in SMPS)})"
    return f"{text} <- {_layer(o.provenance[-1])}"


def _print_property(p: PropertyDiff) -> None:
    console = out()
    name = f"{p.type}.{p.object}/{p.property}" if p.object else f"{p.type}.{p.property}"
    console.print(f"  {p.cls:<9} {name} (declared by {p.declared_by})", markup=False)
    if p.cls in ("new", "removed"):
        o = p.newest[1] if p.cls == "new" else p.newest[0]
        console.print(f"            {_values(o)}", markup=False)
        return
    for row in p.rows:
        if p.cls == "pinned" or not row.same:
            machines = ", ".join(row.machines) if len(row.machines) <= 3 else \
                f"{row.machines[0]} ... {row.machines[-1]} ({len(row.machines)})"
            console.print(f"            {machines}: {_values(row.old)}  ->  {_values(row.new)}",
                          markup=False)


@click.command("diff", epilog="""\b
Examples:
  migcompat diff --catalog qemu 7.2 10.0
  migcompat diff --catalog qemu 5.2 7.2 --type 'virtio-gpu*' --machine 'pc-q35-*'
  migcompat diff --catalog tutorial qemu-5.1 qemu-5.2 --all
  migcompat diff ~/src/qemu-7.2 ~/src/qemu --format json > diff.json
  migcompat diff 7.2 10.0 --old-vmstate 7.2.json --new-vmstate 10.0.json  # + device state
  migcompat diff --catalog qemu 7.2 10.0 --html /tmp/diff-7.2-10.0.html  # heat map, calendar
""")
@click.argument("old")
@click.argument("new")
@catalog_option
@machine_glob_option
@type_glob_option
@format_option
@vmstate_dump_options
@show_all_choice(help="List equal properties too (text), include them (JSON).")
@html_option
def diff_command(old: str, new: str, catalog: str | None, machine_glob: str, type_glob: str,
                 fmt: str, old_vmstate: str | None, new_vmstate: str | None,
                 show_all: bool, html_path: Path | None) -> None:
    """Compare two releases: the value every type's property gets under each machine type.

    OLD and NEW are release ids of a catalog, or paths to QEMU source trees. Each property
    of a type both have is unpinned (a machine type both know sees another value), pinned
    (the default changed and a compat entry keeps old machine types as they were), new,
    removed, equal, or unknown (the catalog could not compute a default). Values are those
    after realize, at 1 and 4 vCPUs. `migcompat lint` turns the unpinned ones into fixes.
    """
    page_out = click.get_current_context().with_resource(html_output(html_path))
    schema = vmstate_pair(old_vmstate, new_vmstate)
    (old_r, _), (new_r, _) = keyed_release_args([old, new], catalog)
    result = compare(old_r, new_r, machine=machine_glob, type_glob=type_glob)
    counts = result.counts()
    if page_out is not None:
        _write_report(page_out, result, label(old, old_r), label(new, new_r),
                      _catalog_releases(old, new, catalog, old_r, new_r), show_all)
    if fmt == "json":
        emit_json("diff", {
            "old": label(old, old_r), "new": label(new, new_r), "machines": result.machines,
            "counts": counts, "new_types": result.new_types,
            "removed_types": result.removed_types, "errors": result.errors,
            "not_built": result.not_built,
            "properties": [property_json(p) for p in result.properties
                           if show_all or p.cls != "equal"],
            "vmstate": [_schema_json(f) for f in schema if show_all or f.severity != "note"]},
            schema=DIFF_SCHEMA)
        return
    console = out()
    console.print(f"diff {label(old, old_r)} -> {label(new, new_r)}: "
                  f"{len(result.machines)} machine types both know", markup=False)
    console.print("  " + ", ".join(f"{counts[c]} {c}" for c in CLASSES), markup=False)
    if result.new_types or result.removed_types:
        console.print(f"  types: {len(result.new_types)} new, {len(result.removed_types)} "
                      "removed", markup=False)
    if result.not_built:
        console.print(f"  {len(result.not_built)} types left out: a side's real build does not "
                      "have them (the catalog's `built`)", markup=False)
    for cls in (*SHOWN, *(("equal",) if show_all else ())):
        chosen = [p for p in result.properties if p.cls == cls]
        if not chosen:
            continue
        console.print(f"\n{cls} ({len(chosen)}):", markup=False)
        for p in chosen:
            _print_property(p)
    if schema:
        shown = [f for f in schema if show_all or f.severity != "note"]
        console.print(f"\ndevice state ({len(schema)} schema differences, "
                      f"{len(schema) - len(shown)} notes not shown):", markup=False)
        for f in shown:
            where = f"{f.section}.{f.field}" if f.field else f.section
            console.print(f"  {f.severity:<7} {f.kind} {where}: {f.message}", markup=False)
    for name, why in sorted(result.errors.items()):
        console.print(f"\nnot evaluated: {name}: {why}", markup=False)


def _catalog_releases(old: str, new: str, catalog: str | None, old_r: Release,
                      new_r: Release) -> list[Release]:
    """The releases the report's calendar covers: the catalog the two come from, or just
    the two (a source tree, or releases of two catalogs)."""
    if is_tree_argument(old) or is_tree_argument(new):
        return [old_r, new_r]
    # imported here: only --html draws the whole catalog's calendar
    from migcompat.catalog.load import find_release, validate_catalog

    old_cat, new_cat = find_release(old, catalog)[0], find_release(new, catalog)[0]
    if old_cat.name != new_cat.name:
        return [old_r, new_r]
    return list(validate_catalog(old_cat))


def _write_report(page_out: HtmlOutput, result: ReleaseDiff, old_label: str, new_label: str,
                  releases: list[Release], show_all: bool) -> None:
    # imported here: only --html renders a page
    from migcompat.report.calendar_grid import calendar_section
    from migcompat.report.diffmap import diff_section
    from migcompat.report.page import page

    machines = {m for r in (result.old, result.new) for m in r.machines.machines}
    text = page(f"migcompat diff {old_label} -> {new_label}", [
        diff_section(result, old_label, new_label, include_equal=show_all),
        calendar_section(releases, machines=machines,
                         title=f"Machine types of {old_label} and {new_label} by release"),
    ], subtitle="Generated by migcompat; works offline (docs/report.md).")
    page_out.write(text)


COMMANDS = [diff_command]
