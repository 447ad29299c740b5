"""Make real QEMU migration streams for tests (shared test helper).

``make_stream(tmp_path, "pc-q35-7.2", [...])`` starts ``qemu-system-x86_64`` paused under TCG,
asks it over QMP to migrate to a file (``exec:cat > FILE``) and returns the file's path.
``load_stream`` runs a destination with ``-incoming "exec:cat FILE"`` and reports whether
QEMU accepted it, with its stderr.

``require_qemu()`` is the one gate: it returns the binary path, or skips the test with a
reason -- except under ``CI=true``, where a missing QEMU is a failure, not a skip.

Both take ``qemu=`` a :class:`migcompat.qemu.debian.builds.QemuBuild` to run another real build
(its binary, environment and ``-L`` firmware directory) instead of the system QEMU.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from migcompat.qemu.binary.qmp import wait_for_migration

if TYPE_CHECKING:
    from migcompat.qemu.debian.builds import QemuBuild

QEMU_BINARY = os.environ.get("MIGCOMPAT_QEMU", "qemu-system-x86_64")
# Options every run uses: no default devices, no display, paused, TCG (no KVM needed).
BASE_ARGS = ["-nodefaults", "-display", "none", "-S", "-accel", "tcg"]
VIRTIO_BLK_ARGS = [
    "-drive",
    "if=none,id=d0,file=null-co://,format=raw",
    "-device",
    "virtio-blk-pci,drive=d0",
]


def qemu_path() -> str | None:
    """The QEMU binary to use, or None when it is not installed."""
    return shutil.which(QEMU_BINARY)


def require_qemu() -> str:
    """Return the QEMU binary; skip (or fail under CI=true) when it is missing."""
    path = qemu_path()
    if path is None:
        reason = f"{QEMU_BINARY} is not installed"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason} (CI=true: tests that need QEMU must run)")
        pytest.skip(reason)
    return path


def _command(
    machine: str,
    extra_args: list[str],
    smp: int,
    mem: int,
    qmp_sock: Path,
    qemu: QemuBuild | None = None,
) -> list[str]:
    return [
        qemu.binary if qemu is not None else require_qemu(),
        *(qemu.args() if qemu is not None else []),
        *BASE_ARGS,
        "-M",
        machine,
        "-smp",
        str(smp),
        "-m",
        str(mem),
        "-qmp",
        f"unix:{qmp_sock},server=on,wait=off",
        *extra_args,
    ]


def _wait_for_socket(proc: subprocess.Popen[bytes], sock: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not sock.exists():
        if proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            raise RuntimeError(f"QEMU exited early ({proc.returncode}): {err}")
        if time.monotonic() > deadline:
            raise RuntimeError("QEMU did not open its QMP socket in time")
        time.sleep(0.02)


def _connect(qmp: Any, proc: subprocess.Popen[bytes], timeout: float) -> None:
    """Connect, retrying while QEMU lives: the socket file appears at bind(), a moment
    before QEMU listens, and a connection in between is refused."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            qmp.connect()
            return
        except Exception:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def make_stream(
    tmp_path: Path,
    machine: str,
    extra_args: list[str] | None = None,
    *,
    smp: int = 1,
    mem: int = 64,
    name: str | None = None,
    timeout: float = 60.0,
    qemu: QemuBuild | None = None,
) -> Path:
    """Migrate a paused QEMU to a file and return its path.

    ``mem`` is in MiB. The stream is written by QEMU itself (``exec:cat > FILE``), so it is
    exactly what a destination would read.
    """
    from qemu.qmp.legacy import QEMUMonitorProtocol

    extra = list(extra_args or [])
    out = tmp_path / (name or f"{machine}-smp{smp}-m{mem}.mig")
    # Unix socket paths are limited to ~108 bytes: keep the socket in a short directory.
    sock_dir = Path(_short_tmpdir())
    sock = sock_dir / "qmp.sock"
    proc = subprocess.Popen(
        _command(machine, extra, smp, mem, sock, qemu),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=qemu.env if qemu is not None else None,
    )
    try:
        _wait_for_socket(proc, sock, timeout)
        qmp = QEMUMonitorProtocol(str(sock))
        try:
            _connect(qmp, proc, timeout)
        except Exception:
            if proc.poll() is None:
                raise
            # it died before its monitor answered: say why, in its words
            proc.wait()
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            raise RuntimeError(f"QEMU exited early ({proc.returncode}): {err}") from None
        try:
            qmp.settimeout(timeout)
            # Write to a temporary name and rename: the file appears only once `cat` is done.
            part = out.with_name(out.name + ".part")
            qmp.cmd("migrate", uri=f"exec:cat > {part} && mv {part} {out}")
            deadline = time.monotonic() + timeout
            wait_for_migration(lambda: qmp.cmd("query-migrate"), deadline, poll=0.02)
            qmp.cmd("quit")
        finally:
            _close_quietly(qmp)
        proc.wait(timeout=timeout)
        while not out.exists():
            if time.monotonic() > deadline:
                raise RuntimeError(f"{out} did not appear in time")
            time.sleep(0.01)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stderr:
            proc.stderr.close()
        shutil.rmtree(sock_dir, ignore_errors=True)
    return out


