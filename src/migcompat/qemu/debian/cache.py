"""Where downloads are kept, and the lock that lets parallel runs share them.

``$MIGCOMPAT_CACHE/<kind>`` when set, else ``$XDG_CACHE_HOME/migcompat/<kind>`` or
``~/.cache/migcompat/<kind>``: never inside the repository. ``kind`` is ``sources`` (source
packages and their trees) or ``builds`` (unpacked binary builds).
"""

from __future__ import annotations

import contextlib
import fcntl
import sys
from collections.abc import Iterator
from pathlib import Path

from migcompat.catalog.cache import cache_root

__all__ = ["cache_root", "locked", "say"]


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if needed): one fetch of a package or a
    build at a time, as parallel test workers share the cache."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def say(message: str, quiet: bool) -> None:
    """A progress line on stderr, unless ``quiet``."""
    if not quiet:
        print(message, file=sys.stderr)
