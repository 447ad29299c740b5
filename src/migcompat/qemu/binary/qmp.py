"""Start a paused QEMU and talk QMP to it, with guaranteed cleanup.

``with QemuProcess(["-M", "pc-q35-7.2", "-device", "e1000,id=n0"]) as vm: vm.cmd("qom-get",
path=..., property=...)``. The process runs with ``-nodefaults -display none -S -accel tcg``
in its own process group, its monitor is one end of a socketpair (no socket file, no
connection race), and it dies with us: the context manager kills the whole group on any
exit (errors and Ctrl-C included), an atexit hook catches forgotten processes, and on Linux
the child is also asked to be killed if its parent dies (PR_SET_PDEATHSIG).

QMP goes through ``qemu.qmp`` (QEMU's own client); its errors are translated at this
boundary into :class:`QemuError` subclasses that keep what was sent and received.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from types import TracebackType
from typing import IO, Any, TypeVar

from qemu.qmp import ExecuteError, QMPClient, QMPError

from migcompat.errors import QemuError, QemuNotFound, QmpCommandError

DEFAULT_BINARY = "qemu-system-x86_64"
# Options every run uses: no default devices, no display, paused, TCG (no KVM needed).
BASE_ARGS = ("-nodefaults", "-display", "none", "-S", "-accel", "tcg")
_PR_SET_PDEATHSIG = 1
_T = TypeVar("_T")


def wait_for_migration(query: Callable[[], Any], deadline: float,
                       poll: float = 0.01) -> None:
    """Poll ``query`` (QMP ``query-migrate``) until the outgoing migration completes;
    QemuError when it fails, is cancelled, or ``deadline`` (time.monotonic) passes."""
    while True:
        info = query()
        status = info.get("status") if isinstance(info, dict) else None
        if status == "completed":
            return
        if status in ("failed", "cancelled"):
            desc = info.get("error-desc", "") if isinstance(info, dict) else ""
            raise QemuError(f"migration {status}: {desc or info}")
        if time.monotonic() > deadline:
            raise QemuError(f"migration did not complete in time: {info}")
        time.sleep(poll)


def find_qemu(binary: str | None = None) -> str:
    """The QEMU binary to use: ``binary``, else $MIGCOMPAT_QEMU, else qemu-system-x86_64."""
    name = binary or os.environ.get("MIGCOMPAT_QEMU") or DEFAULT_BINARY
    found = shutil.which(name)
    if found is None:
        raise QemuNotFound(f"QEMU binary '{name}' not found (install qemu-system-x86 or "
                           "give --qemu PATH)")
    return found


# Every started process until it is closed (not weak: a forgotten one must still be killed).
_LIVE: set[QemuProcess] = set()


@atexit.register
def _kill_leftovers() -> None:  # pragma: no cover - only runs at interpreter exit
    for proc in list(_LIVE):
        proc.close()


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


class QmpSession:
    """A QMP client on its own event loop, used from synchronous code: one command at a
    time (:meth:`cmd`) or pipelined (:meth:`batch`). :class:`QemuProcess` (a QEMU we
    start) and running.QmpConnection (a QEMU someone else runs) share it, so that both
    translate qemu.qmp's errors the same way."""

    timeout: float
    _qmp: QMPClient | None
    _loop: asyncio.AbstractEventLoop | None

    def stderr_text(self) -> str:
        """QEMU's stderr, for error messages; empty when it is not ours to read."""
        return ""

    def _disconnect(self) -> None:
        """End the session and its loop; safe to call twice."""
        qmp, self._qmp = self._qmp, None
        loop, self._loop = self._loop, None
        if loop is not None:
            if qmp is not None:
                with contextlib.suppress(Exception):
                    loop.run_until_complete(asyncio.wait_for(qmp.disconnect(), 5))
            loop.close()

    def _run(self, aw: Awaitable[_T]) -> _T:
        assert self._loop is not None
        return self._loop.run_until_complete(asyncio.wait_for(aw, self.timeout))

    def _translate(self, name: str, args: dict[str, Any], exc: BaseException) -> QemuError:
        if isinstance(exc, ExecuteError):
            return QmpCommandError(name, args, exc.error_class, exc.error.error.desc)
        return QemuError(f"QMP {name} failed: {type(exc).__name__}: {exc}", self.stderr_text())

    def cmd(self, name: str, **args: Any) -> Any:
        """Run one QMP command; return its ``return`` value or raise QmpCommandError."""
        if self._qmp is None:
            raise QemuError("QEMU is not running")
        try:
            return self._run(self._qmp.execute(name, args or None))
        except (QMPError, OSError, EOFError, TimeoutError) as exc:
            raise self._translate(name, args, exc) from None

    def batch(self, commands: Sequence[tuple[str, dict[str, Any]]]) -> list[Any]:
        """Run commands pipelined (all in flight at once; QEMU answers in order).

        Each result is the command's return value, or a QmpCommandError *instance* for a
        command QEMU refused (so one missing property does not cost a round trip per
        property). A broken session still raises.
        """
        qmp = self._qmp
        if qmp is None:
            raise QemuError("QEMU is not running")

        async def one(name: str, args: dict[str, Any]) -> Any:
            try:
                return await qmp.execute(name, args or None)
            except ExecuteError as exc:
                return self._translate(name, args, exc)

        async def run_all() -> list[Any]:
            return list(await asyncio.gather(*(one(n, a) for n, a in commands)))

        try:
            return self._run(run_all())
        except (QMPError, OSError, EOFError, TimeoutError) as exc:
            raise self._translate(commands[0][0] if commands else "batch", {}, exc) from None

    def version(self) -> tuple[int, int, int]:
        v = self.cmd("query-version")["qemu"]
        return int(v["major"]), int(v["minor"]), int(v["micro"])

    def package(self) -> str:
        return str(self.cmd("query-version").get("package", "")).strip()


