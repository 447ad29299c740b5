"""`migcompat probe --state`: one command gives a release file with its captured state, and
`check` and `validate --dest` then compare device state from it."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest

from migcompat.cli.main import main as cli_main
from qemu_helpers import VIRTIO_BLK_ARGS, make_stream, require_qemu

pytestmark = pytest.mark.qemu
MACHINE = "pc-q35-5.1"


def cli(*args: object) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
            pytest.raises(SystemExit) as info:
        cli_main([str(a) for a in args])
    code = info.value.code
    return (code if isinstance(code, int) else 0), out.getvalue(), err.getvalue()


def test_probe_state_feeds_check_and_validate(tmp_path: Path) -> None:
    qemu = require_qemu()
    release, state = tmp_path / "r.json", tmp_path / "r.state.json"
    code, _, err = cli("probe", qemu, "-o", release, "--machine", MACHINE, "--state", state)
    assert code == 0, err
    doc = json.loads(release.read_text())
    assert doc["state"] == "r.state.json"
    captured = json.loads(state.read_text())
    assert list(captured["machines"]) == [MACHINE]
    assert "virtio-blk-pci" in captured["machines"][MACHINE]["devices"]
    rid = doc["id"]

    # the stream of a real VM of this build loads where it should, and not elsewhere
    stream = make_stream(tmp_path, MACHINE, VIRTIO_BLK_ARGS, smp=2)
    base = ["validate", stream, "--catalog", release, "--smp", "2", "-m", "64M"]
    code, out, err = cli(*base, "--dest", f"{rid}:{MACHINE}", "--device", "virtio-blk-pci")
    assert code == 0, out + err
    code, out, _ = cli(*base, "--dest", f"{rid}:{MACHINE}")
    assert code == 1 and "Unknown savevm section or instance '0000:00:01.0/virtio-blk'" in out
    # a machine type the release knows (the build's default) but whose state was not
    # captured: no verdict, not a guess
    default = next(m for m, body in doc["machines"].items() if body.get("default"))
    assert default != MACHINE
    code, _, err = cli(*base, "--dest", f"{rid}:{default}")
    assert code == 2 and "no captured state" in err

    code, out, _ = cli("check", "--catalog", release, f"{rid}:{MACHINE}", f"{rid}:{MACHINE}",
                       "--src-device", "virtio-blk-pci", "--format", "json")
    reasons = {r["code"] for r in json.loads(out)["reasons"]}
    assert code == 1 and "unknown-section" in reasons


def test_state_needs_an_output_file(tmp_path: Path) -> None:
    code, _, err = cli("probe", require_qemu(), "--state", tmp_path / "s.json")
    assert code == 2 and "--state needs -o FILE" in err
    assert not (tmp_path / "s.json").exists()


def test_interrupted_state_capture_stops_soon_and_leaves_no_qemu(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from migcompat.qemu.binary.state import capture as ps
    from migcompat.qemu.binary.state.run import Target
    from qemu_binary.test_probe import my_qemu_children

    started: list[str] = []
    real_capture = ps.capture

    def counting(target: Target, machine: str, available: set[str]) -> ps.Capture:
        started.append(machine)
        return real_capture(target, machine, available)

    def progress(message: str) -> None:
        if "[1/" in message:
            raise KeyboardInterrupt  # as Ctrl-C would, after the first machine type

    monkeypatch.setattr(ps, "capture", counting)
    with pytest.raises(KeyboardInterrupt):
        ps.probe_state("7.2", Target(require_qemu()), "pc-*", progress)
    assert my_qemu_children() == []
    # the machine types not started yet were dropped: two run at a time, and each worker
    # may have taken one more before the first result reached the progress callback
    assert 1 <= len(started) <= 4, started
