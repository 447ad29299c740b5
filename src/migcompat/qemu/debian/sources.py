"""Reproducible download of pinned QEMU source trees from Debian.

The pins live in ``catalogs.lock.toml`` at the repository root. Every download goes
through a *private* APT configuration, one per suite, made of our own ``sources.list``
with a single ``deb-src`` line, our own lists directory and our own cache. The system's
``/etc/apt`` is never read for sources nor written (DESIGN.md "Real components").

Cache layout (``$MIGCOMPAT_CACHE/sources``, default ``~/.cache/migcompat/sources``)::

    apt/<suite>/sources.list     the private deb-src line for that suite
    apt/<suite>/lists/           apt's package lists for it
    apt/<suite>/cache/           apt's own cache (unused by source downloads)
    pool/<package>_<version>/    the .dsc, .orig and .debian tarballs as downloaded
    trees/<package>_<version>/   the unpacked tree, Debian patches applied

A tree is unpacked into a temporary directory and renamed when complete, so an
interrupted run never leaves a half tree that looks finished.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path

from migcompat.errors import FetchError, PackageFileGone, PackageGone
from migcompat.qemu.debian.apt import PrivateApt
from migcompat.qemu.debian.cache import cache_root as _cache_root
from migcompat.qemu.debian.cache import locked, say
from migcompat.qemu.debian.lock import STAMP, Pin


def cache_root() -> Path:
    """Where downloads and trees are kept: ``$MIGCOMPAT_CACHE/sources`` or ``~/.cache/...``."""
    return _cache_root("sources")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _gone(pin: Pin) -> PackageGone:
    return PackageGone(
        f"pinned {pin.package} {pin.version} is no longer in Debian {pin.suite} "
        f"({pin.uri}); update catalogs.lock.toml", pin.package, pin.version)


def _prepared_apt(pin: Pin, root: Path, quiet: bool) -> PrivateApt:
    apt = PrivateApt.for_source(pin, root)
    apt.prepare()
    say(f"updating the private package lists for {pin.suite}", quiet)
    apt.update()
    if pin.version not in apt.source_versions(pin.package):
        raise _gone(pin)
    return apt


def download(pin: Pin, root: Path | None = None, *, quiet: bool = False) -> Path:
    """The directory holding the pinned package's .dsc and tarballs, fetched if needed."""
    root = root or cache_root()
    pool = root / "pool" / pin.slug
    dsc = pool / f"{pin.slug}.dsc"
    if dsc.is_file() and (pin.dsc_sha256 is None or _sha256(dsc) == pin.dsc_sha256):
        return pool
    apt = _prepared_apt(pin, root, quiet)
    partial = Path(tempfile.mkdtemp(prefix=".download-", dir=root))
    try:
        say(f"downloading {pin.package} {pin.version} from {pin.suite}", quiet)
        try:
            apt.run(
                "apt-get",
                "-q",
                "source",
                "--download-only",
                f"{pin.package}={pin.version}",
                cwd=partial,
            )
        except PackageFileGone as exc:
            raise PackageFileGone(
                f"pinned {pin.package} {pin.version} is listed in Debian {pin.suite} but "
                f"its source files are gone from {pin.uri} (HTTP 404)"
            ) from exc
        got = partial / dsc.name
        if not got.is_file():
            raise FetchError(f"apt-get source did not produce {dsc.name}")
        if pin.dsc_sha256 is not None and _sha256(got) != pin.dsc_sha256:
            raise FetchError(
                f"{dsc.name} does not match the dsc_sha256 pinned in catalogs.lock.toml"
            )
        _replace(pool, partial)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return pool


def _replace(target: Path, done: Path) -> None:
    """Put the completed download ``done`` in place of ``target`` (a rename: a reader never
    sees half a pool directory)."""
    if target.exists():
        shutil.rmtree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    done.rename(target)


