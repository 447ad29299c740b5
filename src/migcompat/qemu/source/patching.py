"""A QEMU tree with a patch applied, in a scratch copy: ``lint TREE --patch FILE``.

The copy is made of hard links (a QEMU tree is 300 MB, its links take a second), and GNU
patch writes each file it changes anew, which breaks that file's link: the user's tree is
never touched.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from migcompat.errors import EnvironmentProblem, UsageError


@contextlib.contextmanager
def patched_tree(root: Path, patch: Path) -> Iterator[Path]:
    """Yield a copy of ``root`` with ``patch`` applied (``patch -p1``); removed afterwards."""
    if not root.is_dir():
        raise UsageError(f"{root}: not a directory (--patch needs a QEMU source tree)")
    if shutil.which("patch") is None:
        raise EnvironmentProblem("GNU patch is not installed (apt-get install patch)")
    scratch = Path(tempfile.mkdtemp(prefix="migcompat-patched-"))
    try:
        copy = scratch / root.resolve().name
        subprocess.run(["cp", "-al", str(root.resolve()), str(copy)], check=True,
                       capture_output=True)
        done = subprocess.run(["patch", "-p1", "--batch", "--forward", "--no-backup-if-mismatch",
                               "-d", str(copy), "-i", str(patch.resolve())],
                              capture_output=True, text=True)
        if done.returncode != 0:
            said = (done.stdout + done.stderr).strip().splitlines()
            raise UsageError(f"{patch}: does not apply to {root} with patch -p1: "
                             f"{said[-1] if said else 'patch failed'}")
        yield copy
    except subprocess.CalledProcessError as exc:
        raise UsageError(f"{root}: cannot copy the tree: {exc.stderr.decode().strip()}") from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
