"""Pinned Debian *binary* packages of QEMU builds, fetched through a private APT.

The pins are the ``[[build]]`` entries of ``catalogs.lock.toml`` (see docs/real-migrations.md):
one per release id, with the exact version of every package the build is made of (QEMU
itself, its module packages, its firmware, and the shared libraries a host lacks: a Debian 12
host for 5.2 and 10.0; for 7.2, normally the system's own, a Debian 13 host).

APT runs with its own ``sources.list`` (``deb`` lines with the same URI and keyring as the
system's), its own lists and its own cache, and ``Dir::Etc::SourceParts`` pointing nowhere,
so the system's sources are never read and nothing is ever installed (DESIGN.md "Real
components"). ``apt-get download`` only fetches ``.deb`` files, verified by APT against the
suite's signed index.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from migcompat.qemu.debian.lock import DEFAULT_KEYRING, FetchError, find_lock_file

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


_NOT_FOUND = re.compile(r"Version '([^']+)' for '([^']+)' was not found")
_NO_PACKAGE = re.compile(r"Unable to locate package (\S+)")


class BinaryApt:
    """apt-get/apt-cache for one build's suites, on our own files only."""

    def __init__(self, pin: BuildPin, root: Path, *, host_status: bool = True) -> None:
        self.pin = pin
        self.dir = root / "apt" / pin.id
        self.sources = self.dir / "sources.list"
        self.lists = self.dir / "lists"
        self.cache = self.dir / "cache"
        self.host_status = host_status  # False: the host's installed packages are not read

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
        comps = " ".join(self.pin.components)
        text = "".join(f"deb [signed-by={self.pin.keyring}] {source} {comps}\n"
                       for source in self.pin.sources)
        if not self.sources.is_file() or self.sources.read_text() != text:
            self.sources.write_text(text)

    def run(self, tool: str, *args: str, cwd: Path | None = None) -> str:
        if shutil.which(tool) is None:
            raise FetchError(f"{tool} not found: fetching Debian packages needs apt")
        proc = subprocess.run([tool, *self.options(), *args], cwd=cwd, capture_output=True,
                              text=True, check=False)
        if proc.returncode != 0:
            lines = proc.stderr.strip().splitlines() or ["no output"]
            detail = next((line for line in lines if line.startswith("E:")), lines[-1])
            raise FetchError(f"{tool} {' '.join(args[:3])} failed: {detail}")
        return proc.stdout

    def update(self) -> None:
        self.run("apt-get", "-q", "update")

    def gone(self, name: str, version: str) -> FetchError:
        return FetchError(f"pinned {name} {version} (build {self.pin.id}) is no longer in Debian "
                          f"{self.pin.where()}; update catalogs.lock.toml")

    def download(self, packages: list[tuple[str, str]], dest: Path) -> None:
        """``apt-get download`` the exact versions into ``dest`` (one clear line on failure)."""
        if not packages:
            return
        try:
            self.run("apt-get", "-q", "download", *(f"{n}={v}" for n, v in packages), cwd=dest)
        except FetchError as exc:
            text = str(exc)
            if m := _NOT_FOUND.search(text):
                raise self.gone(m.group(2), m.group(1)) from None
            if m := _NO_PACKAGE.search(text):
                name = m.group(1)
                raise self.gone(name, dict(packages).get(name, "?")) from None
            if "404" in text:
                raise FetchError(f"a pinned package of build {self.pin.id} is listed in "
                                 f"{self.pin.where()} but its file is gone (HTTP 404): "
                                 f"{text}") from None
            raise

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


def _add_provides(found: dict[str, str], provides: str, version: str) -> None:
    for item in provides.split(","):
        m = re.match(r"\s*([^\s(:]+)(?::\S+)?\s*(?:\(\s*=\s*([^)\s]+)\s*\))?", item)
        if m and m.group(1):
            found.setdefault(m.group(1), m.group(2) or version)


def host_packages() -> dict[str, str]:
    """Installed packages of this host (and what they provide) -> version."""
    out = subprocess.run(
        ["dpkg-query", "-W", "-f", "${db:Status-Status}\t${Package}\t${Version}\t${Provides}\n"],
        capture_output=True, text=True, check=False).stdout
    found: dict[str, str] = {}
    for line in out.splitlines():
        status, name, version, provides = [*line.split("\t"), "", "", ""][:4]
        if status != "installed":
            continue
        found[name] = version
        _add_provides(found, provides, version)
    return found


