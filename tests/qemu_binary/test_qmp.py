"""The QEMU launcher: QMP commands, errors that keep what was sent, and no process left."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from migcompat.errors import QemuError, QemuNotFound, QmpCommandError
from migcompat.qemu.binary.qmp import QemuProcess
from qemu_helpers import require_qemu

pytestmark = pytest.mark.qemu


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0): look at its state.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def wait_gone(pid: int, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return False


def test_commands_and_version() -> None:
    binary = require_qemu()
    with QemuProcess(["-machine", "none"], binary=binary) as proc:
        major, _minor, _ = proc.version()
        assert major >= 5
        assert proc.greeting["QMP"]["version"]["qemu"]["major"] == major
        assert proc.cmd("qom-get", path="/machine", property="type") == "none-machine"
        pid = proc.pid
        assert pid is not None and alive(pid)
    assert wait_gone(pid)


def test_command_error_keeps_what_was_sent() -> None:
    with QemuProcess(["-machine", "none"], binary=require_qemu()) as proc:
        with pytest.raises(QmpCommandError) as info:
            proc.cmd("qom-get", path="/nowhere", property="type")
        assert info.value.command == "qom-get"
        assert info.value.arguments == {"path": "/nowhere", "property": "type"}
        assert info.value.error_class == "DeviceNotFound"
        # batch returns refusals in place instead of raising
        ok, bad = proc.batch([("query-version", {}),
                              ("qom-get", {"path": "/nowhere", "property": "x"})])
        assert ok["qemu"]["major"] >= 5
        assert isinstance(bad, QmpCommandError)


def test_start_failure_reports_stderr_and_leaves_nothing() -> None:
    binary = require_qemu()
    with pytest.raises(QemuError) as info, QemuProcess(["-device", "no-such-device"],
                                                       binary=binary):
        pass
    assert "no-such-device" in str(info.value)
    assert "is not a valid device model name" in info.value.stderr


def test_exception_inside_the_block_kills_qemu() -> None:
    pid = None
    binary = require_qemu()
    # KeyboardInterrupt is what Ctrl-C raises.
    with pytest.raises(KeyboardInterrupt), QemuProcess(["-machine", "none"],
                                                       binary=binary) as proc:
        pid = proc.pid
        raise KeyboardInterrupt
    assert pid is not None and wait_gone(pid)
    with pytest.raises(QemuError):
        proc.cmd("query-version")


def test_qemu_dies_with_its_parent() -> None:
    # The parent is SIGKILLed (no Python cleanup at all): PR_SET_PDEATHSIG takes QEMU along.
    code = ("import sys, time\n"
            "from migcompat.qemu.binary.qmp import QemuProcess\n"
            f"p = QemuProcess(['-machine', 'none'], binary={require_qemu()!r})\n"
            "p.start(); print(p.pid, flush=True); time.sleep(60)\n")
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        pid = int(parent.stdout.readline())
        assert alive(pid)
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        assert wait_gone(pid)
    finally:
        parent.kill()
        parent.wait()


def test_missing_binary() -> None:
    with pytest.raises(QemuNotFound):
        QemuProcess([], binary="/nonexistent/qemu-system-x86_64")


def _processes_with(marker: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                if marker.encode() in f.read():
                    found.append(int(entry))
        except OSError:
            continue
    return found


def _comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read()
    except OSError:
        return ""


def test_ctrl_c_stops_the_crosscheck_and_its_qemus() -> None:
    # Ctrl-C on a terminal sends SIGINT to the whole process group.
    require_qemu()
    marker = f"MIGCOMPAT_TEST_MARK=interrupt-{os.getpid()}"
    env = dict(os.environ, MIGCOMPAT_TEST_MARK=marker.split("=", 1)[1])
    proc = subprocess.Popen(
        [sys.executable, "-m", "migcompat", "crosscheck", "--catalog", "tutorial",
         "--release", "qemu-5.2"], env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True, start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not any(
                "qemu" in _comm(p) for p in _processes_with(marker)):
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGINT)
        assert proc.wait(timeout=30) == 130
        assert proc.stderr is not None and "interrupted" in proc.stderr.read()
        deadline = time.monotonic() + 5
        while _processes_with(marker) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _processes_with(marker) == []
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
