"""``releases`` and ``machines``: what a catalog holds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.table import Table

from migcompat.catalog.load import bundled_names, find_release, open_catalog, validate_catalog
from migcompat.cli.calendar_view import calendar_option, show_calendar
from migcompat.cli.html_out import html_output
from migcompat.cli.options import catalog_option, format_option, html_option
from migcompat.cli.output import emit_json, out
from migcompat.errors import UsageError
from migcompat.model.release import Release


def release_summary(catalog: str, rel: Release) -> dict[str, Any]:
    machines = rel.machines
    default = machines.default()
    return {
        "catalog": catalog,
        "id": rel.id,
        "product": rel.product,
        "version": rel.version,
        "debian_version": rel.debian_version or None,
        "description": rel.description,
        "machines": len(machines.machines),
        "default_machine": default.name if default else None,
        "types": len(rel.types),
        "device_state": _device_state(rel),
    }


def _device_state(rel: Release) -> str:
    """Where the release's device-state schemas come from, for check and validate --dest."""
    if rel.vmstate:
        return f"schemas ({len(rel.vmstate)})"
    if rel.has_capture:
        capture = rel.capture()
        count = len(capture.machine_names) if capture is not None else 0
        return f"captured ({count} machine types)"
    return "none"


@click.command(epilog="""\b
Examples:
  migcompat releases
  migcompat releases --catalog qemu --format json
  migcompat releases --catalog ./my-catalog.toml
""")
@catalog_option
@format_option
def releases(catalog: str | None, fmt: str) -> None:
    """List the releases of a catalog (all bundled catalogs by default).

    Loading a catalog validates every release in it; a bad file exits 2 and lists every
    problem with its file and path.
    """
    names = [catalog] if catalog else bundled_names()
    rows = []
    for name in names:
        cat = open_catalog(name)
        for rel in validate_catalog(cat):
            rows.append(release_summary(cat.name, rel))
    if fmt == "json":
        emit_json("releases", {"releases": rows})
        return
    table = Table("catalog", "release", "version", "debian package", "machines", "default",
                  "device state", "description", box=None, pad_edge=False)
    for r in rows:
        table.add_row(r["catalog"], r["id"], r["version"], r["debian_version"] or "-",
                      str(r["machines"]), r["default_machine"] or "-", r["device_state"],
                      r["description"])
    out().print(table)


@click.command(epilog="""\b
Examples:
  migcompat machines qemu-5.2
  migcompat machines 7.2 --catalog qemu --format json
  migcompat machines --calendar --catalog qemu
  migcompat machines --calendar 10.2 --catalog qemu --format json
  migcompat machines --calendar --catalog qemu --html /tmp/calendar.html
""")
@click.argument("release", required=False)
@calendar_option
@catalog_option
@format_option
@html_option
def machines(release: str | None, calendar: bool, catalog: str | None, fmt: str,
             html_path: Path | None) -> None:
    """List the machine types of RELEASE with alias, default, deprecation and compat tables.

    With --calendar, the life of each machine type instead: the QEMU version it came with,
    was deprecated in and is removed in, each either observed in a release of the catalog
    or predicted by QEMU's age policy (docs/calendar.md). RELEASE is then optional: without
    it, every machine type of the catalog (of every bundled catalog without --catalog).
    --html also draws it as a machine type x release matrix (docs/report.md).
    """
    if html_path is not None and not calendar:
        raise UsageError("--html draws the calendar: give --calendar too")
    if calendar:
        page_out = click.get_current_context().with_resource(html_output(html_path))
        show_calendar(release, catalog, fmt, page_out)
        return
    if release is None:
        raise UsageError("machines needs a RELEASE (or --calendar)")
    cat, rel = find_release(release, catalog)
    rows = []
    for name in rel.machines.names():
        m = rel.machines.machines[name]
        order = rel.machines.table_order(m)
        rows.append({
            "name": m.name, "family": m.family, "version": m.version, "alias": m.alias,
            "default": m.is_default, "deprecated": m.deprecated is not None,
            "deprecation_reason": m.deprecated, "own_tables": list(m.compat),
            "tables": order, "compat_entries": len(rel.machines.compat_list(m)),
            "file": m.file or None, "line": m.line or None,
        })
    if fmt == "json":
        emit_json("machines", {"catalog": cat.name, "release": rel.id, "machines": rows})
        return
    table = Table("machine", "alias", "default", "deprecated", "own tables", "entries",
                  box=None, pad_edge=False)
    for name in rel.machines.names():
        m = rel.machines.machines[name]
        table.add_row(m.name, m.alias or "", "yes" if m.is_default else "",
                      m.deprecated or "", ", ".join(m.compat) or "-",
                      str(len(rel.machines.compat_list(m))))
    out().print(table)


COMMANDS = [releases, machines]
