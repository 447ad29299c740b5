"""Hand-written QEMU behaviour merged onto an imported release.

The source importer reads QEMU's property arrays, types and compat tables; some behaviour
lives in C code it cannot turn into data: realize-time resolution of "auto" defaults,
properties added in ``instance_init`` instead of a property array, per-version machine class
fields. ``overlay.toml`` (beside the bundled qemu catalog) writes that behaviour down, checked
against the real binary by ``migcompat.qemu.binary.crosscheck.check``.

An overlay is a *partial release* (the keys of docs/catalog-format.md "Release"):

    format = 1
    [types.virtio-blk-pci]                 # applies to every release that has the type
    realize = [...]
    [releases."7.2".types.scsi-hd]         # applies to release 7.2 only, after the above
    ...

Merge rules (``apply_overlay``): tables merge key by key, lists and values replace. An
overlay describes existing things: a type or machine the release does not have is skipped
(the overlay is shared by 5.2 ... 10.2, whose type sets differ); new properties and new keys
of an existing type are added. A realize rule whose property an object lacks does nothing
(the model skips it), so rules can be shared across releases too.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from migcompat.catalog.load import DATA_DIR, merge, read_data
from migcompat.errors import UsageError

OVERLAY_PATH = DATA_DIR / "qemu" / "overlay.toml"
OVERLAY_KEYS = ("format", "description", "releases")
# Top-level release keys an overlay may carry; tables of existing entries only.
_EXISTING_ONLY = ("types", "machines")


def load_overlay(path: Path | None = None) -> dict[str, Any]:
    """The overlay file as a dict (``format`` checked)."""
    data = read_data(path or OVERLAY_PATH)
    if data.get("format") != 1:
        raise UsageError(f"{path or OVERLAY_PATH}: unsupported overlay format "
                         f"{data.get('format')!r}; this migcompat reads format 1")
    return data


def overlay_for(overlay: dict[str, Any], release_id: str) -> list[dict[str, Any]]:
    """The partial releases to apply to ``release_id``, in order (common, then specific)."""
    common = {k: v for k, v in overlay.items() if k not in OVERLAY_KEYS}
    parts = [common]
    specific = overlay.get("releases", {}).get(release_id)
    if isinstance(specific, dict):
        parts.append(specific)
    return parts


def apply_overlay(release: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """Return a copy of ``release`` (a release dict) with ``overlay`` deep-merged onto it."""
    out = copy.deepcopy(release)
    for part in overlay_for(overlay, str(release.get("id", ""))):
        for key, value in part.items():
            if key in _EXISTING_ONLY and isinstance(value, dict):
                table = out.setdefault(key, {})
                for name, body in value.items():
                    if name in table and isinstance(body, dict):
                        table[name] = merge(table[name], body)
            elif isinstance(value, dict) and isinstance(out.get(key), dict):
                out[key] = merge(out[key], value)
            else:
                out[key] = copy.deepcopy(value)
    return out