@dataclass(frozen=True)
class LoadResult:
    """What a QEMU destination said about a stream."""

    ok: bool
    returncode: int | None
    stderr: str
    # False when QEMU exited before it opened its monitor: it refused the configuration
    # (an unknown machine or device type), so no load was even attempted.
    started: bool = True
    # The QOM properties asked for with ``qom=``, read once the load completed.
    qom: dict[tuple[str, str], Any] = field(default_factory=dict)


def load_stream(
    stream: Path,
    machine: str,
    extra_args: list[str] | None = None,
    *,
    smp: int = 1,
    mem: int = 64,
    timeout: float = 60.0,
    qemu: QemuBuild | None = None,
    qom: Sequence[tuple[str, str]] = (),
) -> LoadResult:
    """Run a QEMU destination on ``stream`` and report whether the load completed; ``qom``
    lists (path, property) pairs to read from the loaded destination."""
    from qemu.qmp.legacy import QEMUMonitorProtocol

    sock_dir = Path(_short_tmpdir())
    sock = sock_dir / "qmp.sock"
    cmd = _command(machine, list(extra_args or []), smp, mem, sock, qemu)
    cmd += ["-incoming", f"exec:cat {stream}"]
    proc = subprocess.Popen(
        cmd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=qemu.env if qemu is not None else None,
    )
    ok = False
    started = True
    early = ""
    values: dict[tuple[str, str], Any] = {}
    try:
        try:
            _wait_for_socket(proc, sock, timeout)
        except RuntimeError as exc:
            started = proc.poll() is None
            early = str(exc)  # it has read QEMU's stderr already
        if proc.poll() is None:
            qmp = QEMUMonitorProtocol(str(sock))
            try:
                _connect(qmp, proc, timeout)
                deadline = time.monotonic() + timeout
                while time.monotonic() < deadline:
                    info = qmp.cmd("query-migrate")
                    status = info.get("status") if isinstance(info, dict) else None
                    if status == "completed":
                        ok = True
                        values = {(path, prop): qmp.cmd("qom-get", path=path, property=prop)
                                  for path, prop in qom}
                        break
                    if status == "failed":
                        break
                    time.sleep(0.02)
                qmp.cmd("quit")
            except Exception:  # QEMU exits by itself when the load fails
                pass
            finally:
                _close_quietly(qmp)
        proc.wait(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        err = err or early
        if proc.stderr:
            proc.stderr.close()
        shutil.rmtree(sock_dir, ignore_errors=True)
    return LoadResult(ok=ok, returncode=proc.returncode, stderr=err, started=started,
                      qom=values)


def qom_values(machine: str, extra_args: Sequence[str], qom: Sequence[tuple[str, str]], *,
               qemu: QemuBuild | None = None) -> dict[tuple[str, str], Any]:
    """The QOM properties of a paused QEMU started with ``extra_args`` (no migration)."""
    from migcompat.qemu.binary.qmp import QemuProcess

    args = [*(qemu.args() if qemu is not None else []), "-M", machine, *extra_args]
    with QemuProcess(args, binary=qemu.binary if qemu is not None else require_qemu(),
                     env=qemu.env if qemu is not None else None) as proc:
        return {(path, prop): proc.cmd("qom-get", path=path, property=prop)
                for path, prop in qom}


def _short_tmpdir() -> str:
    import tempfile

    return tempfile.mkdtemp(prefix="mcq", dir="/tmp")


def _close_quietly(qmp: object) -> None:
    # After "quit" QEMU closes the socket itself; the client may see EOF while closing.
    # The client's own errors, EOFError, OSError: all mean "closed".
    with contextlib.suppress(Exception):
        qmp.close()  # type: ignore[attr-defined]


def pinned_tree(pin: str) -> Path:
    """The pinned QEMU source tree of release ``pin`` (fetched and cached); skip when it
    cannot be had, except under CI=true, where that is a failure."""
    from migcompat.errors import MigcompatError
    from migcompat.qemu.debian.lock import load_pins
    from migcompat.qemu.debian.sources import fetch

    try:
        return fetch(load_pins()[pin], quiet=True)
    except (MigcompatError, OSError) as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"the pinned QEMU {pin} source tree is needed under CI: {exc}")
        pytest.skip(f"the pinned QEMU {pin} source tree cannot be had here: {exc}")
