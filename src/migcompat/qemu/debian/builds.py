"""Real QEMU builds of other releases, unpacked privately from pinned Debian packages.

``build("5.2")`` gives what to run: the binary, its environment (``LD_LIBRARY_PATH`` for the
shared libraries the host lacks, ``QEMU_MODULE_DIR`` for the build's own modules) and the
firmware directory to pass with ``-L``.

A pin with ``system`` (7.2: ``/usr/bin/qemu-system-x86_64``) runs the system's binary as is
when it reports the pinned Debian build (Debian 12); when it is missing or another build (a
Debian 13 host has 10.0 there) and the pin also lists packages, the build is unpacked
privately like the others. ``MIGCOMPAT_BUILD_7_2`` (``MIGCOMPAT_BUILD_<id, . as _>``) or
``--use`` chooses: ``auto`` (the default, as just said), ``system`` (the system binary or
BuildUnavailable) or ``private`` (always the private build).

``migcompat builds fetch [5.2|7.2|10.0|all]`` (``make qemu-builds``) downloads
the packages pinned in ``catalogs.lock.toml`` (``[[build]]``) with a private APT configuration
(``migcompat.qemu.debian.deps``) and unpacks them with ``dpkg -x``. Nothing is installed.

Cache layout (``$MIGCOMPAT_CACHE/builds``, default ``~/.cache/migcompat/builds``)::

    apt/<id>/          the private sources.list, package lists and APT cache
    debs/<id>/         the downloaded .deb files
    <id>/root/         every package unpacked (dpkg -x), absolute links made relative
    <id>/firmware/     links to QEMU's firmware search path flattened, for -L
    <id>/.migcompat-build   stamp: the pinned package list; written last

A build is unpacked into a temporary directory and renamed when verified, so an
interrupted fetch never leaves something that looks finished.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from migcompat.errors import (
    BuildUnavailable,
    FetchError,
    PackageFileGone,
    PackageGone,
    QemuError,
    UsageError,
)
from migcompat.qemu.binary.qmp import QemuProcess
from migcompat.qemu.debian.apt import PrivateApt
from migcompat.qemu.debian.cache import cache_root as _cache_root
from migcompat.qemu.debian.cache import locked, say
from migcompat.qemu.debian.lock import BuildPin, load_build_pins, same_build

STAMP = ".migcompat-build"
LAYOUT = 1  # bump when the unpacked layout changes: old caches are rebuilt
LIBDIR = "usr/lib/x86_64-linux-gnu"
MODULE_DIR = f"{LIBDIR}/qemu"
BINARY = "usr/bin/qemu-system-x86_64"
# Debian configures QEMU with this firmware search path (``--firmwarepath``).
FIRMWARE_PATH = ("usr/share/qemu", "usr/share/seabios", "usr/lib/ipxe/qemu")
# The paused start every fetched build must survive (DESIGN.md: q35 5.1 is the common machine).
SMOKE_ARGS = ["-M", "pc-q35-5.1", "-m", "64"]
# How a pin with both a system binary and packages is run (choice_variable, --use).
USES = ("auto", "system", "private")


@dataclass(frozen=True)
class QemuBuild:
    """What to run for one release: ``[binary, *build.args(), ...]`` with ``env``."""

    id: str
    binary: str
    env: dict[str, str]  # the full environment (os.environ plus the build's variables)
    firmware_dir: str | None
    version: str  # the Debian version the binary reports
    private: bool

    def args(self) -> list[str]:
        return ["-L", self.firmware_dir] if self.firmware_dir else []

    def variables(self) -> dict[str, str]:
        """Only the build's own variables (for display)."""
        return {k: v for k, v in self.env.items()
                if k in ("LD_LIBRARY_PATH", "QEMU_MODULE_DIR")}


def cache_root() -> Path:
    """``$MIGCOMPAT_CACHE/builds``, else ``$XDG_CACHE_HOME`` or ``~/.cache`` + migcompat."""
    return _cache_root("builds")


