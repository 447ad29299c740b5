"""The removal calendar: when each machine type came, was deprecated and goes (issue #15).

QEMU's age policy for versioned machine types (include/hw/boards.h, the
``MACHINE_VER_DEPRECATION`` and ``MACHINE_VER_DELETION`` macros; docs/about/deprecated.rst)
compares only major and minor numbers. A machine type of version M.m is past a cutoff of N
years in QEMU X.Y when X - M > N, or X - M == N and Y >= m; the micro number (4.0.1) is
ignored. Deprecation uses N = 3, deletion N = 6. The policy arrived in QEMU 9.1, and QEMU 10.0
still gates deletion on a version of at least 10.1 (or an environment variable we take as
unset), so nothing was deleted by age before 10.1. QEMU ships three releases a year (X.0,
X.1, X.2), which is how predictions step past the catalog's last release.

A catalog shows what really happened (``observed``); the policy says what will
(``predicted``). An observed step the policy cannot explain (QEMU retired the oldest types
by hand before the policy existed) must be listed in :data:`HAND_RETIRED`: the tests hold
the bundled catalogs to that. Pure: no files; the caller gives the releases.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

from migcompat.model.machines import MachineType, version_key
from migcompat.model.release import Release

Version = tuple[int, int]
How = Literal["observed", "predicted", "documented"]

DEPRECATION_YEARS = 3  # MACHINE_VER_DEPRECATION_MAJOR
DELETION_YEARS = 6  # MACHINE_VER_DELETION_MAJOR
POLICY_SINCE: Version = (9, 1)  # the first release that deprecates by age
DELETION_SINCE: Version = (10, 1)  # the gate inside MACHINE_VER_DELETION
MINORS_PER_YEAR = 3  # X.0 in April, X.1 in August, X.2 in December


@dataclass(frozen=True)
class Retired:
    """Machine types QEMU deprecated and removed by hand, before the age policy, as its
    docs/about/deprecated.rst and removed-features.rst of the time record them."""

    family: str
    first: str
    last: str
    deprecated: str
    removed: str
    note: str

    def covers(self, family: str, version: str) -> bool:
        return family == self.family and \
            version_key(self.first) <= version_key(version) <= version_key(self.last)


HAND_RETIRED = (
    Retired("pc-i440fx", "1.0", "1.3", "5.0", "6.0",
            "retired by hand before the age policy (pc-1.0 up to pc-1.3)"),
    Retired("pc-i440fx", "1.4", "1.7", "7.0", "8.2",
            "retired by hand before the age policy (pc-i440fx-1.4 up to 1.7)"),
    Retired("pc-i440fx", "2.0", "2.3", "8.2", "9.0",
            "retired by hand before the age policy (pc-i440fx-2.0 up to 2.3)"),
)


@dataclass(frozen=True)
class Milestone:
    """One step of a machine type's life: the QEMU version it happens in, and how we know.

    ``observed``: ``release`` (a catalog release id) is the first that shows it; the
    version is the policy's or the documented one when that falls between this release and
    the catalog release before it, else the release's own (the step happened by then).
    ``predicted``: the policy says so, no catalog release shows it yet. ``documented``:
    QEMU's documents say so (:data:`HAND_RETIRED`), no catalog release shows it."""

    version: str
    how: How
    release: str | None = None
    exact: bool = True  # False: only "by this version" is known


def milestone_text(step: Milestone | None) -> str:
    """A step as people read it: "11.0 (predicted)", "by 10.0 (seen 10.0)", or "-"."""
    if step is None:
        return "-"
    if step.how == "predicted":
        return f"{step.version} (predicted)"
    if step.how == "documented":
        return f"{step.version} (QEMU docs)"
    return f"{step.version} (seen {step.release})" if step.exact else \
        f"by {step.version} (seen {step.release})"


@dataclass(frozen=True)
class MachineLife:
    name: str
    family: str
    version: str
    introduced: str | None  # the QEMU version a versioned machine type came with
    first_seen: str  # the first catalog release that has it
    last_seen: str
    deprecated: Milestone | None
    removed: Milestone | None
    deprecation_reason: str | None = None  # as the last release that has it words it
    note: str = ""  # why the policy does not explain an observed step

    @property
    def versioned(self) -> bool:
        return self.introduced is not None


def major_minor(version: str) -> Version:
    """``10.0.2`` -> (10, 0): the policy reads no micro number."""
    parts = version_key(version)
    return (parts[0], parts[1] if len(parts) > 1 else 0)


def expired(release: Version, machine: Version, years: int) -> bool:
    """QEMU's age test: is a machine type of version ``machine`` at least ``years`` old in
    QEMU ``release``?"""
    gap = release[0] - machine[0]
    return gap > years or (gap == years and release[1] >= machine[1])


def deprecated_by_policy(machine: Version, release: Version) -> bool:
    return release >= POLICY_SINCE and expired(release, machine, DEPRECATION_YEARS)


