"""Files that appear whole or not at all.

An output file is written unnamed (``O_TMPFILE`` in the target's directory) and linked
under its name only when complete: a writer killed with SIGKILL leaves nothing behind, and
a reader never sees half a file. Where the filesystem has no ``O_TMPFILE`` (or ``/proc``
is missing, which the link needs) the file is written as ``.NAME.XXXX.part`` beside the
target and renamed; only there can a killed writer leave a part file.

One rule for the mode of every file migcompat writes: ``0666`` less the umask, as a shell
redirection (or QEMU's ``exec:cat > FILE``) would give it.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import BinaryIO


def _mode() -> int:
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


class AtomicFile:
    """``AtomicFile(path)``: write to ``.file``, then ``commit()``; ``discard()`` (or a
    commit that never comes) leaves the directory as it was. Raises OSError."""

    def __init__(self, path: str | Path, buffering: int = 1 << 20) -> None:
        self.target = Path(path)
        folder = str(self.target.parent)
        self.tmp: Path | None = None  # the named part file, when O_TMPFILE is not there
        fd = -1
        if hasattr(os, "O_TMPFILE") and os.path.isdir("/proc/self/fd"):
            with contextlib.suppress(OSError):  # EOPNOTSUPP, EISDIR: not on this filesystem
                fd = os.open(folder, os.O_TMPFILE | os.O_WRONLY, _mode())
        if fd < 0:
            import tempfile  # here: its imports cost every command that reads a stream

            fd, name = tempfile.mkstemp(prefix=f".{self.target.name}.", suffix=".part",
                                        dir=folder)
            self.tmp = Path(name)
            os.fchmod(fd, _mode())
        self.fd = fd
        self.file: BinaryIO = os.fdopen(fd, "wb", buffering=buffering)
        self.done = False

    def commit(self) -> None:
        """Flush, sync the name in: the target now holds everything written."""
        self.file.flush()
        if self.tmp is None:
            # Link under a fresh name, then rename over the target (link cannot replace).
            name = self.target.with_name(f".{self.target.name}.{os.urandom(4).hex()}.part")
            # A directory fd makes os.link use linkat(AT_SYMLINK_FOLLOW): it links the file
            # behind /proc/self/fd/N, not the /proc symlink itself.
            folder = os.open(name.parent, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.link(f"/proc/self/fd/{self.fd}", name.name, dst_dir_fd=folder)
            finally:
                os.close(folder)
            self.tmp = name
        self.file.close()
        os.replace(self.tmp, self.target)
        self.done = True

    def discard(self) -> None:
        with contextlib.suppress(OSError):
            self.file.close()
        if not self.done and self.tmp is not None:
            with contextlib.suppress(OSError):
                self.tmp.unlink()
        self.done = True
