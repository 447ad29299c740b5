"""The removal calendar against QEMU's policy and the real catalogs.

The policy facts come from QEMU (include/hw/boards.h, docs/about/deprecated.rst); the
machine lists from the bundled catalogs, which were read from real builds (5.2, 7.2, 10.0
probed) and source trees (all four). Each test holds one against the other.
"""

from __future__ import annotations

import itertools

import pytest

from migcompat.catalog.load import open_catalog, validate_catalog
from migcompat.model.calendar import (
    HAND_RETIRED,
    MachineLife,
    calendar,
    deleted_by_policy,
    deprecated_by_policy,
    expired,
    gone_in,
    major_minor,
    oldest_surviving,
    policy_deprecation,
    policy_removal,
    releases_after,
)
from migcompat.model.machines import version_key
from migcompat.model.release import Release

PC = ("pc-i440fx", "pc-q35")


@pytest.fixture(scope="module")
def qemu() -> dict[str, Release]:
    return {r.id: r for r in validate_catalog(open_catalog("qemu"))}


@pytest.fixture(scope="module")
def lives(qemu: dict[str, Release]) -> dict[str, MachineLife]:
    return {life.name: life for life in calendar(qemu.values())}


def versioned_pc(rel: Release) -> dict[str, tuple[int, int]]:
    return {m.name: major_minor(m.version) for m in rel.machines.machines.values()
            if m.family in PC and m.versioned}


def test_the_age_test_is_boards_h_arithmetic() -> None:
    # 10.0 deprecates 7.0 but not 7.1 (the minor decides when the majors are 3 apart)
    assert expired((10, 0), (7, 0), 3) and not expired((10, 0), (7, 1), 3)
    assert expired((10, 2), (7, 2), 3) and not expired((10, 2), (8, 0), 3)
    # 2.12 has a minor no release reaches: it is 3 years old only in the 4th year
    assert not expired((5, 2), (2, 12), 3) and expired((6, 0), (2, 12), 3)


def test_three_years_are_nine_releases_and_six_are_eighteen() -> None:
    # docs/about/deprecated.rst: deprecated after 9 releases, deleted after 18
    sequence = list(itertools.islice(releases_after((8, 0)), 60))
    for machine in sequence[:12]:
        version = f"{machine[0]}.{machine[1]}"
        start = sequence.index(machine)
        assert sequence.index(major_minor(policy_deprecation(version))) - start == 9
        assert sequence.index(major_minor(policy_removal(version))) - start == 18


def test_nothing_is_deprecated_by_age_before_9_1_or_deleted_before_10_1() -> None:
    assert not deprecated_by_policy((2, 4), (9, 0)) and deprecated_by_policy((2, 4), (9, 1))
    assert not deleted_by_policy((2, 4), (10, 0)) and deleted_by_policy((2, 4), (10, 1))


@pytest.mark.parametrize("rid", ["10.0", "10.2"])
def test_a_policy_era_catalog_deprecates_exactly_what_the_policy_says(
        qemu: dict[str, Release], rid: str) -> None:
    rel = qemu[rid]
    now = major_minor(rel.version)
    for name, version in versioned_pc(rel).items():
        marked = rel.machines.machines[name].deprecated is not None
        assert marked == deprecated_by_policy(version, now), (rid, name)


def test_the_policy_deletes_nothing_a_catalog_still_has(qemu: dict[str, Release]) -> None:
    for rel in qemu.values():
        now = major_minor(rel.version)
        assert [n for n, v in versioned_pc(rel).items() if deleted_by_policy(v, now)] == []


def test_10_2_has_every_pc_type_of_10_0_the_policy_keeps(qemu: dict[str, Release]) -> None:
    old, new = versioned_pc(qemu["10.0"]), versioned_pc(qemu["10.2"])
    now = major_minor(qemu["10.2"].version)
    gone = {n for n in old if n not in new}
    assert gone == {n for n, v in old.items() if deleted_by_policy(v, now)}
    assert gone  # 10.1 and 10.2 deleted by age: the test must have something to hold


