"""``validate`` agrees with real QEMU (the system's: 7.2 or 10.0) on every mismatch of
reference §4, in every form that can see it, the catalog form (``--dest`` on the real
``qemu`` catalog's captured state) included.

Each case loads a stream into a real QEMU destination (``-incoming "exec:cat FILE"``) and
asks ``validate`` the same question with the forms that can see the mismatch. They must
agree on the outcome, and on a failure ``validate`` must print the lines QEMU prints.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from streamfile_support import qemu_args

from cli_run import run
from qemu_helpers import load_stream, require_qemu

pytestmark = pytest.mark.qemu
PREFIX = "qemu-system-x86_64: "

# case -> (source stream, destination (a stream name: QEMU runs with its configuration),
#          forms of validate that can see it)
CASES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "same configuration": ("q35-7.2", "q35-7.2", ("both", "against", "schema")),
    "machine type": ("q35-7.2", "d-q35-5.1", ("both", "against", "schema")),
    "missing device": ("q35-7.2", "d-nodev", ("both", "against")),
    "extra device": ("d-nodev", "q35-7.2", ("both", "against", "schema")),
    "num-queues global": ("q35-7.2", "d-nq1", ("both", "against")),
    "RAM size": ("q35-7.2", "d-m128", ("both", "against")),
    "CPU count": ("q35-7.2", "d-smp1", ("both", "against")),
    "version bumped (fw_cfg)": ("bump:fw_cfg", "q35-7.2", ("both", "against", "schema")),
    "version bumped (timer)": ("bump:timer", "q35-7.2", ("both", "against")),
    "version too old (fw_cfg 2 -> 0)": ("version:fw_cfg:0", "q35-7.2", ("both", "schema")),
    "subsection version too new (fw_cfg/acpi_mr 1 -> 2)": (
        "subversion:fw_cfg:fw_cfg/acpi_mr:2", "q35-7.2", ("both", "against", "schema")),
    "unknown subsection": ("unknown-subsection", "q35-7.2", ("both", "schema")),
    "no configuration section": ("i440fx-2.3", "d-i440fx-7.2", ("both", "against", "schema")),
    "capability x-ignore-shared": ("capabilities", "d-q35-plain",
                                   ("both", "against", "schema")),
}


@pytest.fixture(scope="session")
def edited(streams: Callable[[str], Path], workdir: Path) -> Callable[[str], Path]:
    """Streams changed by editing bytes at the offsets ``analyze`` reports."""
    from migcompat.analysis.stream_tools.layout import leaves
    from migcompat.analysis.stream_tools.walk import analyze_stream
    from migcompat.stream import stream_schemas

    def make(name: str) -> Path:
        out = workdir / f"{name.replace(':', '-').replace('/', '-')}.mig"
        if out.exists():
            return out
        data = bytearray(streams("q35-7.2").read_bytes())
        rep = analyze_stream(bytes(data), stream_schemas(bytes(data)))
        if name.startswith(("bump:", "version:")):
            _, idstr, *to = name.split(":")
            sec = next(s for s in rep.sections if s.idstr == idstr)
            at = sec.body_offset - 4  # the header's be32 version_id
            data[at:at + 4] = (int(to[0]) if to else sec.version_id + 1).to_bytes(4, "big")
        elif name.startswith("subversion:"):
            _, idstr, sub, to = name.split(":")
            sec = next(s for s in rep.sections if s.idstr == idstr)
            assert sec.state is not None
            leaf = next(f for f in leaves(sec.state, sec.body_offset) if f.path == sub)
            at = leaf.offset + 2 + len(sub)  # after 0x05, the length and the name
            data[at:at + 4] = int(to).to_bytes(4, "big")
        else:
            # A source build with a subsection this destination lacks: rename one in the
            # bytes and in the stream's own description (same length, so sizes hold).
            old, new = b"fw_cfg/acpi_mr", b"fw_cfg/acpi_mX"
            fw = next(s for s in rep.sections if s.idstr == "fw_cfg")
            at = fw.body_offset + data[fw.body_offset:fw.body_offset + fw.body_size].index(old)
            assert data[at - 2:at] == bytes((5, len(old)))
            data[at:at + len(old)] = new
            desc = next(i for i in rep.items if i.kind == "vmdesc")
            json_at = desc.offset + 5 + data[desc.offset + 5:].index(b'"' + old + b'"')
            data[json_at + 1:json_at + 1 + len(old)] = new
        out.write_bytes(bytes(data))
        return out

    return make


# Destinations with a property the capture does not have (the build's defaults only):
# --dest refuses to predict them (exit 2), tested below.
BEYOND_CAPTURE = ("num-queues global",)


def system_release() -> str:
    """The catalog release of the system QEMU: 7.2 on Debian 12, 10.0 on Debian 13."""
    out = subprocess.run([require_qemu(), "--version"], capture_output=True, text=True,
                         check=True).stdout
    found = re.search(r"version (\d+)\.(\d+)", out)
    assert found, out
    return f"{found[1]}.{found[2]}"


def dest_args(dest_name: str) -> list[str]:
    machine, extra, smp, mem = qemu_args(dest_name)
    devices = ["--device", "virtio-blk-pci"] if "virtio-blk-pci,drive=d0" in extra else []
    globals_ = [x for i, a in enumerate(extra) if a == "-global"
                for x in ("--global", extra[i + 1])]
    return ["--dest", f"{system_release()}:{machine}", *devices, *globals_, "--smp", str(smp),
            "-m", f"{mem}M", "--catalog", "qemu"]


def source_path(name: str, streams: Callable[[str], Path],
                edited: Callable[[str], Path]) -> Path:
    edits = ("bump:", "version:", "subversion:", "unknown-subsection")
    return edited(name) if name.startswith(edits) else streams(name)


@pytest.mark.parametrize("case", list(CASES))
def test_validate_agrees_with_qemu(case: str, streams: Callable[[str], Path],
                                   edited: Callable[[str], Path], dump: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    source_name, dest_name, forms = CASES[case]
    source = source_path(source_name, streams, edited)
    machine, extra, smp, mem = qemu_args(dest_name)
    qemu = load_stream(source, machine, extra, smp=smp, mem=mem)
    qemu_lines = [line.removeprefix(PREFIX) for line in qemu.stderr.splitlines()
                  if line.startswith(PREFIX) and not line.startswith(PREFIX + "warning:")]
    args = {"both": ["--against", streams(dest_name), "--schema", dump],
            "against": ["--against", streams(dest_name)],
            "schema": ["--schema", dump, "--machine", machine],
            "dest": dest_args(dest_name)}
    # The catalog form sees every case whose destination has the build's defaults.
    forms = (*forms, "dest") if case not in BEYOND_CAPTURE else forms
    for form in forms:
        res = run(capsys, "validate", source, *args[form], "--format", "json")
        assert res.code in (0, 1), (form, res.err)
        verdict = res.json()
        assert verdict["loads"] is qemu.ok, (case, form, verdict, qemu.stderr)
        assert res.code == (0 if qemu.ok else 1)
        if not qemu.ok and form == "dest":
            # the catalog form loads as a migcompat destination does: QEMU's first line
            # (which may add what QEMU leaves to its trace, e.g. the unknown subsection)
            assert verdict["error"]["message"].startswith(qemu_lines[0]), (case, verdict)
            assert verdict["error"]["offset"] is not None
        elif not qemu.ok:
            assert verdict["qemu"] == qemu_lines, (case, form)
            assert verdict["error"]["offset"] is not None
    print(json.dumps({"case": case, "qemu": "loads" if qemu.ok else qemu_lines[0],
                      "forms": forms}))


def test_dest_form_refuses_what_the_capture_cannot_see(
        streams: Callable[[str], Path], capsys: pytest.CaptureFixture[str]) -> None:
    res = run(capsys, "validate", streams("q35-7.2"), *dest_args("d-nq1"))
    assert res.code == 2, res.err
    assert "num-queues=1 (captured with 2)" in res.err
    assert "use --against" in res.err


def test_validate_text_report(streams: Callable[[str], Path],
                              capsys: pytest.CaptureFixture[str]) -> None:
    res = run(capsys, "validate", streams("q35-7.2"), "--against", streams("d-nq1"))
    assert res.code == 1
    assert "will NOT load" in res.out
    assert f"{PREFIX}get_pci_config_device: Bad config data: i=0x9a read: 2 device: 1" \
        in res.out
    assert "field 'virtio-blk:virtio'" in res.out
    assert "not checked (this form cannot see it)" in res.out


def test_validate_without_description_reads_with_destination_layout(
        streams: Callable[[str], Path], capsys: pytest.CaptureFixture[str]) -> None:
    res = run(capsys, "validate", streams("q35-7.2-novmdesc"), "--against",
              streams("d-nq1"), "--format", "json")
    assert res.code == 1 and "destination's layout" in res.err
    assert res.json()["error"]["message"].startswith("get_pci_config_device")
    res = run(capsys, "validate", streams("q35-7.2-novmdesc"), "--against", streams("q35-7.2"))
    assert res.code == 0
    # With the layout of the source given, the stream is read as it was written.
    res = run(capsys, "validate", streams("q35-7.2-novmdesc"), "--source-schema",
              streams("q35-7.2"), "--against", streams("d-nq1"), "--format", "json")
    assert res.code == 1 and res.json()["error"]["message"].startswith("get_pci_config")


def test_validate_unreadable_input_exits_2(streams: Callable[[str], Path], tmp_path: Path,
                                           dump: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    data = streams("q35-7.2").read_bytes()
    cut = tmp_path / "cut.mig"
    cut.write_bytes(data[:300000])
    res = run(capsys, "validate", cut, "--schema", dump)
    assert res.code == 2 and "at byte 300000" in res.err and res.err.count("\n") == 1
    res = run(capsys, "validate", streams("q35-7.2"), "--schema", streams("q35-7.2"))
    assert res.code == 2 and "-dump-vmstate" in res.err


@pytest.mark.parametrize("name", ["q35-5.1", "i440fx-7.2", "i440fx-5.1", "i440fx-2.3", "dense",
                                  "capabilities"])
def test_no_false_alarm_on_own_configuration(name: str, streams: Callable[[str], Path],
                                             dump: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """A stream checked against itself and its build's dump loads (QEMU loads it too: the
    "same configuration" case above)."""
    src = streams(name)
    res = run(capsys, "validate", src, "--against", src, "--schema", dump, "--format", "json")
    verdict = res.json()
    if name == "capabilities":  # its own configuration has x-ignore-shared on: refused
        assert res.code == 1 and verdict["error"]["message"].startswith("Capability")
        return
    assert res.code == 0, verdict
    assert verdict["warnings"] == []
