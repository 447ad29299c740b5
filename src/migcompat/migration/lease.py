"""Read leases: map a stream file only while no other process can shrink it.

A mapped file that shrinks kills the process with SIGBUS at the next access beyond its new
end, and CPython cannot recover from that signal. A read lease (``fcntl(fd, F_SETLEASE,
F_RDLCK)``, fcntl(2) "Leases") prevents it: the kernel grants one only when no process has
the file open for writing, and while it is held, another process's ``open`` for writing or
``truncate`` first notifies the holder (SIGIO) and then waits until the holder lets go, or
until ``/proc/sys/fs/lease-break-time`` (45 s by default) has passed. The holder sees the
pending break as ``F_GETLEASE`` answering ``F_UNLCK``, stops reading, unmaps the file and
closes it, which releases the lease.

SIGIO terminates a process by default, so a handler is installed while any lease is held
(and the one before it restored after). Only the main thread may install one: elsewhere no
lease is taken, and the caller reads the file without mapping it.
"""

from __future__ import annotations

import contextlib
import fcntl
import signal
import threading
from types import FrameType
from typing import Any

_held = 0  # leases held by this process
_previous: Any = None  # the SIGIO handler before ours


def _on_break(signum: int, frame: FrameType | None) -> None:
    # The reader notices at its next slice (lease_held): nothing to do here but not die.
    if callable(_previous):
        _previous(signum, frame)


def take_read_lease(fd: int) -> bool:
    """Take a read lease on ``fd`` (opened read-only); False when none can be had: the file
    is open for writing elsewhere (EAGAIN), belongs to another user (EACCES), lives on a
    file system without leases (EINVAL), or this is not the main thread."""
    global _held, _previous
    if threading.current_thread() is not threading.main_thread():
        return False
    if _held == 0:
        try:
            _previous = signal.signal(signal.SIGIO, _on_break)
        except (ValueError, OSError):
            return False
    try:
        fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_RDLCK)
    except OSError:
        if _held == 0:
            _restore()
        return False
    _held += 1
    return True


def lease_held(fd: int) -> bool:
    """True while the lease on ``fd`` is not being broken by another process."""
    try:
        return fcntl.fcntl(fd, fcntl.F_GETLEASE) == fcntl.F_RDLCK
    except OSError:
        return False


def release_lease(fd: int) -> None:
    """Let go of the lease on ``fd`` (before closing it; closing would do it too)."""
    global _held
    with contextlib.suppress(OSError):
        fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_UNLCK)
    _held -= 1
    if _held == 0:
        _restore()


def _restore() -> None:
    global _previous
    with contextlib.suppress(ValueError, OSError, TypeError):
        signal.signal(signal.SIGIO, _previous if _previous is not None else signal.SIG_DFL)
    _previous = None
