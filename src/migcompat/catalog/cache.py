"""Built releases kept between runs, so a command does not rebuild the catalog each time.

A real release takes 0.1-0.2 s to build from its JSON (parse, check every value, build the
types and machines) and most commands need two; its pickle loads in a third of that. The
key is the content of every file of the catalog (a hash: an edited or replaced file is a
new key whatever its mtime) and the code that builds and holds a release (its modules'
sizes and mtimes: a changed model is a new key, so a pickle of old classes never loads).
Any problem with the cache (unwritable, a stale or broken entry) only means a rebuild.

The cache lives in ``cache_root("catalogs")``; ``MIGCOMPAT_CATALOG_CACHE=off`` turns it off. An
entry is used only when the current user owns it and nobody else can write it: a pickle
runs code when loaded, so it must be as trusted as the code itself.
"""

from __future__ import annotations

import contextlib
import gc
import os
from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import migcompat
from migcompat.gctools import collector_paused

_T = TypeVar("_T")
# The packages whose classes a pickled release holds, or that decide how it is built.
_CODE = ("catalog", "model", "vmstate")
KEEP = 48  # entries kept: the releases of a few catalogs under a few versions of the code


def cache_root(kind: str) -> Path:
    """``$MIGCOMPAT_CACHE/<kind>``, else ``$XDG_CACHE_HOME`` or ``~/.cache`` + migcompat;
    never inside the repository."""
    base = os.environ.get("MIGCOMPAT_CACHE")
    if base:
        return Path(base).expanduser() / kind
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "migcompat" / kind


def enabled() -> bool:
    return os.environ.get("MIGCOMPAT_CATALOG_CACHE", "").lower() not in ("off", "0", "no")


@cache
def _code_fingerprint() -> bytes:
    import hashlib  # here, not at the top: OpenSSL's load is 13 ms that a command
    # without a catalog (analyze, migrate) would pay for nothing
    root = Path(migcompat.__file__).parent
    h = hashlib.sha256(migcompat.__version__.encode())
    for package in _CODE:
        for py in sorted((root / package).glob("*.py")):
            st = py.stat()
            h.update(f"{py.name}:{st.st_size}:{st.st_mtime_ns};".encode())
    return h.digest()


def key(name: str, files: Iterable[Path]) -> str:
    """The cache key of ``name`` (a release id) built from ``files``; raises OSError when
    one cannot be read."""
    import hashlib  # here: see _code_fingerprint

    h = hashlib.sha256(_code_fingerprint())
    h.update(name.encode() + b"\0")
    for path in files:
        h.update(str(path).encode() + b"\0")
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def trusted(path: Path) -> bool:
    st = path.stat()
    return st.st_uid == os.getuid() and not st.st_mode & 0o022


def cached(name: str, files: Iterable[Path], build: Callable[[], _T]) -> _T:
    """``build()``'s result, from the cache when an entry for ``name`` and ``files`` exists."""
    if not enabled():
        return build()
    try:
        entry = cache_root("catalogs") / f"{key(name, files)}.pickle"
    except OSError:
        return build()
    with contextlib.suppress(Exception):  # a broken or foreign entry: rebuild
        if trusted(entry):
            with entry.open("rb") as f:
                value: _T = load_kept(f)
            return value
    value = build()
    store(entry, value)
    if FREEZE_LOADED:  # as load_kept does with a loaded one
        gc.freeze()
    return value


# Set by the command line when the process is its own (cli/main.py): see load_kept.
FREEZE_LOADED = False


def load_kept(f: BinaryIO) -> Any:
    """Unpickle an entry that lives as long as the process (a release, a capture).

    Unpickling allocates hundreds of thousands of objects, none of them garbage: the cycle
    collector is paused for the load (gctools.py; a third of the load's time). In a
    process that is one command's own (``FREEZE_LOADED``), what was loaded is then moved
    out of the collector's sight (``gc.freeze``): every later full collection would walk
    it again for nothing, which costs a ``check`` a fifth of its time. A long-lived process
    (a test run, a program that imports the library) keeps the collector's usual view, so
    that what it drops can still be freed."""
    import pickle  # only where a catalog or a capture is read (the same for tempfile)

    with collector_paused():
        value = pickle.load(f)
    if FREEZE_LOADED:
        gc.freeze()
    return value


def store(entry: Path, value: object) -> None:
    """Write the entry whole or not at all; any failure is left silent (no cache)."""
    import pickle  # here: see load_kept

    with contextlib.suppress(Exception):
        write_whole(entry, pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
        _prune(entry.parent)


def write_whole(entry: Path, data: bytes) -> None:
    """``data`` as ``entry``, whole or not at all, in a directory only this user reads."""
    import tempfile  # here: only a writer needs it (start-up of the readers)

    entry.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=entry.parent, prefix=".part-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, entry)
    except BaseException:
        os.unlink(tmp)
        raise


def _prune(directory: Path, keep: int = KEEP) -> None:
    """Drop the oldest entries beyond ``keep`` (each code change makes new keys)."""
    entries = sorted(directory.glob("*.pickle"), key=lambda p: p.stat().st_mtime_ns)
    for old in entries[:-keep]:
        old.unlink(missing_ok=True)
