"""What a build needs that a host lacks: Debian package dependencies, for maintaining the
``libraries`` of a ``[[build]]`` pin (``migcompat builds resolve``).

The archive is read through a private APT (:mod:`migcompat.qemu.debian.apt`); a host's own
packages come from ``dpkg-query``, or from another Debian release's index with that
release's QEMU installed (``--against trixie``). ``fetch`` itself checks the result with
``ldd``.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from migcompat.errors import FetchError
from migcompat.qemu.debian.apt import PrivateApt
from migcompat.qemu.debian.lock import BuildPin


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
    apt = PrivateApt.for_build(other, root, host_status=False)
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


def unmet_dependencies(pin: BuildPin, apt: PrivateApt,
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
