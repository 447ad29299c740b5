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

import argparse
import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from migcompat.errors import EnvironmentProblem, UsageError

DEFAULT_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
STAMP = ".migcompat-tree"


class FetchError(EnvironmentProblem):
    """A pinned source package could not be had (gone from the archive, no network...)."""


@dataclass(frozen=True)
class Pin:
    """One pinned source package from the lock file."""

    id: str
    package: str
    version: str
    suite: str
    uri: str
    keyring: str = DEFAULT_KEYRING
    components: tuple[str, ...] = ("main",)
    dsc_sha256: str | None = None
    # "orig": when the .dsc is gone but the upstream tarball is still in the pool, use the
    # tarball alone (no Debian patch layer). Set only where the lock file says so.
    fallback: str | None = None
    orig_sha256: str | None = None

    @property
    def slug(self) -> str:
        """File-system name: Debian's own file naming drops the epoch (``1:``)."""
        version = self.version.split(":", 1)[-1]
        return f"{self.package}_{version}"


def find_lock_file(start: Path | None = None) -> Path:
    """The lock file of the repository containing ``start`` (default: this package)."""
    here = (start or Path(__file__)).resolve()
    for parent in [here, *here.parents]:
        candidate = parent / "catalogs.lock.toml"
        if candidate.is_file():
            return candidate
    raise UsageError("catalogs.lock.toml not found (run from a migcompat checkout)")


def load_pins(lock_file: Path | None = None) -> dict[str, Pin]:
    """Read the pins, keyed by release id, in file order."""
    path = lock_file or find_lock_file()
    with path.open("rb") as f:
        data = tomllib.load(f)
    archive = data.get("archive", {})
    keyring = str(archive.get("keyring", DEFAULT_KEYRING))
    components = tuple(str(c) for c in archive.get("components", ["main"]))
    pins: dict[str, Pin] = {}
    for entry in data.get("release", []):
        pin = Pin(
            id=str(entry["id"]),
            package=str(entry.get("package", "qemu")),
            version=str(entry["version"]),
            suite=str(entry["suite"]),
            uri=str(entry["uri"]),
            keyring=str(entry.get("keyring", keyring)),
            components=tuple(str(c) for c in entry.get("components", components)),
            dsc_sha256=entry.get("dsc_sha256"),
            fallback=entry.get("fallback"),
            orig_sha256=entry.get("orig_sha256"),
        )
        pins[pin.id] = pin
    return pins


def cache_root() -> Path:
    """Where downloads and trees are kept: ``$MIGCOMPAT_CACHE/sources`` or ``~/.cache/...``."""
    base = os.environ.get("MIGCOMPAT_CACHE")
    if base:
        return Path(base).expanduser() / "sources"
    xdg = os.environ.get("XDG_CACHE_HOME")
    root = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return root / "migcompat" / "sources"


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Serialise fetches of the same package (parallel test workers share the cache)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class PrivateApt:
    """apt-get/apt-cache run against our own files for one suite, never /etc/apt."""

    def __init__(self, pin: Pin, root: Path) -> None:
        self.pin = pin
        self.dir = root / "apt" / pin.suite
        self.sources = self.dir / "sources.list"
        self.lists = self.dir / "lists"
        self.cache = self.dir / "cache"

    def options(self) -> list[str]:
        return [
            "-o", f"Dir::Etc::SourceList={self.sources}",
            "-o", "Dir::Etc::SourceParts=/nonexistent",
            "-o", f"Dir::State::Lists={self.lists}",
            "-o", f"Dir::Cache={self.cache}",
            "-o", "APT::Get::List-Cleanup=false",
        ]  # fmt: skip

    def prepare(self) -> None:
        (self.lists / "partial").mkdir(parents=True, exist_ok=True)
        (self.cache / "archives" / "partial").mkdir(parents=True, exist_ok=True)
        line = (
            f"deb-src [signed-by={self.pin.keyring}] {self.pin.uri} {self.pin.suite} "
            + " ".join(self.pin.components)
            + "\n"
        )
        if not self.sources.is_file() or self.sources.read_text() != line:
            self.sources.write_text(line)

    def run(self, tool: str, *args: str, cwd: Path | None = None) -> str:
        if shutil.which(tool) is None:
            raise FetchError(f"{tool} not found: fetching Debian sources needs apt")
        cmd = [tool, *self.options(), *args]
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            # apt's first "E:" line names the real cause (e.g. a 404); the last is a summary.
            lines = proc.stderr.strip().splitlines() or ["no output"]
            detail = next((line for line in lines if line.startswith("E:")), lines[-1])
            raise FetchError(f"{' '.join([tool, *args])} failed: {detail}")
        return proc.stdout

    def update(self) -> None:
        self.run("apt-get", "-q", "update")

    def has_version(self) -> bool:
        out = self.run("apt-cache", "showsrc", self.pin.package)
        versions = {
            line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Version:")
        }
        return self.pin.version in versions


