"""compare_schemas against its peer, QEMU's own ``scripts/vmstate-static-checker.py``, on real
``-dump-vmstate`` files of the pinned 7.2 and 10.0 builds (machine pc-i440fx-7.2, which both
know), in both directions: every section and field the peer reports, we report too.

The peer runs from the pinned 10.0 source tree (the newer side), as QEMU ships it. It also runs
on its own test data (tests/vmstate-static-checker-data in that tree), where QEMU's test
expects exit 13. The dumps are made once per module; the whole file takes a few seconds.
Without the builds or the tree the tests skip, except under CI=true, where they fail.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from migcompat.errors import MigcompatError
from migcompat.qemu.debian.lock import load_pins
from migcompat.qemu.debian.sources import fetch
from migcompat.vmstate.compare import VmstateFinding, compare_dumps
from migcompat.vmstate.dump import VMStateDump, schemas_from_dump
from qemu_helpers import load_stream, make_stream
from qemu_migrations.migration_cases import get_build
from vmstate_peer import PeerMessage, covering, dump_vmstate, parse_peer, peer_script, run_peer

pytestmark = pytest.mark.qemu
MACHINE = "pc-i440fx-7.2"
PEER_PIN = "10.0"
OLD, NEW = "7.2", "10.0"


@pytest.fixture(scope="module")
def tree() -> Path:
    """The pinned 10.0 source tree (as tests/qemu_source fetch theirs)."""
    try:
        return fetch(load_pins()[PEER_PIN], quiet=True)
    except (MigcompatError, OSError) as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"the pinned QEMU {PEER_PIN} source tree is needed under CI: {exc}")
        pytest.skip(f"the pinned QEMU {PEER_PIN} source tree cannot be had here: {exc}")


@pytest.fixture(scope="module")
def dumps(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("vmstate-dumps")
    return {r: dump_vmstate(get_build(r), MACHINE, out / f"{r}.json") for r in (OLD, NEW)}


def load(path: Path) -> VMStateDump:
    return schemas_from_dump(json.loads(path.read_text()))


def uncovered(messages: list[PeerMessage], ours: list[VmstateFinding], old: VMStateDump,
              new: VMStateDump) -> list[str]:
    return [m.text for m in messages if not covering(m, ours, old.types, new.types)]


@pytest.mark.parametrize(("src", "dst"), [(OLD, NEW), (NEW, OLD)], ids=["7.2-10.0", "10.0-7.2"])
def test_we_report_all_the_peer_reports(tree: Path, dumps: dict[str, Path], src: str,
                                        dst: str) -> None:
    code, lines = run_peer(peer_script(tree), dumps[src], dumps[dst])
    messages = parse_peer(lines)
    # Every line is one problem (its exit code), so none went unparsed.
    assert code == min(255, sum(m.taint for m in messages)), lines
    assert len(messages) > 10  # the real pair differs: the comparison is not empty
    old, new = load(dumps[src]), load(dumps[dst])
    assert old.machine == new.machine == MACHINE
    ours = compare_dumps(old, new)
    assert uncovered(messages, ours, old, new) == []


def test_what_the_peer_misses_on_the_real_pair(tree: Path, dumps: dict[str, Path]) -> None:
    """The peer stops esp at a rename and never sees the field 10.0 added at its end, nor
    the unguarded field 10.0 added to vhost-user-fs; a real migration proves the first."""
    _, lines = run_peer(peer_script(tree), dumps[OLD], dumps[NEW])
    peer = {m.section for m in parse_peer(lines)}
    ours = compare_dumps(load(dumps[OLD]), load(dumps[NEW]))
    added = {(f.section, f.field) for f in ours
             if f.kind == "vmstate-field-added" and f.severity == "error"}
    assert added == {("am53c974", "esp.drq_state"), ("dc390", "esp.drq_state"),
                     ("sysbus-esp", "esp.drq_state"), ("vhost-user-fs-device", "virtio")}
    assert "vhost-user-fs-device" not in peer
    # Of our errors and warnings, only that one is in a section the peer calls clean.
    beyond = Counter(f.section for f in ours
                     if f.severity != "note" and f.section not in peer)
    assert beyond == {"vhost-user-fs-device": 1}


def test_the_esp_field_the_peer_misses_breaks_a_real_migration(dumps: dict[str, Path],
                                                               tmp_path: Path) -> None:
    device = ["-device", "am53c974"]
    stream = make_stream(tmp_path, MACHINE, device, qemu=get_build(OLD), name="old.mig")
    res = load_stream(stream, MACHINE, device, qemu=get_build(NEW))
    assert not res.ok
    assert "Missing section footer for 0000:00:02.0/pciespscsi" in res.stderr, res.stderr
    # The way back loads although we report drq_state removed: at version 7, 10.0 leaves out
    # mig_ti_cmd (its field_exists says no), so the byte count agrees and 7.2 misreads
    # lun and drq_state without an error (docs/lint-vmstate.md, "What neither can see").
    back = make_stream(tmp_path, MACHINE, device, qemu=get_build(NEW), name="new.mig")
    assert load_stream(back, MACHINE, device, qemu=get_build(OLD)).ok
    ours = compare_dumps(load(dumps[NEW]), load(dumps[OLD]))
    assert [(f.kind, f.severity) for f in ours if (f.section, f.field)
            == ("am53c974", "esp.drq_state")] == [("vmstate-field-removed", "error")]


def test_the_peers_own_test_data(tree: Path, tmp_path: Path) -> None:
    data = tree / "tests" / "vmstate-static-checker-data"
    code, lines = run_peer(peer_script(tree), data / "dump1.json", data / "dump2.json")
    assert code == 13  # what QEMU's own test of the checker expects
    raw = {n: json.loads((data / f"{n}.json").read_text()) for n in ("dump1", "dump2")}
    # Hand-made data that real QEMU cannot print: a type without a Description (our parser
    # refuses the dump), a type whose own version_id contradicts its Description's (real
    # dumps print both from the same vmsd; we read the Description's).
    bare = {k for d in raw.values() for k, v in d.items() if "Description" not in v
            and k != "vmschkmachine"}
    odd = {k for d in raw.values() for k, v in d.items() if k not in bare | {"vmschkmachine"}
           and v["version_id"] != v["Description"]["version_id"]}
    assert bare == {"cfi.pflash01"}
    assert odd == {"PIIX3-xen", "fusbh200-ehci-usb", "sun-fdtwo"}
    clean: dict[str, Any] = {n: {k: v for k, v in d.items() if k not in bare}
                             for n, d in raw.items()}
    old, new = (schemas_from_dump(clean[n]) for n in ("dump1", "dump2"))
    messages = [m for m in parse_peer(lines) if m.section not in bare
                and not (m.section in odd and m.description is None)]
    assert len(messages) == 12
    assert uncovered(messages, compare_dumps(old, new), old, new) == []


def test_lint_reports_the_schema_findings_with_the_property_ones(
        dumps: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    from cli_run import run

    doc = run(capsys, "lint", "--catalog", "qemu", OLD, NEW, "--type", "am53c974",
              "--old-vmstate", dumps[OLD], "--new-vmstate", dumps[NEW], "--format", "json")
    assert doc.code == 1
    schema = {(f["driver"], f["property"]): f for f in doc.json()["findings"]
              if f["kind"].startswith("vmstate-")}
    drq = schema[("am53c974", "esp.drq_state")]
    assert (drq["kind"], drq["severity"], drq["fix"]) == ("vmstate-field-added", "error", None)
    assert run(capsys, "lint", "--catalog", "qemu", OLD, NEW,
               "--old-vmstate", dumps[OLD]).code == 2  # one dump alone is refused


def test_diff_shows_the_schema_comparison_the_peer_is_checked_against(
        tree: Path, dumps: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    """`diff --old-vmstate --new-vmstate` reports exactly compare_dumps's findings, which
    cover every line of the peer (test_we_report_all_the_peer_reports)."""
    from cli_run import run

    doc = run(capsys, "diff", "--catalog", "qemu", OLD, NEW, "--type", "am53c974",
              "--old-vmstate", dumps[OLD], "--new-vmstate", dumps[NEW], "--all",
              "--format", "json").json()
    shown = {(f["kind"], f["section"], f["field"]) for f in doc["vmstate"]}
    ours = compare_dumps(load(dumps[OLD]), load(dumps[NEW]))
    assert shown == {(f.kind, f.section, f.field) for f in ours}
    _, lines = run_peer(peer_script(tree), dumps[OLD], dumps[NEW])
    assert uncovered(parse_peer(lines), ours, load(dumps[OLD]), load(dumps[NEW])) == []
    text = run(capsys, "diff", "--catalog", "qemu", OLD, NEW, "--type", "am53c974",
               "--old-vmstate", dumps[OLD], "--new-vmstate", dumps[NEW])
    assert "error   vmstate-field-added am53c974.esp.drq_state" in text.out
