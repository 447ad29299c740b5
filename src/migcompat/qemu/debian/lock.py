"""The lock file ``catalogs.lock.toml``: the pinned Debian QEMU packages.

``[[release]]`` entries pin source packages (:class:`Pin`: the trees ``import-source``
reads); ``[[build]]`` entries pin binary builds (:class:`BuildPin`: QEMU, its modules,
firmware and the libraries a host lacks), see docs/real-migrations.md.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from migcompat.errors import FetchError, UsageError

DEFAULT_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
STAMP = ".migcompat-tree"


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


ROLES = ("qemu", "modules", "firmware", "libraries")


@dataclass(frozen=True)
class BuildPin:
    """One ``[[build]]`` entry: a QEMU build to run, system-wide or unpacked privately."""

    id: str
    version: str  # the Debian version of the QEMU build
    system: str | None = None  # a system binary: nothing to download
    sources: tuple[str, ...] = ()  # "URI SUITE" pairs, searched together
    keyring: str = DEFAULT_KEYRING
    components: tuple[str, ...] = ("main",)
    # role -> {package: version}; "qemu" and "modules" packages are all at ``version``.
    packages: dict[str, dict[str, str]] = field(default_factory=dict)

    def all_packages(self) -> list[tuple[str, str]]:
        """Every pinned (package, version), in role order."""
        return [(name, ver) for role in ROLES for name, ver in self.packages.get(role, {}).items()]

    def where(self) -> str:
        return ", ".join(self.sources) or "the system"

    def unpackable(self) -> bool:
        """Whether packages are pinned (a private build can be made), system binary or not."""
        return bool(self.sources) and any(self.packages.get(role) for role in ROLES)


def _versions(entry: dict[str, object], role: str, version: str) -> dict[str, str]:
    value = entry.get(role, [] if role in ("qemu", "modules") else {})
    if isinstance(value, list):  # names only: the build's own version
        return {str(name): version for name in value}
    if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
        return {str(k): v for k, v in value.items()}
    raise FetchError(f"catalogs.lock.toml: build.{role} must be a list of names or a table "
                     'of name = "version" (quote names with dots)')


def load_build_pins(lock_file: Path | None = None) -> dict[str, BuildPin]:
    """The ``[[build]]`` pins, keyed by release id, in file order."""
    path = lock_file or find_lock_file()
    with path.open("rb") as f:
        data = tomllib.load(f)
    archive = data.get("archive", {})
    pins: dict[str, BuildPin] = {}
    for entry in data.get("build", []):
        version = str(entry["version"])
        pin = BuildPin(
            id=str(entry["id"]),
            version=version,
            system=entry.get("system"),
            sources=tuple(str(s) for s in entry.get("sources", ())),
            keyring=str(entry.get("keyring", archive.get("keyring", DEFAULT_KEYRING))),
            components=tuple(str(c) for c in entry.get("components",
                                                       archive.get("components", ["main"]))),
            packages={role: _versions(entry, role, version) for role in ROLES},
        )
        pins[pin.id] = pin
    return pins


def same_build(reported: str, pinned: str) -> bool:
    """A binary reporting Debian version ``reported`` is the build of source ``pinned``
    (a binNMU ``+bN`` rebuilds the same source)."""
    return re.sub(r"\+b\d+$", "", reported) == pinned