def _say(message: str, quiet: bool) -> None:
    if not quiet:
        print(message, file=sys.stderr)


def _gone(pin: Pin) -> FetchError:
    return FetchError(
        f"pinned {pin.package} {pin.version} is no longer in Debian {pin.suite} "
        f"({pin.uri}); update catalogs.lock.toml"
    )


def _prepared_apt(pin: Pin, root: Path, quiet: bool) -> PrivateApt:
    apt = PrivateApt(pin, root)
    apt.prepare()
    _say(f"updating the private package lists for {pin.suite}", quiet)
    apt.update()
    if not apt.has_version():
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
        _say(f"downloading {pin.package} {pin.version} from {pin.suite}", quiet)
        try:
            apt.run("apt-get", "-q", "source", "--download-only",
                    f"{pin.package}={pin.version}", cwd=partial)  # fmt: skip
        except FetchError as exc:
            if "404" in str(exc):
                raise FetchError(
                    f"pinned {pin.package} {pin.version} is listed in Debian {pin.suite} but "
                    f"its source files are gone from {pin.uri} (HTTP 404)"
                ) from exc
            raise
        got = partial / dsc.name
        if not got.is_file():
            raise FetchError(f"apt-get source did not produce {dsc.name}")
        if pin.dsc_sha256 is not None and _sha256(got) != pin.dsc_sha256:
            raise FetchError(
                f"{dsc.name} does not match the dsc_sha256 pinned in catalogs.lock.toml"
            )
        if pool.exists():
            shutil.rmtree(pool)
        pool.parent.mkdir(parents=True, exist_ok=True)
        partial.rename(pool)
    finally:
        if partial.exists():
            shutil.rmtree(partial)
    return pool


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
        _say(f"downloading {name} (upstream tarball only) from {pin.suite}", quiet)
        proc = subprocess.run(
            [str(helper), *apt.options(), "download-file", uri, str(partial / name), digest],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if proc.returncode != 0 or not (partial / name).is_file():
            raise FetchError(f"could not download {name} from {pin.suite}: "
                             + (proc.stderr.strip().splitlines() or ["no output"])[-1])
        if pool.exists():
            shutil.rmtree(pool)
        pool.parent.mkdir(parents=True, exist_ok=True)
        partial.rename(pool)
    finally:
        if partial.exists():
            shutil.rmtree(partial)
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
        _say(f"unpacking {dsc.name}", quiet)
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
        _say(f"unpacking {tarball.name}", quiet)
        (work / "tree").mkdir()
        _run_unpacker(["tar", "-xf", str(tarball), "-C", str(work / "tree"),
                       "--strip-components=1"], tarball.name)  # fmt: skip
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
    with _locked(root / "locks" / f"{pin.slug}.lock"):
        tree = root / "trees" / pin.slug
        stamp = tree / STAMP
        if stamp.is_file() and pin.dsc_sha256 and stamp.read_text().strip() == pin.dsc_sha256:
            return tree
        orig = root / "trees" / f"{pin.slug}.orig"
        if pin.fallback == "orig" and (orig / STAMP).is_file():
            return orig
        try:
            pool = download(pin, root, quiet=quiet)
        except FetchError as exc:
            if pin.fallback != "orig" or "HTTP 404" not in str(exc):
                raise
            _say(f"warning: {exc}; using the upstream tarball alone (lock: fallback)", quiet)
            return unpack_orig(pin, download_orig(pin, root, quiet=quiet), root, quiet=quiet)
        return unpack(pin, pool, root, quiet=quiet)


def is_orig_only(tree: Path) -> bool:
    """True for a tree unpacked from the upstream tarball alone (no Debian patches)."""
    stamp = tree / STAMP
    return stamp.is_file() and stamp.read_text().startswith("orig:")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m migcompat.qemu.source.fetch",
        description="Fetch the pinned QEMU source trees (catalogs.lock.toml) into the cache.",
        epilog="example: python -m migcompat.qemu.source.fetch 7.2 --print-path",
    )
    parser.add_argument("ids", nargs="*", help="release ids to fetch (default: all pinned)")
    parser.add_argument("--lock", type=Path, help="lock file (default: the repository's)")
    parser.add_argument("--print-path", action="store_true", help="print each tree's path")
    parser.add_argument("--print-sha256", action="store_true",
                        help="print each .dsc digest, to pin it in the lock file")  # fmt: skip
    parser.add_argument("-q", "--quiet", action="store_true")
    args = parser.parse_args(argv)
    try:
        pins = load_pins(args.lock)
        ids = args.ids or list(pins)
        for release_id in ids:
            if release_id not in pins:
                raise UsageError(f"no pin for release {release_id!r} (have {', '.join(pins)})")
            pin = pins[release_id]
            tree = fetch(pin, quiet=args.quiet)
            if args.print_path:
                print(f"{release_id}\t{tree}")
            if args.print_sha256:
                print(f"{release_id}\t{(tree / STAMP).read_text().strip()}")
    except (FetchError, UsageError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