def download_orig(pin: Pin, root: Path | None = None, *, quiet: bool = False) -> Path:
    """Only the upstream tarball of the pinned package (the ``fallback = "orig"`` path).

    The URI and SHA-256 come from the suite's signed Sources index (``--print-uris``) and
    apt's own downloader checks the digest.
    """
    root = root or cache_root()
    pool = root / "pool" / f"{pin.slug}.orig"
    for tarball in sorted(pool.glob("*.orig.tar.*")) if pool.is_dir() else []:
        return tarball
    apt = _prepared_apt(pin, root, quiet)
    out = apt.run("apt-get", "-q", "source", "--print-uris", f"{pin.package}={pin.version}")
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 4 and ".orig.tar." in parts[1] and parts[3].startswith("SHA256:"):
            uri, name, digest = parts[0].strip("'"), parts[1], parts[3]
            break
    else:
        raise _gone(pin)
    if pin.orig_sha256 and digest != f"SHA256:{pin.orig_sha256}":
        raise FetchError(f"{name} does not match the orig_sha256 pinned in catalogs.lock.toml")
    helper = Path("/usr/lib/apt/apt-helper")
    if not helper.is_file():
        raise FetchError("apt-helper not found: fetching Debian sources needs apt")
    partial = Path(tempfile.mkdtemp(prefix=".download-", dir=root))
    try:
        say(f"downloading {name} (upstream tarball only) from {pin.suite}", quiet)
        proc = subprocess.run(
            [str(helper), *apt.options(), "download-file", uri, str(partial / name), digest],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0 or not (partial / name).is_file():
            raise FetchError(
                f"could not download {name} from {pin.suite}: "
                + (proc.stderr.strip().splitlines() or ["no output"])[-1]
            )
        _replace(pool, partial)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return pool / name


def _install_tree(work: Path, tree: Path, stamp: str) -> Path:
    (work / STAMP).write_text(stamp + "\n")
    if tree.exists():
        shutil.rmtree(tree)
    work.rename(tree)
    return tree


def _run_unpacker(cmd: list[str], what: str) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        detail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise FetchError(f"unpacking {what} failed: {detail}")


def unpack(pin: Pin, pool: Path, root: Path | None = None, *, quiet: bool = False) -> Path:
    """Unpack the package with Debian's patches applied (``dpkg-source -x``)."""
    root = root or cache_root()
    tree = root / "trees" / pin.slug
    dsc = pool / f"{pin.slug}.dsc"
    digest = _sha256(dsc)
    stamp = tree / STAMP
    if stamp.is_file() and stamp.read_text().strip() == digest:
        return tree
    if shutil.which("dpkg-source") is None:
        raise FetchError("dpkg-source not found: install dpkg-dev to unpack Debian sources")
    tree.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".unpack-", dir=tree.parent))
    try:
        say(f"unpacking {dsc.name}", quiet)
        _run_unpacker(["dpkg-source", "--no-check", "-x", str(dsc), str(work / "tree")], dsc.name)
        return _install_tree(work / "tree", tree, digest)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def unpack_orig(pin: Pin, tarball: Path, root: Path | None = None, *, quiet: bool = False) -> Path:
    """Unpack only the upstream tarball (no Debian patch layer)."""
    root = root or cache_root()
    tree = root / "trees" / f"{pin.slug}.orig"
    digest = "orig:" + _sha256(tarball)
    stamp = tree / STAMP
    if stamp.is_file() and stamp.read_text().strip() == digest:
        return tree
    tree.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".unpack-", dir=tree.parent))
    try:
        say(f"unpacking {tarball.name}", quiet)
        (work / "tree").mkdir()
        _run_unpacker(
            ["tar", "-xf", str(tarball), "-C", str(work / "tree"), "--strip-components=1"],
            tarball.name,
        )
        return _install_tree(work / "tree", tree, digest)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def fetch(pin: Pin, root: Path | None = None, *, quiet: bool = False) -> Path:
    """The unpacked source tree of ``pin``, from the cache when possible.

    Normally Debian's patches are applied. When the lock file marks the pin with
    ``fallback = "orig"`` and the package's own files are gone (HTTP 404), the tree is the
    upstream tarball alone; the caller can tell by :func:`is_orig_only`.
    """
    root = root or cache_root()
    with locked(root / "locks" / f"{pin.slug}.lock"):
        tree = root / "trees" / pin.slug
        stamp = tree / STAMP
        if stamp.is_file() and pin.dsc_sha256 and stamp.read_text().strip() == pin.dsc_sha256:
            return tree
        orig = root / "trees" / f"{pin.slug}.orig"
        if pin.fallback == "orig" and (orig / STAMP).is_file():
            return orig
        try:
            pool = download(pin, root, quiet=quiet)
        except PackageFileGone as exc:
            if pin.fallback != "orig":
                raise
            say(f"warning: {exc}; using the upstream tarball alone (lock: fallback)", quiet)
            return unpack_orig(pin, download_orig(pin, root, quiet=quiet), root, quiet=quiet)
        return unpack(pin, pool, root, quiet=quiet)


def is_orig_only(tree: Path) -> bool:
    """True for a tree unpacked from the upstream tarball alone (no Debian patches)."""
    stamp = tree / STAMP
    return stamp.is_file() and stamp.read_text().startswith("orig:")
