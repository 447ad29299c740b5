"""``migcompat check`` against real QEMU 5.2, 7.2 and 10.0 migrating into each other.

Each case migrates for real (source build -> stream file -> destination build) and asks
``check`` about the same configuration: the prediction must equal what QEMU did. Every
case adds a row to the table printed at the end of the run (qemu_migrations/table.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from qemu_migrations.migration_cases import (
    CASES,
    Case,
    get_build,
    predicted,
    reasons_brief,
    reasons_text,
    run_check,
    run_real,
    run_validate,
)
from qemu_migrations.table import add_row

pytestmark = pytest.mark.qemu

_STREAMS: dict[tuple[str, ...], Path] = {}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("real-migrations")


PARAMS = [pytest.param(c, id=c.id, marks=[pytest.mark.xfail(strict=True, reason=c.known)]
                       if c.known else []) for c in CASES]


@pytest.mark.parametrize("case", PARAMS)
def test_check_predicts_real_migration(case: Case, workdir: Path) -> None:
    src, dst = get_build(case.src), get_build(case.dst)
    doc = run_check(case)
    guess = predicted(doc)
    actual = run_real(case, src, dst, workdir, _STREAMS)
    checked = run_validate(case, _STREAMS)
    why = reasons_brief(doc) + (f" | QEMU: {actual.why[:90]}" if actual.why else "")
    if checked and checked.outcome != actual.outcome:
        why += f" | validate: {checked.why[:90]}"
    add_row(order=CASES.index(case), source=case.src, destination=case.dst,
            versions={case.src: src.version, case.dst: dst.version}, machine=case.machine,
            case=case.kind, predicted=guess, actual=actual.outcome, why=why, known=case.known,
            validate=checked.outcome if checked else "-",
            validate_why=checked.why if checked else "")
    assert actual.outcome == case.expect, (
        f"real QEMU: {actual.outcome}, recorded: {case.expect}\n{actual.stderr}")
    if checked is not None:  # validate --dest on the stream the source saved
        assert checked.outcome != "loaded" or actual.outcome == "loaded", (
            f"validate: will load, QEMU: {actual.outcome} ({actual.why})")
        if case.no_validate:
            assert checked.outcome == "no answer", checked
        else:
            assert checked.outcome == actual.outcome, (
                f"validate: {checked.outcome} ({checked.why}), QEMU: {actual.outcome} "
                f"({actual.why})")
    assert guess == actual.outcome, (
        f"check predicted {guess}, QEMU {actual.outcome} ({actual.why})\n"
        f"check reasons: {reasons_text(doc)}\nQEMU stderr:\n{actual.stderr}")


@pytest.mark.parametrize("release_id", ["5.2", "7.2", "10.0"])
def test_build_runs(release_id: str) -> None:
    """Each build reports its pinned Debian version and starts paused on pc-q35-5.1."""
    from migcompat.qemu.debian.builds import smoke

    b = get_build(release_id)
    assert b.version.startswith(f"1:{release_id}")
    assert smoke(b).startswith(release_id + ".")
