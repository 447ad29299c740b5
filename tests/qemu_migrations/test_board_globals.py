"""-global on the devices the board creates (docs/check.md, "The board's own devices"),
each case run on the real builds and by `check`: a property the board's device lacks is
QEMU's start-up error, a class nobody has is QEMU's warning, and a property set on one
side loads, as check says (guest-visible, with the source's -global as the fix)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from migcompat.qemu.debian.builds import QemuBuild
from qemu_helpers import load_stream, make_stream
from qemu_migrations.migration_cases import cli_json, get_build

pytestmark = pytest.mark.qemu
MACHINE = "pc-q35-7.2"


def _start(build: QemuBuild, *args: str) -> subprocess.CompletedProcess[str]:
    """Start the build paused with ``args`` and quit at once (stdin's QMP commands)."""
    qmp = '{"execute":"qmp_capabilities"}\n{"execute":"quit"}\n'
    return subprocess.run([build.binary, *build.args(), "-M", MACHINE, "-nodefaults",
                           "-display", "none", "-S", "-qmp", "stdio", *args], input=qmp,
                          capture_output=True, text=True, env=build.env, timeout=60,
                          check=False)


def _migcompat(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "migcompat", *argv], capture_output=True,
                          text=True, check=False, timeout=120)


@pytest.mark.parametrize("release", ["7.2", "10.0"])
def test_unknown_property_on_a_board_device_is_an_error_as_in_qemu(release: str) -> None:
    words = "can't apply global hpet.nosuchprop=1: Property 'hpet.nosuchprop' not found"
    real = _start(get_build(release), "-global", "hpet.nosuchprop=1")
    assert real.returncode == 1 and words in real.stderr
    ours = _migcompat("check", "--catalog", "qemu", f"{release}:{MACHINE}", release,
                      "--global", "hpet.nosuchprop=1")
    assert ours.returncode == 2 and words in ours.stderr and not ours.stdout
    # one side only: that side cannot start
    doc = cli_json(["check", "--catalog", "qemu", f"{release}:{MACHINE}", release,
                    "--dst-global", "hpet.nosuchprop=1", "--format", "json"])
    assert doc["verdict"] == "refused"
    assert any(words in r["message"] for r in doc["reasons"] if r["code"] == "cannot-start")


def test_unknown_class_is_a_warning_as_in_qemu() -> None:
    words = "global nosuchdev.x has invalid class name"
    real = _start(get_build("7.2"), "-global", "nosuchdev.x=1")
    assert real.returncode == 0 and words in real.stderr
    ours = _migcompat("check", "--catalog", "qemu", f"7.2:{MACHINE}", "7.2",
                      "--global", "nosuchdev.x=1")
    assert ours.returncode == 0 and words in ours.stderr


def test_a_board_global_on_one_side_fails_on_10_0_as_check_says(tmp_path: Path) -> None:
    build_src, build_dst = get_build("7.2"), get_build("10.0")
    stream = make_stream(tmp_path, MACHINE, ["-global", "hpet.timers=4"], qemu=build_src)
    loaded = load_stream(stream, MACHINE, [], qemu=build_dst)
    assert not loaded.ok and "hpet/num_timers must match" in loaded.stderr
    doc = cli_json(["check", "--catalog", "qemu", f"7.2:{MACHINE}", "10.0",
                    "--src-global", "hpet.timers=4", "--format", "json"])
    assert doc["loads"] is False and doc["verdict"] == "incompatible"
    (found,) = [r for r in doc["reasons"] if r["code"] == "board-global-differs"]
    assert (found["property"], found["source"]["value"], found["destination"]["value"]) == \
        ("timers", 4, 3)
    (fix,) = doc["fixes"]
    assert fix["args"] == ["-global", "hpet.timers=4"] and fix["verified"] is True
    # the fix, on the real destination: the load goes through
    again = load_stream(stream, MACHINE, list(fix["args"]), qemu=build_dst)
    assert again.ok, again.stderr
