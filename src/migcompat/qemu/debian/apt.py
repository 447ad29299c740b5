"""apt-get and apt-cache run against a private configuration, never ``/etc/apt``.

One class serves source packages (``deb-src`` lines, one directory per suite) and binary
builds (``deb`` lines, one directory per build): its own ``sources.list``, lists and cache,
and ``Dir::Etc::SourceParts`` pointing nowhere, so the system's sources are never read and
nothing is ever installed (DESIGN.md "Real components"). What apt prints on failure is
read here, once, into an error class (:class:`~migcompat.errors.PackageGone`,
:class:`~migcompat.errors.PackageFileGone`), so callers never read message text.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from migcompat.errors import FetchError, PackageFileGone, PackageGone
from migcompat.qemu.debian.lock import BuildPin, Pin

_NOT_FOUND = re.compile(r"Version '([^']+)' for '([^']+)' was not found")
_NO_PACKAGE = re.compile(r"Unable to locate package (\S+)")
_HTTP_404 = re.compile(r"\b404\b")


def apt_failure(command: str, stderr: str) -> FetchError:
    """The error for a failed apt command, from what apt printed on stderr: the first
    ``E:`` line names the real cause (a 404, a missing version); the last is a summary."""
    lines = stderr.strip().splitlines() or ["no output"]
    detail = next((line for line in lines if line.startswith("E:")), lines[-1])
    message = f"{command} failed: {detail}"
    if m := _NOT_FOUND.search(detail):
        return PackageGone(message, package=m.group(2), version=m.group(1))
    if m := _NO_PACKAGE.search(detail):
        return PackageGone(message, package=m.group(1))
    if _HTTP_404.search(detail):
        return PackageFileGone(message)
    return FetchError(message)


class PrivateApt:
    """apt for the suites ``lines`` name (``sources.list`` lines), on files under ``dir``.

    ``host_status=False`` also hides the host's installed packages (to ask what another
    Debian release's host would have)."""

    def __init__(self, directory: Path, lines: list[str], *, host_status: bool = True) -> None:
        self.dir = directory
        self.lines = lines
        self.sources = self.dir / "sources.list"
        self.lists = self.dir / "lists"
        self.cache = self.dir / "cache"
        self.host_status = host_status

    @classmethod
    def for_source(cls, pin: Pin, root: Path) -> PrivateApt:
        """The ``deb-src`` line of a pinned source package's suite."""
        comps = " ".join(pin.components)
        return cls(root / "apt" / pin.suite,
                   [f"deb-src [signed-by={pin.keyring}] {pin.uri} {pin.suite} {comps}"])

    @classmethod
    def for_build(cls, pin: BuildPin, root: Path, *, host_status: bool = True) -> PrivateApt:
        """The ``deb`` lines of every suite a build's packages come from."""
        comps = " ".join(pin.components)
        return cls(root / "apt" / pin.id,
                   [f"deb [signed-by={pin.keyring}] {source} {comps}" for source in pin.sources],
                   host_status=host_status)

    def options(self) -> list[str]:
        status = [] if self.host_status else ["-o", "Dir::State::status=/dev/null"]
        return ["-o", f"Dir::Etc::SourceList={self.sources}",
                "-o", "Dir::Etc::SourceParts=/nonexistent",
                "-o", f"Dir::State::Lists={self.lists}",
                "-o", f"Dir::Cache={self.cache}",
                "-o", "APT::Get::List-Cleanup=false", *status]

    def prepare(self) -> None:
        (self.lists / "partial").mkdir(parents=True, exist_ok=True)
        (self.cache / "archives" / "partial").mkdir(parents=True, exist_ok=True)
        text = "".join(f"{line}\n" for line in self.lines)
        if not self.sources.is_file() or self.sources.read_text() != text:
            self.sources.write_text(text)

    def run(self, tool: str, *args: str, cwd: Path | None = None) -> str:
        if shutil.which(tool) is None:
            raise FetchError(f"{tool} not found: fetching Debian packages needs apt")
        proc = subprocess.run([tool, *self.options(), *args], cwd=cwd, capture_output=True,
                              text=True, check=False)
        if proc.returncode != 0:
            raise apt_failure(f"{tool} {' '.join(args[:3])}", proc.stderr)
        return proc.stdout

    def update(self) -> None:
        self.run("apt-get", "-q", "update")

    def source_versions(self, package: str) -> set[str]:
        """The versions of a source package the suite's Sources index lists."""
        out = self.run("apt-cache", "showsrc", package)
        return {line.split(":", 1)[1].strip() for line in out.splitlines()
                if line.startswith("Version:")}

    def depends(self, name: str, version: str) -> list[list[tuple[str, str]]]:
        """The Depends of one package version: groups of alternatives (name, constraint)."""
        out = self.run("apt-cache", "show", f"{name}={version}")
        stanza = out.split("\n\n", 1)[0]
        line = next((ln for ln in stanza.splitlines() if ln.startswith(("Depends:",
                                                                          "Pre-Depends:"))), "")
        groups = []
        for group in line.partition(":")[2].split(","):
            alts = []
            for alt in group.split("|"):
                m = re.match(r"\s*([^\s(:]+)(?::\S+)?\s*(?:\(([^)]*)\))?", alt)
                if m and m.group(1):
                    alts.append((m.group(1), (m.group(2) or "").strip()))
            if alts:
                groups.append(alts)
        return groups

    def candidate(self, name: str) -> str | None:
        out = self.run("apt-cache", "policy", name)
        m = re.search(r"^\s*Candidate:\s*(\S+)", out, re.M)
        return m.group(1) if m and m.group(1) != "(none)" else None
