"""validate --against matches bytes, not names, as QEMU's loader does: fields renamed between
builds (ps2kbd's ``common`` in 5.2 is ``parent_obj`` in 7.2; hpet's ``num_timers`` in 7.2 is
``num_timers_save`` in 10.0) are the same fields. Real QEMU loads these streams."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli_run import run
from qemu_helpers import load_stream, make_stream
from qemu_migrations.migration_cases import get_build

pytestmark = pytest.mark.qemu


@pytest.mark.parametrize("src,dst,machine,renamed", [
    ("5.2", "7.2", "pc-q35-5.2", "ps2kbd"),
    ("7.2", "10.0", "pc-q35-7.2", "hpet"),
])
def test_a_renamed_field_is_the_same_field(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                           src: str, dst: str, machine: str,
                                           renamed: str) -> None:
    source, dest = get_build(src), get_build(dst)
    for side in ("src", "dst"):
        (tmp_path / side).mkdir()
    stream = make_stream(tmp_path / "src", machine, [], qemu=source)
    theirs = make_stream(tmp_path / "dst", machine, [], qemu=dest)
    names = []
    for path in (stream, theirs):  # the field is named differently in the two streams
        doc = json.loads(run(capsys, "analyze", path, "--format", "json").out)
        section = next(s for s in doc["items"] if s.get("idstr") == renamed)
        names.append({f["path"].split(".")[0].split("[")[0] for f in section["fields"]})
    assert names[0] != names[1]
    verdict = run(capsys, "validate", stream, "--against", theirs, "--format", "json")
    assert verdict.code == 0, verdict.out
    assert verdict.json()["loads"] is True
    assert load_stream(stream, machine, [], qemu=dest).ok
