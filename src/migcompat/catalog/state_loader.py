"""The device-state parts of a release: ``vmstate`` schemas and ``board`` sections."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from migcompat.catalog.checker import Checker, did_you_mean, path_key
from migcompat.errors import CatalogError
from migcompat.model.release import BoardSection
from migcompat.vmstate.schema import VMStateDescription
from migcompat.vmstate.schema_dicts import vmsd_from_dict

BOARD_KEYS = ("sections",)
BOARD_SECTION_KEYS = ("vmsd", "per_cpu", "idstr")


def load_vmstate(data: dict[str, Any], chk: Checker, path: str) -> dict[str, VMStateDescription]:
    vpath = path_key(path, "vmstate")
    raw = chk.table(data.get("vmstate", {}), vpath) or {}
    out: dict[str, VMStateDescription] = {}
    for name, body in raw.items():
        p = path_key(vpath, name)
        if isinstance(body, dict):
            body = {"name": name, **body}
        try:
            vmsd = vmsd_from_dict(body, p, file=chk.file)
        except CatalogError as exc:
            # One stable catalog code for every schema problem; the detail is in the text.
            chk.problems.extend(replace(q, code="bad-vmstate") for q in exc.problems)
            continue
        if vmsd.name != name:
            chk.add(path_key(p, "name"), "bad-vmstate",
                    f"schema '{name}' is named '{vmsd.name}'", vmsd.name)
            continue
        out[name] = vmsd
    return out


def load_board(data: dict[str, Any], chk: Checker, path: str,
               vmstate: dict[str, VMStateDescription]) -> tuple[BoardSection, ...]:
    bpath = path_key(path, "board")
    raw = chk.table(data.get("board", {}), bpath) or {}
    chk.keys(raw, bpath, BOARD_KEYS)
    sections = []
    for i, body in enumerate(chk.typed(raw, "sections", bpath, (list,), [])):
        p = f"{path_key(bpath, 'sections')}[{i}]"
        body = chk.table(body, p)
        if body is None:
            continue
        chk.keys(body, p, BOARD_SECTION_KEYS, ("vmsd",))
        vmsd = chk.typed(body, "vmsd", p, (str,), "")
        if vmsd and vmsd not in vmstate:
            chk.add(path_key(p, "vmsd"), "bad-vmstate", f"unknown vmstate schema '{vmsd}'",
                    vmsd, did_you_mean(vmsd, vmstate))
            continue
        sections.append(BoardSection(vmsd, chk.typed(body, "per_cpu", p, (bool,), False),
                                     chk.typed(body, "idstr", p, (str,), vmsd)))
    return tuple(sections)