def release_sources(pin: BuildPin, codename: str) -> tuple[str, ...]:
    """The sources of another Debian release (``codename``, -updates, -security) as
    "URI SUITE", on the URIs of ``pin``'s sources."""
    uris = [s.split()[0] for s in pin.sources]
    if not uris:
        raise FetchError(f"build {pin.id} has no sources to take the archive URIs from")
    main = next((u for u in uris if "security" not in u), uris[0])
    security = next((u for u in uris if "security" in u), main.rstrip("/") + "-security")
    return (f"{main} {codename}", f"{main} {codename}-updates",
            f"{security} {codename}-security")


@dataclass(frozen=True)
class Available:
    """One package of an archive's index (``apt-cache dumpavail``)."""

    version: str
    provides: dict[str, str]  # virtual name -> version
    needs: list[list[str]]  # Pre-Depends, Depends and Recommends: alternatives' names


def _names_versions(field_text: str, version: str) -> dict[str, str]:
    found: dict[str, str] = {}
    _add_provides(found, field_text, version)
    return found


def parse_available(text: str) -> dict[str, Available]:
    """``apt-cache dumpavail`` output, by package name."""
    found: dict[str, Available] = {}
    for stanza in text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in stanza.splitlines() if ": " in line
                      and not line.startswith(" "))
        name, version = fields.get("Package"), fields.get("Version")
        if not (name and version):
            continue
        needs = [[alt for alt in _names_versions(group.replace("|", ","), "")]
                 for key in ("Pre-Depends", "Depends", "Recommends")
                 for group in fields.get(key, "").split(",") if group.strip()]
        found[name] = Available(version, _names_versions(fields.get("Provides", ""), version),
                                needs)
    return found


def installed_with(available: dict[str, Available], roots: list[str]) -> dict[str, str]:
    """What installing ``roots`` (with their Recommends, as apt does by default) brings:
    package (and what it provides) -> version, like ``host_packages``."""
    providers: dict[str, str] = {}
    for name, pkg in available.items():
        for virtual in pkg.provides:
            providers.setdefault(virtual, name)
    found: dict[str, str] = {}
    todo = list(roots)
    while todo:
        wanted = todo.pop()
        name = wanted if wanted in available else providers.get(wanted, "")
        if not name or name in found:
            continue
        pkg = available[name]
        found[name] = pkg.version
        for virtual, version in pkg.provides.items():
            found.setdefault(virtual, version)
        for group in pkg.needs:
            if not any(alt in found for alt in group):
                todo.append(next((alt for alt in group if alt in available or alt in providers),
                                 group[0]))
    return found


def release_packages(pin: BuildPin, codename: str, root: Path,
                     roots: tuple[str, ...] = ("qemu-system-x86",)) -> dict[str, str]:
    """What a host of Debian ``codename`` has once its own ``roots`` (its QEMU) are installed
    with their Recommends: package (and what it provides) -> version. Read with a private APT
    of that release's suites (the host's own status unread)."""
    other = BuildPin(id=f"host-{codename}", version="", sources=release_sources(pin, codename),
                     keyring=pin.keyring, components=pin.components)
    apt = BinaryApt(other, root, host_status=False)
    apt.prepare()
    apt.update()
    return installed_with(parse_available(apt.run("apt-cache", "dumpavail")), list(roots))


def _satisfies(version: str, constraint: str) -> bool:
    if not constraint:
        return True
    op, _, wanted = constraint.partition(" ")
    names = {"<<": "lt", "<=": "le", "=": "eq", ">=": "ge", ">>": "gt"}
    proc = subprocess.run(["dpkg", "--compare-versions", version, names.get(op, "ge"),
                           wanted.strip()], check=False)
    return proc.returncode == 0


def unmet_dependencies(pin: BuildPin, apt: BinaryApt,
                       host: dict[str, str] | None = None) -> dict[str, str]:
    """Packages the pinned ones need (recursively) that neither the host nor the pin has.

    For maintaining the lock file: it proposes the ``libraries`` a host lacks, at the
    suites' candidate versions. ``host`` is this host's installed packages by default, or
    those of another release's host with its own QEMU installed (``release_packages``).
    (``fetch`` itself checks the result with ``ldd``.)
    """
    host = host_packages() if host is None else host
    ours = dict(pin.all_packages())
    provided = set(ours)
    # QEMU's own packages provide the virtual qemu-system-any.
    if "qemu-system-x86" in ours:
        provided.add("qemu-system-any")
    todo = list(ours.items())
    missing: dict[str, str] = {}
    while todo:
        name, version = todo.pop()
        for group in apt.depends(name, version):
            if any(alt in provided or alt in missing
                   or (alt in host and _satisfies(host[alt], cons)) for alt, cons in group):
                continue
            first = group[0][0]
            cand = apt.candidate(first)
            if cand is None:
                raise FetchError(f"{name} needs {first}, which {pin.where()} does not have")
            missing[first] = cand
            todo.append((first, cand))
    return missing
