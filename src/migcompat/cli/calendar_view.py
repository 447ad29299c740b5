"""``machines --calendar``: the removal calendar of a catalog, as a table or JSON."""

from __future__ import annotations

from typing import Any

import click
from rich.table import Table

from migcompat.catalog.load import bundled_names, find_release, open_catalog, validate_catalog
from migcompat.cli.output import emit_json, out
from migcompat.model.calendar import MachineLife, Milestone, calendar

calendar_option = click.option(
    "--calendar", "calendar", is_flag=True,
    help="When each machine type came, is deprecated and is removed: observed in the "
         "catalog or predicted by QEMU's policy (docs/calendar.md).")


def milestone_json(step: Milestone | None) -> dict[str, Any] | None:
    if step is None:
        return None
    return {"version": step.version, "how": step.how, "release": step.release,
            "exact": step.exact}


def life_json(catalog: str, life: MachineLife) -> dict[str, Any]:
    return {
        "catalog": catalog, "name": life.name, "family": life.family,
        "version": life.version, "introduced": life.introduced,
        "first_seen": life.first_seen, "last_seen": life.last_seen,
        "deprecated": milestone_json(life.deprecated), "removed": milestone_json(life.removed),
        "deprecation_reason": life.deprecation_reason, "note": life.note or None,
    }


def milestone_text(step: Milestone | None) -> str:
    if step is None:
        return "-"
    if step.how == "predicted":
        return f"{step.version} (predicted)"
    if step.how == "documented":
        return f"{step.version} (QEMU docs)"
    return f"{step.version} (seen {step.release})" if step.exact else \
        f"by {step.version} (seen {step.release})"


def show_calendar(release: str | None, catalog: str | None, fmt: str) -> None:
    """The calendar of RELEASE's machine types, or of every machine type of the catalogs."""
    rows: list[tuple[str, MachineLife]] = []
    if release is not None:
        cat, rel = find_release(release, catalog)
        rows = [(cat.name, life) for life in calendar(validate_catalog(cat))
                if life.name in rel.machines.machines]
    else:
        for name in [catalog] if catalog else bundled_names():
            cat = open_catalog(name)
            rows += [(cat.name, life) for life in calendar(validate_catalog(cat))]
    if fmt == "json":
        payload: dict[str, Any] = {"release": release,
                                   "machines": [life_json(c, life) for c, life in rows]}
        emit_json("machines-calendar", payload)
        return
    table = Table("catalog", "machine", "introduced", "in catalog", "deprecated", "removed",
                  "note", box=None, pad_edge=False)
    for cat_name, life in rows:
        seen = life.first_seen if life.first_seen == life.last_seen else \
            f"{life.first_seen} .. {life.last_seen}"
        table.add_row(cat_name, life.name, life.introduced or "-", seen,
                      milestone_text(life.deprecated), milestone_text(life.removed),
                      life.note)
    out().print(table)