class QemuProcess(QmpSession):
    """A paused QEMU with a QMP session. Use it as a context manager."""

    def __init__(self, args: Sequence[str], binary: str | None = None,
                 env: dict[str, str] | None = None, timeout: float = 30.0,
                 base_args: Sequence[str] = BASE_ARGS) -> None:
        self.binary = find_qemu(binary)
        self.args = list(args)
        self.env = env
        self.timeout = timeout
        self.base_args = list(base_args)
        self._proc: subprocess.Popen[bytes] | None = None
        self._qmp: QMPClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sock: socket.socket | None = None
        self._stderr: IO[bytes] | None = None
        self._final_stderr = ""
        self.greeting: dict[str, Any] = {}

    # -- lifecycle ---------------------------------------------------------------------
    def __enter__(self) -> QemuProcess:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def command_line(self, monitor_fd: int) -> list[str]:
        return [self.binary, *self.base_args,
                "-chardev", f"socket,id=migcompat-mon,fd={monitor_fd}",
                "-mon", "chardev=migcompat-mon,mode=control", *self.args]

    def start(self) -> None:
        ours, theirs = socket.socketpair()
        self._sock = ours
        # A file, not a pipe: QEMU's warnings can never fill a pipe and block it.
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed in close()
        _LIVE.add(self)
        try:
            self._proc = subprocess.Popen(
                self.command_line(theirs.fileno()), pass_fds=[theirs.fileno()],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self._stderr,
                start_new_session=True, env=self.env, preexec_fn=_die_with_parent)
        except OSError as exc:
            self.close()
            raise QemuError(f"cannot start {self.binary}: {exc}") from None
        finally:
            theirs.close()
        try:
            self._loop = asyncio.new_event_loop()
            self._qmp = QMPClient("migcompat")
            self._run(self._qmp.connect(ours))
            greeting = self._qmp.greeting
            self.greeting = dict(greeting._asdict()) if greeting is not None else {}
        except (QMPError, OSError, TimeoutError) as exc:
            err = self.stderr_text()
            self.close()
            raise QemuError(f"QEMU did not start ({type(exc).__name__}): "
                            f"{' '.join(self.args)}", err) from None
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Kill QEMU's process group and release everything; safe to call twice."""
        proc, self._proc = self._proc, None
        if proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)
        self._disconnect()
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()
        if self._stderr is not None:
            self._final_stderr = self.stderr_text()
            self._stderr.close()
            self._stderr = None
        _LIVE.discard(self)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def stderr_text(self) -> str:
        if self._stderr is None:
            return self._final_stderr
        self._stderr.flush()
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")