def _stamp_text(pin: BuildPin) -> str:
    return json.dumps({"layout": LAYOUT, "id": pin.id, "packages": pin.all_packages()})


def _reported_version(binary: str, env: dict[str, str] | None) -> str:
    """The Debian version in ``-version`` ("... (Debian 1:5.2+dfsg-11+deb11u3)")."""
    try:
        out = subprocess.run([binary, "-version"], capture_output=True, text=True, env=env,
                             timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BuildUnavailable(f"{binary} -version failed: {exc}") from None
    m = re.search(r"\(Debian ([^)]+)\)", out.stdout)
    if out.returncode != 0 or m is None:
        detail = (out.stderr.strip().splitlines() or [out.stdout.strip()])[-1]
        raise BuildUnavailable(f"{binary} -version failed: {detail}")
    return m.group(1)


def _environment(prefix: Path) -> dict[str, str]:
    env = dict(os.environ)
    libs = str(prefix / "root" / LIBDIR)
    env["LD_LIBRARY_PATH"] = ":".join(p for p in (libs, env.get("LD_LIBRARY_PATH")) if p)
    env["QEMU_MODULE_DIR"] = str(prefix / "root" / MODULE_DIR)
    return env


def _private(pin: BuildPin, prefix: Path) -> QemuBuild:
    env = _environment(prefix)
    binary = str(prefix / "root" / BINARY)
    return QemuBuild(pin.id, binary, env, str(prefix / "firmware"),
                     _reported_version(binary, env), private=True)


def _system(pin: BuildPin) -> QemuBuild:
    """The system binary, when it is the pinned Debian build (a binNMU counts as the same)."""
    assert pin.system is not None
    if not os.access(pin.system, os.X_OK):
        raise BuildUnavailable(f"build {pin.id}: {pin.system} is not installed "
                               "(apt-get install qemu-system-x86 on Debian 12)")
    reported = _reported_version(pin.system, None)
    if not same_build(reported, pin.version):
        raise BuildUnavailable(f"build {pin.id}: {pin.system} is Debian {reported}, not the "
                               f"pinned {pin.version} (this host is not Debian 12?)")
    return QemuBuild(pin.id, pin.system, dict(os.environ), None, reported, private=False)


def choice_variable(release_id: str) -> str:
    """The environment variable choosing how a build runs: ``MIGCOMPAT_BUILD_7_2``."""
    return "MIGCOMPAT_BUILD_" + re.sub(r"\W", "_", release_id)


def _use(pin: BuildPin, use: str | None) -> str:
    """``auto``, ``system`` or ``private``: ``use``, else the pin's variable, else auto."""
    variable = choice_variable(pin.id)
    chosen = use or os.environ.get(variable, "").strip() or "auto"
    source = "--use" if use else variable
    if chosen not in USES:
        raise UsageError(f"{source}={chosen!r}: expected one of {', '.join(USES)}")
    if chosen == "system" and not pin.system:
        raise UsageError(f"{source}=system: build {pin.id} pins no system binary")
    if chosen == "private" and not pin.unpackable():
        raise UsageError(f"{source}=private: build {pin.id} pins no packages to unpack")
    return chosen


def _pin(release_id: str, lock: Path | None) -> BuildPin:
    pins = load_build_pins(lock)
    if release_id not in pins:
        raise UsageError(f"no [[build]] pin for release {release_id!r} "
                         f"(have {', '.join(pins)})")
    return pins[release_id]


def build(release_id: str, *, fetch_missing: bool = False, lock: Path | None = None,
          root: Path | None = None, quiet: bool = True, use: str | None = None) -> QemuBuild:
    """The runnable build of a release; raises BuildUnavailable when it is not fetched
    (unless ``fetch_missing``), FetchError when fetching fails.

    A pin with a system binary: that binary when it is the pinned build, else (``auto``) the
    private build of its packages. ``use`` (else ``$MIGCOMPAT_BUILD_<id>``) forces ``system``
    or ``private``."""
    pin = _pin(release_id, lock)
    chosen = _use(pin, use)
    why = ""
    if pin.system and chosen != "private":
        try:
            return _system(pin)
        except BuildUnavailable as exc:
            if chosen == "system" or not pin.unpackable():
                raise
            why = f"; {exc}"
            say(f"{exc}: using the private build", quiet)
    root = root or cache_root()
    prefix = root / pin.id
    stamp = prefix / STAMP
    if not (stamp.is_file() and stamp.read_text() == _stamp_text(pin)):
        if not fetch_missing:
            raise BuildUnavailable(f"QEMU build {pin.id} is not fetched (run `make qemu-builds` "
                                   f"or migcompat builds fetch {pin.id}{why})")
        fetch(pin, root, quiet=quiet)
    return _private(pin, prefix)


# -- fetching -------------------------------------------------------------------------------

def _deb_identity(deb: Path) -> tuple[str, str]:
    """(Package, Version) of a cached .deb; a broken file is removed (downloaded again)."""
    proc = subprocess.run(["dpkg-deb", "-f", str(deb), "Package", "Version"],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        deb.unlink(missing_ok=True)
        return "", ""
    fields = dict(line.split(": ", 1) for line in proc.stdout.splitlines() if ": " in line)
    return fields.get("Package", ""), fields.get("Version", "")


def download(apt: PrivateApt, pin: BuildPin, packages: list[tuple[str, str]],
             dest: Path) -> None:
    """``apt-get download`` the exact versions into ``dest``; one clear line when a pinned
    version left the archive or its file is gone."""
    if not packages:
        return
    try:
        apt.run("apt-get", "-q", "download", *(f"{n}={v}" for n, v in packages), cwd=dest)
    except PackageGone as exc:
        version = exc.version or dict(packages).get(exc.package, "?")
        raise PackageGone(f"pinned {exc.package} {version} (build {pin.id}) is no longer in "
                          f"Debian {pin.where()}; update catalogs.lock.toml",
                          exc.package, version) from None
    except PackageFileGone as exc:
        raise PackageFileGone(f"a pinned package of build {pin.id} is listed in {pin.where()} "
                              f"but its file is gone (HTTP 404): {exc}") from None


def _download(pin: BuildPin, root: Path, quiet: bool) -> list[Path]:
    """The pinned .debs, downloading only those not cached yet."""
    debs = root / "debs" / pin.id
    debs.mkdir(parents=True, exist_ok=True)
    have = {_deb_identity(d): d for d in debs.glob("*.deb")}
    wanted = pin.all_packages()
    missing = [p for p in wanted if p not in have]
    if missing:
        apt = PrivateApt.for_build(pin, root)
        apt.prepare()
        say(f"build {pin.id}: updating the private package lists ({pin.where()})", quiet)
        apt.update()
        say(f"build {pin.id}: downloading {len(missing)} packages", quiet)
        partial = Path(tempfile.mkdtemp(prefix=".download-", dir=debs))
        try:
            download(apt, pin, missing, partial)
            for deb in partial.glob("*.deb"):
                deb.rename(debs / deb.name)
        finally:
            shutil.rmtree(partial, ignore_errors=True)
        have = {_deb_identity(d): d for d in debs.glob("*.deb")}
    still = [f"{n}={v}" for n, v in wanted if (n, v) not in have]
    if still:
        raise FetchError(f"build {pin.id}: apt-get download did not produce {', '.join(still)}")
    return [have[p] for p in wanted]


def _relink(root: Path) -> None:
    """Make absolute links that point into the unpacked tree relative (Debian's
    /usr/share/qemu links into /usr/share/seabios etc. must not reach the host's files)."""
    for link in [p for p in root.rglob("*") if p.is_symlink()]:
        target = os.readlink(link)
        if target.startswith("/") and os.path.lexists(root / target.lstrip("/")):
            link.unlink()
            link.symlink_to(os.path.relpath(root / target.lstrip("/"), link.parent))


def _firmware_dir(root: Path, out: Path) -> None:
    """One directory holding QEMU's firmware search path, first match wins (as QEMU)."""
    out.mkdir()
    for sub in FIRMWARE_PATH:
        src = root / sub
        for item in sorted(src.iterdir()) if src.is_dir() else []:
            dest = out / item.name
            if not os.path.lexists(dest) and item.exists():
                dest.symlink_to(os.path.relpath(item, out))


def _missing_libraries(files: list[Path], env: dict[str, str]) -> list[str]:
    missing: set[str] = set()
    for f in files:
        out = subprocess.run(["ldd", str(f)], capture_output=True, text=True, env=env,
                             check=False).stdout
        missing |= {f"{ln.split()[0]} (for {f.name})" for ln in out.splitlines()
                    if "not found" in ln}
    return sorted(missing)


def _verify(pin: BuildPin, prefix: Path) -> QemuBuild:
    """Every library resolves, ``-version`` is the pinned build, and a paused start works."""
    env = _environment(prefix)
    root = prefix / "root"
    files = [root / BINARY, *sorted((root / MODULE_DIR).glob("*.so"))]
    missing = _missing_libraries(files, env)
    if missing:
        raise FetchError(f"build {pin.id} needs libraries this host lacks and the lock does not "
                         f"pin: {', '.join(missing)} (see `migcompat builds "
                         f"resolve {pin.id}`)")
    found = _private(pin, prefix)
    if not same_build(found.version, pin.version):
        raise FetchError(f"build {pin.id}: the binary reports Debian {found.version}, "
                         f"the lock pins {pin.version}")
    smoke(found)
    return found


def smoke(b: QemuBuild) -> str:
    """A paused start (``-M pc-q35-5.1 -nodefaults -display none -S``): QEMU's version."""
    try:
        with QemuProcess([*b.args(), *SMOKE_ARGS], binary=b.binary, env=b.env) as vm:
            major, minor, micro = vm.version()
    except QemuError as exc:
        raise FetchError(f"build {b.id} does not start: {exc}") from None
    return f"{major}.{minor}.{micro}"


def fetch(pin: BuildPin, root: Path | None = None, *, quiet: bool = False) -> Path:
    """Download, unpack and verify one private build; the cached prefix when it is current."""
    if not pin.unpackable():
        raise UsageError(f"build {pin.id} is the system QEMU ({pin.system}): nothing to fetch")
    root = root or cache_root()
    prefix = root / pin.id
    with locked(root / "locks" / f"{pin.id}.lock"):
        if (prefix / STAMP).is_file() and (prefix / STAMP).read_text() == _stamp_text(pin):
            return prefix
        for tool in ("dpkg-deb", "ldd"):
            if shutil.which(tool) is None:
                raise FetchError(f"{tool} not found: unpacking Debian packages needs it")
        debs = _download(pin, root, quiet)
        work = Path(tempfile.mkdtemp(prefix=f".unpack-{pin.id}-", dir=root))
        try:
            say(f"build {pin.id}: unpacking {len(debs)} packages", quiet)
            for deb in debs:
                subprocess.run(["dpkg-deb", "-x", str(deb), str(work / "root")],
                               capture_output=True, text=True, check=True)
            _relink(work / "root")
            _firmware_dir(work / "root", work / "firmware")
            if prefix.exists():
                shutil.rmtree(prefix)
            work.rename(prefix)  # no stamp yet: not finished until verified in place
        except subprocess.CalledProcessError as exc:
            raise FetchError(f"build {pin.id}: {' '.join(exc.cmd[:2])} failed: "
                             f"{(exc.stderr or '').strip()}") from None
        finally:
            shutil.rmtree(work, ignore_errors=True)
        _verify(pin, prefix)
        (prefix / STAMP).write_text(_stamp_text(pin))
    return prefix