def deleted_by_policy(machine: Version, release: Version) -> bool:
    return release >= DELETION_SINCE and expired(release, machine, DELETION_YEARS)


def releases_after(start: Version) -> Iterator[Version]:
    """QEMU releases from ``start`` on, three a year."""
    major, minor = start
    while True:
        yield major, minor
        major, minor = (major, minor + 1) if minor + 1 < MINORS_PER_YEAR else (major + 1, 0)


def first_release(machine: Version, years: int, since: Version) -> Version:
    """The first release the policy applies ``years`` to this machine type in."""
    start = max(since, (machine[0], 0))
    return next(r for r in releases_after(start) if expired(r, machine, years))


def text(version: Version) -> str:
    return f"{version[0]}.{version[1]}"


def policy_deprecation(version: str) -> str:
    return text(first_release(major_minor(version), DEPRECATION_YEARS, POLICY_SINCE))


def policy_removal(version: str) -> str:
    return text(first_release(major_minor(version), DELETION_YEARS, DELETION_SINCE))


def _ordered(releases: Iterable[Release]) -> list[Release]:
    return sorted(releases, key=lambda r: (version_key(r.version or r.id), r.id))


def _between(version: str, before: Release | None, release: Release) -> bool:
    """Does ``version`` fall after ``before`` and no later than ``release``?"""
    low = major_minor(before.version) if before is not None else (0, 0)
    return low < major_minor(version) <= major_minor(release.version)


def _step(shown: Release, before: Release | None, *candidates: str | None) -> Milestone:
    """An observed step, dated by the first candidate that fits between the releases."""
    for version in candidates:
        if version is not None and _between(version, before, shown):
            return Milestone(version, "observed", shown.id)
    return Milestone(text(major_minor(shown.version)), "observed", shown.id, exact=False)


def _life(name: str, releases: Sequence[Release]) -> MachineLife:
    having = [r for r in releases if name in r.machines.machines]
    last: MachineType = having[-1].machines.machines[name]
    # a release that lists no machine type of the family (a source import reads only the
    # versioned pc families; a Debian build without Xen) says nothing about this one
    covering = [r for r in releases
                if any(m.family == last.family for m in r.machines.machines.values())]
    retired = next((h for h in HAND_RETIRED if h.covers(last.family, last.version)), None)
    policy = last.versioned and all(r.product == "qemu" for r in having)
    dep_policy = policy_deprecation(last.version) if policy else None
    del_policy = policy_removal(last.version) if policy else None
    note = ""

    deprecated: Milestone | None = None
    before: Release | None = None
    for rel in covering:
        m = rel.machines.machines.get(name)
        if m is not None and m.deprecated is not None:
            deprecated = _step(rel, before, dep_policy, retired.deprecated if retired else None)
            break
        before = rel if m is not None else before
    if deprecated is None and retired is not None:
        deprecated = Milestone(retired.deprecated, "documented")
    elif deprecated is None and dep_policy is not None:
        deprecated = Milestone(dep_policy, "predicted")

    removed: Milestone | None = None
    after = covering[covering.index(having[-1]) + 1:]
    if after:
        removed = _step(after[0], having[-1], del_policy, retired.removed if retired else None)
    elif retired is not None:
        removed = Milestone(retired.removed, "documented")
    elif del_policy is not None:
        removed = Milestone(del_policy, "predicted")
    if retired is not None:
        note = retired.note
    elif removed is not None and removed.how == "observed" and removed.version != del_policy:
        note = "removed, and the policy does not say why"

    return MachineLife(
        name=name, family=last.family, version=last.version,
        introduced=last.version if last.versioned else None,
        first_seen=having[0].id, last_seen=having[-1].id,
        deprecated=deprecated, removed=removed, deprecation_reason=last.deprecated, note=note)


def calendar(releases: Iterable[Release]) -> list[MachineLife]:
    """The life of every machine type any of ``releases`` has, by family and version."""
    ordered = _ordered(releases)
    names = {n for r in ordered for n in r.machines.machines}
    lives = [_life(n, ordered) for n in names]
    return sorted(lives, key=lambda life: (life.family, version_key(life.version), life.name))


def gone_in(life: MachineLife, version: str) -> bool:
    """Is the machine type gone in QEMU ``version``? (Unknown between the catalog release
    before an inexact removal and the release that shows it: taken as still there.)"""
    return life.removed is not None and \
        major_minor(life.removed.version) <= major_minor(version)


def oldest_surviving(lives: Iterable[MachineLife], family: str,
                     versions: Iterable[str]) -> MachineLife | None:
    """The oldest versioned machine type of ``family`` every QEMU version of a path has: it
    existed in the first and is gone in none (a VM on it can make every step)."""
    path = list(versions)
    if not path:
        return None
    first = min(path, key=major_minor)
    fits = [life for life in lives
            if life.family == family and life.introduced is not None
            and major_minor(life.introduced) <= major_minor(first)
            and not any(gone_in(life, v) for v in path)]
    return min(fits, key=lambda life: version_key(life.version), default=None)
