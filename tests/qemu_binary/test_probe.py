"""probe of the system QEMU: a valid catalog, the machine list of ``-machine help``, defaults
that agree with the source import, and no QEMU left behind."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from migcompat.catalog.load import open_catalog, validate_catalog
from migcompat.qemu.binary.compare import compare_releases
from migcompat.qemu.binary.probe import probe
from qemu_helpers import require_qemu

pytestmark = pytest.mark.qemu

# Default differences with the bundled catalog that are understood, per release. None: the
# bundled 5.2, 7.2 and 10.0 hold the binary's defaults where the import could not compute
# them (qxl revision, usb-redir debug: docs/probe-merge.md).
KNOWN_DEFAULTS: dict[str, dict[tuple[str, str], str]] = {}
# Kind pairs (probe, source) that are approximations on one side, not disagreements.
KNOWN_KINDS = {("uint8 (uint4)", "str (uint4)"),  # vfio-pci's 4-bit clique id
               ("uint32", "array")}  # QMP shows DEFINE_PROP_ARRAY's len-PROP counter


def my_qemu_children() -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == os.getpid() and "qemu" in stat.split("(", 1)[1].split(")")[0]:
            out.append(int(entry.name))
    return out


@pytest.fixture(scope="module")
def probed(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    release = probe(require_qemu())
    path = tmp_path_factory.mktemp("probe") / f"{release['id']}.json"
    path.write_text(json.dumps(release))
    return release, path


def test_probe_is_a_valid_catalog(probed: tuple[dict[str, Any], Path]) -> None:
    release, path = probed
    cat = open_catalog(str(path))
    (loaded,) = validate_catalog(cat)
    assert loaded.origin == "probe"
    assert len(loaded.types) > 500
    assert release["probe"]["warnings"] == []
    assert my_qemu_children() == []
    # virtio proxies alias their backend, as the source catalogs say
    assert loaded.types.child_of("virtio-blk-pci") is not None
    blk = loaded.types.properties("virtio-blk-device")
    assert blk["num-queues"].default == 65535
    assert loaded.types.is_a("virtio-blk-pci", "pci-express-device")


def test_machines_equal_machine_help(probed: tuple[dict[str, Any], Path]) -> None:
    release, _ = probed
    text = subprocess.run([require_qemu(), "-machine", "help"], capture_output=True,
                          text=True, check=True).stdout
    listed = {line.split()[0] for line in text.splitlines()[1:] if line.strip()}
    names = set(release["machines"])
    aliases = {m["alias"] for m in release["machines"].values() if m.get("alias")}
    assert names | aliases == listed
    defaults = [n for n, m in release["machines"].items() if m.get("default")]
    assert len(defaults) == 1 and f"{defaults[0]} " in text and "(default)" in text


def test_defaults_agree_with_the_source_import(probed: tuple[dict[str, Any], Path]) -> None:
    _, path = probed
    cat = open_catalog(str(path))
    probed_release = cat.release(cat.release_ids()[0])
    source_cat = open_catalog("qemu")
    if not source_cat.has(probed_release.id):
        pytest.skip(f"no source import of release {probed_release.id} to compare with")
    diffs = compare_releases(probed_release, source_cat.release(probed_release.id))
    known = KNOWN_DEFAULTS.get(probed_release.id, {})
    # Where QMP reports no default (object properties, legacy-*), the probe cannot disagree.
    defaults = {(d.type, d.prop): d for d in diffs if d.code == "default"
                and d.probe != "<none>"}
    assert {k: f"{d.probe!r} vs {d.source!r}: {d.cause}" for k, d in defaults.items()
            if k not in known} == {}
    kinds = {(d.type, d.prop, d.probe, d.source) for d in diffs if d.code == "kind"
             and (d.probe, d.source) not in KNOWN_KINDS}
    assert kinds == set()


def test_interrupted_probe_leaves_no_qemu() -> None:
    def stop(stage: str, done: int, total: int) -> None:
        if stage == "devices":
            raise KeyboardInterrupt  # as Ctrl-C would, in the middle of the work

    with pytest.raises(KeyboardInterrupt):
        probe(require_qemu(), progress=stop)
    assert my_qemu_children() == []


def test_machine_filter_keeps_the_default() -> None:
    release = probe(require_qemu(), machines=["pc-q35-5.1"])
    assert "pc-q35-5.1" in release["machines"]
    assert sum(bool(m.get("default")) for m in release["machines"].values()) == 1
    assert len(release["machines"]) == 2
