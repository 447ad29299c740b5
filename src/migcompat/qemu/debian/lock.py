"""The lock file ``catalogs.lock.toml``: the pinned Debian QEMU source packages."""

from __future__ import annotations

import tomllib
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
