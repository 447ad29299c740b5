"""``rewrite`` edits decoded values; real QEMU loads the result and shows the new values.

This proves the codec understands the bytes: a CPU register, the run state QEMU restores
from the ``globalstate`` section, and RAM pages are changed through their decoded form, and
QEMU reads them back over QMP (``info registers``, ``query-status``, ``pmemsave``).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from streamfile_support import load_and_query, qemu_args

from cli_run import run

pytestmark = pytest.mark.qemu


def test_edited_values_load_into_qemu(streams: Callable[[str], Path], tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    page = random.Random(5).randbytes(4096)
    (tmp_path / "page.bin").write_bytes(page)
    runstate = b"paused".ljust(100, b"\0").hex()
    out = tmp_path / "edited.mig"
    res = run(capsys, "rewrite", streams("q35-7.2"), out, "--format", "json",
              "--set", "cpu@1.env.regs[0]=0x12345678",
              "--set", "globalstate.size=7", "--set", f"globalstate.runstate={runstate}",
              "--page", f"pc.ram:0x100000=@{tmp_path / 'page.bin'}",
              "--page", "pc.ram:0x200000=fill:0x5a")
    assert res.code == 0, res.err
    doc = res.json()
    assert doc["identical"] is False
    assert [e["old"] for e in doc["edits"]][:2] == [0, 10]
    assert all(p["records"] == 1 for p in doc["pages"])
    # The edited stream still decodes completely, with the new values in place.
    check = run(capsys, "analyze", out, "--format", "json").json()
    cpu1 = next(i for i in check["items"] if i.get("idstr") == "cpu" and i["instance_id"] == 1)
    assert next(f for f in cpu1["fields"] if f["path"] == "env.regs")["value"][0] == 0x12345678

    machine, extra, smp, mem = qemu_args("q35-7.2")
    status, results, err = load_and_query(out, machine, extra, smp, mem, [
        ("human-monitor-command", {"command-line": "info registers -a"}),
        ("query-status", {}),
        ("pmemsave", {"val": 0x100000, "size": 4096, "filename": str(tmp_path / "p1")}),
        ("pmemsave", {"val": 0x200000, "size": 4096, "filename": str(tmp_path / "p2")}),
    ])
    assert status == "completed", err
    cpus = re.split(r"CPU#(\d+)", results[0])
    eax = {int(cpus[i]): re.search(r"EAX=([0-9a-f]+)", cpus[i + 1]).group(1)  # type: ignore[union-attr]
           for i in range(1, len(cpus), 2)}
    assert eax == {0: "00000000", 1: "12345678"}
    assert results[1]["status"] == "paused"
    assert (tmp_path / "p1").read_bytes() == page
    assert (tmp_path / "p2").read_bytes() == b"\x5a" * 4096


def test_bad_edits_are_refused(streams: Callable[[str], Path], tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    src = streams("q35-7.2")
    out = tmp_path / "o.mig"
    cases = {
        "--set=cpu@0.env.regs[0]=0x1ffffffffffffffff": "does not fit",
        "--set=cpu@9.env.regs[0]=1": "no such section",
        "--set=cpu.env.nosuch=1": "no field or subsection",
        "--set=globalstate.runstate=00": "1 bytes given",
        "--page=pc.ram:0x123=fill:1": "not page aligned",
        "--page=nosuch:0x0=fill:1": "no such section, field or RAM page",
    }
    for option, text in cases.items():
        res = run(capsys, "rewrite", src, out, option)
        assert res.code == 2, option
        assert text in res.err, (option, res.err)
        assert not out.exists()
