"""Section rules of `check`, each shown to agree with an actual migration between releases
whose schemas were changed in one way."""

from __future__ import annotations

import copy
import json
import tomllib
from pathlib import Path
from typing import Any

import pytest

from migcompat.analysis.check import check
from migcompat.catalog.load import DATA_DIR, open_catalog
from migcompat.errors import StreamError
from migcompat.model.devspec import parse_device
from migcompat.model.vm import VMConfig
from migcompat.vm.live import build, build_empty
from migcompat.vm.loadvm import IncomingLoad
from migcompat.vm.savevm import save

TUTORIAL = tomllib.loads((DATA_DIR / "tutorial.toml").read_text())


def catalog_with(tmp_path: Path, change: Any) -> Any:
    data = copy.deepcopy(TUTORIAL)
    dest = data["releases"]["qemu-5.2"]
    dest = copy.deepcopy(dest)
    change(dest)
    data["releases"]["changed"] = dest
    path = tmp_path / "cat.json"
    path.write_text(json.dumps(data))
    return open_catalog(str(path))


def predict_and_run(cat: Any, devices: list[str]) -> tuple[bool, list[str], str | None]:
    devs = [parse_device(d) for d in devices]
    src = VMConfig(cat.release("qemu-5.2"), "pc-5.2", devs, smp=2, mem=4 << 20)
    dst = VMConfig(cat.release("changed"), "pc-5.2", devs, smp=2, mem=4 << 20)
    res = check(src, dst)
    live = build(src, seed=1)
    incoming = IncomingLoad(build_empty(dst))
    error = None
    try:
        incoming.feed(b"".join(save(live)))
        incoming.finish()
    except StreamError as exc:
        error = str(exc)
    return res.compatible, [r.code for r in res.breaking()], error


def vmsd(rel: dict[str, Any], name: str) -> dict[str, Any]:
    return rel["vmstate"][name]  # type: ignore[no-any-return]


CASES = {
    "unchanged": (lambda r: None, None, None),
    "version too new for the destination": (
        lambda r: vmsd(r, "virtio-blk").update(version_id=1, minimum_version_id=1),
        "section-version", "savevm: unsupported version 2 for"),
    "version too old for the destination": (
        lambda r: vmsd(r, "timer").update(version_id=3, minimum_version_id=3),
        "section-version", "is too old for local minimum version_id  3"),
    "unknown subsection": (
        lambda r: vmsd(r, "virtio-blk").update(subsections=[]),
        "unknown-subsection", None),
    "missing subsection on the source is fine": (
        lambda r: vmsd(r, "e1000")["subsections"].append(
            {"name": "e1000/new", "version_id": 1, "needed": "always",
             "fields": [{"name": "x", "type": "uint8"}]}),
        None, None),
    "field size differs": (
        lambda r: vmsd(r, "e1000")["fields"][0].update(size=64),
        "layout-differs", None),
    "queue count pinned differently": (
        lambda r: r["types"]["virtio-blk-device"]["properties"]["num-queues"].update(default=1)
        or r["types"]["virtio-blk-pci"].update(realize=[]),
        "layout-differs", "!="),
}


@pytest.mark.parametrize("name", list(CASES))
def test_prediction_matches_migration(tmp_path: Path, name: str) -> None:
    change, code, text = CASES[name]
    cat = catalog_with(tmp_path, change)
    compatible, codes, error = predict_and_run(cat, ["virtio-blk-pci,id=vb0", "e1000,id=n0"])
    assert compatible is (error is None), (codes, error)
    if code is None:
        assert compatible, codes
    else:
        assert code in codes, codes
        if text:
            assert error is not None and text in error
