"""apt-get and apt-cache run against a private configuration, never ``/etc/apt``."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from migcompat.qemu.debian.lock import FetchError, Pin


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
            "-o",
            f"Dir::Etc::SourceList={self.sources}",
            "-o",
            "Dir::Etc::SourceParts=/nonexistent",
            "-o",
            f"Dir::State::Lists={self.lists}",
            "-o",
            f"Dir::Cache={self.cache}",
            "-o",
            "APT::Get::List-Cleanup=false",
        ]

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
            line.split(":", 1)[1].strip()
            for line in out.splitlines()
            if line.startswith("Version:")
        }
        return self.pin.version in versions