def test_every_observed_removal_is_the_policy_s_or_a_listed_exception(
        qemu: dict[str, Release]) -> None:
    ordered = sorted(qemu.values(), key=lambda r: version_key(r.version))
    unexplained = []
    for before, after in itertools.pairwise(ordered):
        for name, version in versioned_pc(before).items():
            if name in after.machines.machines:
                continue
            m = before.machines.machines[name]
            end = major_minor(after.version)
            steps = itertools.takewhile(lambda r, end=end: r <= end,
                                        releases_after(major_minor(before.version)))
            by_policy = any(deleted_by_policy(version, r) for r in steps)
            listed = any(h.covers(m.family, m.version) for h in HAND_RETIRED)
            if by_policy == listed:  # neither, or an exception the policy makes needless
                unexplained.append((before.id, after.id, name))
    assert unexplained == []


def test_a_hand_retired_type_was_deprecated_by_hand(qemu: dict[str, Release]) -> None:
    # before the policy, a catalog marks deprecated only what HAND_RETIRED lists
    for rid in ("5.2", "7.2"):
        for m in qemu[rid].machines.machines.values():
            listed = any(h.covers(m.family, m.version) and
                         version_key(h.deprecated) <= version_key(qemu[rid].version)
                         for h in HAND_RETIRED)
            assert (m.deprecated is not None) == listed, (rid, m.name)


def test_the_issue_s_step_pc_i440fx_2_4(qemu: dict[str, Release],
                                        lives: dict[str, MachineLife]) -> None:
    # issue #15: "pc-i440fx-2.4 is gone in 10.2: cold boot onto pc-i440fx-5.0 or newer"
    assert qemu["10.0"].machines.machines["pc-i440fx-2.4"].deprecated is not None
    assert "pc-i440fx-2.4" not in qemu["10.2"].machines.machines
    life = lives["pc-i440fx-2.4"]
    assert gone_in(life, "10.2") and not gone_in(life, "10.0")
    oldest = min((m for m in qemu["10.2"].machines.machines.values()
                  if m.family == "pc-i440fx"), key=lambda m: version_key(m.version))
    survivor = oldest_surviving(lives.values(), "pc-i440fx", ["7.2", "10.0", "10.2"])
    assert survivor is not None and survivor.name == oldest.name == "pc-i440fx-5.0"


def test_the_micro_number_does_not_count(qemu: dict[str, Release],
                                         lives: dict[str, MachineLife]) -> None:
    # pc-q35-4.0.1 ages as 4.0: both leave together
    assert "pc-q35-4.0.1" in qemu["10.0"].machines.machines
    assert not {"pc-q35-4.0", "pc-q35-4.0.1"} & set(qemu["10.2"].machines.machines)
    assert lives["pc-q35-4.0.1"].removed == lives["pc-q35-4.0"].removed


def test_an_observed_milestone_is_what_its_release_shows(
        qemu: dict[str, Release], lives: dict[str, MachineLife]) -> None:
    for life in lives.values():
        if life.deprecated and life.deprecated.how == "observed":
            shown = qemu[life.deprecated.release or ""].machines.machines[life.name]
            assert shown.deprecated is not None, life.name
        if life.removed and life.removed.how == "observed":
            assert life.name not in qemu[life.removed.release or ""].machines.machines
        if life.removed and life.removed.how == "predicted":
            assert life.last_seen == "10.2" or life.family not in PC, life.name


def test_a_release_without_the_family_says_nothing(lives: dict[str, MachineLife]) -> None:
    # 10.2 is a source import of the pc families only; 7.2's Debian build has no Xen
    for name in ("isapc", "microvm", "none", "x-remote", "xenpv"):
        assert lives[name].removed is None and lives[name].introduced is None, name


def test_oldest_surviving_needs_the_type_on_the_first_release(
        lives: dict[str, MachineLife]) -> None:
    # 5.2 -> 10.2: nothing introduced after 5.2 was on the first host
    survivor = oldest_surviving(lives.values(), "pc-q35", ["5.2", "10.2"])
    assert survivor is not None and survivor.name == "pc-q35-5.0"
    assert oldest_surviving(lives.values(), "pc-q35", ["5.2", "11.2"]) is None
