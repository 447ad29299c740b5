"""Shared definitions of the streamfile tests: the streams and their QEMU configurations."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from qemu_helpers import (
    VIRTIO_BLK_ARGS,
    _close_quietly,
    _command,
    _connect,
    _short_tmpdir,
    _wait_for_socket,
)

BLOB_SIZE = 8 << 20  # random data the dense stream puts in RAM at 0x400000
BLOB_ADDR = 0x400000

# name -> (machine, extra args, smp, MiB)
SPECS: dict[str, tuple[str, list[str], int, int]] = {
    "q35-7.2": ("pc-q35-7.2", VIRTIO_BLK_ARGS, 2, 64),
    "q35-5.1": ("pc-q35-5.1", VIRTIO_BLK_ARGS, 2, 64),
    "i440fx-7.2": ("pc-i440fx-7.2", VIRTIO_BLK_ARGS, 1, 64),
    "i440fx-5.1": ("pc-i440fx-5.1", [], 1, 64),
    "i440fx-2.3": ("pc-i440fx-2.3", [], 1, 64),
    "q35-7.2-novmdesc": ("pc-q35-7.2,suppress-vmdesc=on", VIRTIO_BLK_ARGS, 2, 64),
    # destinations saved with the destination's configuration (for --against)
    "d-nodev": ("pc-q35-7.2", [], 2, 64),
    "d-nq1": ("pc-q35-7.2", [*VIRTIO_BLK_ARGS, "-global", "virtio-blk-device.num-queues=1"],
              2, 64),
    "d-m128": ("pc-q35-7.2", VIRTIO_BLK_ARGS, 2, 128),
    "d-smp1": ("pc-q35-7.2", VIRTIO_BLK_ARGS, 1, 64),
    "d-q35-5.1": ("pc-q35-5.1", VIRTIO_BLK_ARGS, 2, 64),
    "d-i440fx-7.2": ("pc-i440fx-7.2", [], 1, 64),
    "d-q35-plain": ("pc-q35-7.2", [], 1, 64),
}


def qemu_args(name: str) -> tuple[str, list[str], int, int]:
    """The QEMU configuration a stream was made with (a destination uses the same)."""
    machine, extra, smp, mem = SPECS[name]
    return machine.split(",")[0], extra, smp, mem


def load_and_query(stream: Path, machine: str, extra: list[str], smp: int, mem: int,
                   commands: list[tuple[str, dict[str, Any]]],
                   timeout: float = 60.0) -> tuple[str, list[Any], str]:
    """Load ``stream`` into a QEMU destination, then run QMP ``commands`` on the loaded VM.

    Returns the migration status (``completed`` or ``failed``), the command results and
    QEMU's stderr."""
    from qemu.qmp.legacy import QEMUMonitorProtocol

    sock_dir = Path(_short_tmpdir())
    sock = sock_dir / "qmp.sock"
    cmd = [*_command(machine, extra, smp, mem, sock), "-incoming", f"exec:cat {stream}"]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    status, results = "failed", []
    try:
        _wait_for_socket(proc, sock, timeout)
        qmp = QEMUMonitorProtocol(str(sock))
        _connect(qmp, proc, timeout)  # refused for a moment after bind(): retried
        try:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                info = qmp.cmd("query-migrate")
                status = info.get("status", "") if isinstance(info, dict) else ""
                if status in ("completed", "failed"):
                    break
                time.sleep(0.02)
            if status == "completed":
                results = [qmp.cmd(name, **args) for name, args in commands]
            qmp.cmd("quit")
        except (OSError, EOFError, RuntimeError):
            status = "failed"  # QEMU exits by itself when the load fails
        finally:
            _close_quietly(qmp)
        proc.wait(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        if proc.stderr:
            proc.stderr.close()
        shutil.rmtree(sock_dir, ignore_errors=True)
    return status, results, err


def make_stream_with_capabilities(out: Path, machine: str, extra: list[str], smp: int,
                                  mem: int, capabilities: list[str],
                                  timeout: float = 60.0) -> Path:
    """Like qemu_helpers.make_stream, with migration capabilities set on the source (they
    travel in the configuration section, reference §1.2)."""
    from qemu.qmp.legacy import QEMUMonitorProtocol

    sock_dir = Path(_short_tmpdir())
    sock = sock_dir / "qmp.sock"
    proc = subprocess.Popen(_command(machine, extra, smp, mem, sock), stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_for_socket(proc, sock, timeout)
        qmp = QEMUMonitorProtocol(str(sock))
        _connect(qmp, proc, timeout)  # refused for a moment after bind(): retried
        try:
            qmp.cmd("migrate-set-capabilities", capabilities=[
                {"capability": c, "state": True} for c in capabilities])
            part = out.with_name(out.name + ".part")
            qmp.cmd("migrate", uri=f"exec:cat > {part} && mv {part} {out}")
            deadline = time.monotonic() + timeout
            while qmp.cmd("query-migrate").get("status") != "completed":
                if time.monotonic() > deadline:
                    raise RuntimeError("migration did not complete in time")
                time.sleep(0.02)
            qmp.cmd("quit")
        finally:
            _close_quietly(qmp)
        proc.wait(timeout=timeout)
        while not out.exists():
            time.sleep(0.01)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stderr:
            proc.stderr.close()
        shutil.rmtree(sock_dir, ignore_errors=True)
    return out
