"""Chains: one VM migrated along a path A -> B -> C ..., every hop checked.

What the VM is after a hop (docs/check.md, "Chains", states it for users): QEMU's stream
carries device state, never a property value. The destination realized its devices from
its own release, machine type and command line before the stream arrived, loaded the state
into them with its own schema, and when it migrates on it saves them again with that
schema. So hop k+1's source is exactly hop k's destination configuration: ``check`` of
that pair realizes the same VM that hop k loaded into, and compares what it re-saves.

That is the document's A -> B -> C lesson: B -> C on one QEMU looks like case 3 ("we
don't care"), but B's VM came from A, so pc-5.1 on B must already mean A's one queue; a
B that forgot the compat entry fails hop 1, however fine B -> C is on its own.

A hop that fails leaves the VM on its source, so the path fails at its first failing hop
and its verdict is the worst hop's. The later hops are still checked and shown: each is a
move the VM makes once the earlier hop is fixed (and the lesson is a hop that looks fine).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from typing import Literal

from migcompat.analysis.check import VERDICTS, CheckResult, Reason, SectionRule, Verdict, check
from migcompat.analysis.fixes import Fix, applied, propose
from migcompat.analysis.reasons import Category
from migcompat.analysis.sections import SECTION_RULES
from migcompat.errors import DeviceError, GlobalPropertyError, UsageError
from migcompat.model.vm import VMConfig

Path = Literal["forward", "back"]


@dataclass(frozen=True)
class Hop:
    path: Path  # "back": the way back (rollback), the chain reversed
    number: int  # from 1, along its path
    result: CheckResult

    @property
    def label(self) -> str:
        return f"{'back ' if self.path == 'back' else ''}hop {self.number}"


@dataclass
class ChainResult:
    configs: list[VMConfig]  # the sides, first source first
    hops: list[CheckResult]  # hop i: configs[i] -> configs[i + 1]
    back: list[CheckResult] = field(default_factory=list)  # the path back, when asked

    def all_hops(self) -> list[Hop]:
        return [Hop("forward", n, r) for n, r in enumerate(self.hops, 1)] + [
            Hop("back", n, r) for n, r in enumerate(self.back, 1)]

    @property
    def verdict(self) -> Verdict:
        """The worst hop's verdict: one failing hop and the VM never gets past it."""
        return max((h.result.verdict for h in self.all_hops()), key=VERDICTS.index)

    @property
    def loads(self) -> bool:
        return all(h.result.loads for h in self.all_hops())

    def first(self, fail_on: Category = "breaking") -> Hop | None:
        """The first hop that fails (``fail_on`` as ``CheckResult.fails``), the path there
        before the path back."""
        return next((h for h in self.all_hops() if h.result.fails(fail_on)), None)

    def fails(self, fail_on: Category = "breaking") -> bool:
        return self.first(fail_on) is not None


def _unstartable(src: VMConfig, dst: VMConfig, exc: Exception) -> CheckResult:
    """A hop neither of whose sides starts the VM: refused there. For one pair ``check``
    calls that bad input; in a chain another hop starts it, so it is this hop's failure."""
    message = f"neither {src.release.id} nor {dst.release.id} starts the VM: {exc}"
    # check raises UsageError for a device type neither side has, else the side's error
    reason = (Reason("unknown-device", message) if isinstance(exc, UsageError)
              else Reason("cannot-start", message))
    return CheckResult(src, dst, [reason])


def _path(configs: list[VMConfig], rules: tuple[SectionRule, ...]) -> list[CheckResult]:
    outcomes: list[CheckResult | Exception] = []
    for src, dst in itertools.pairwise(configs):
        try:
            outcomes.append(check(src, dst, rules))
        except (UsageError, DeviceError, GlobalPropertyError) as exc:
            outcomes.append(exc)
    if all(isinstance(o, Exception) for o in outcomes):
        first = outcomes[0]
        assert isinstance(first, Exception)
        raise first  # no side of the chain starts the VM: the input is wrong
    return [o if isinstance(o, CheckResult) else _unstartable(src, dst, o)
            for o, (src, dst) in zip(outcomes, itertools.pairwise(configs), strict=True)]


def check_chain(configs: list[VMConfig], back: bool = False,
                section_rules: tuple[SectionRule, ...] = SECTION_RULES) -> ChainResult:
    """Check every hop of ``configs`` (two or more sides, first source first), and with
    ``back`` the path back too (the last side to the first, hop by hop)."""
    if len(configs) < 2:
        raise UsageError("a chain needs two sides or more")
    return ChainResult(list(configs), _path(list(configs), section_rules),
                       _path(list(reversed(configs)), section_rules) if back else [])


@dataclass(frozen=True)
class HopFix:
    """A fix for one hop. A destination pin is carried to every later side of its path:
    the VM keeps the pinned hardware until it is power-cycled (reference §7.3: the
    override must be carried on every later hop)."""

    hop: str  # "hop 2", "back hop 1"
    fix: Fix
    carried: bool  # also applied to every later side of the path

    def to_json(self) -> dict[str, object]:
        return {"hop": self.hop, "carried": self.carried, **self.fix.to_json()}


def _later_sides(hop: Hop, count: int) -> range:
    """Indices into the chain's sides of hop's destination and every side after it on
    hop's path."""
    if hop.path == "forward":
        return range(hop.number, count)
    return range(0, count - hop.number)


def chain_fixes(result: ChainResult) -> list[HopFix]:
    """The fixes that make the chain compatible: the first hop that is not gets its fix
    (``fixes.propose``), carried on to the later sides; the chain is checked again and the
    next hop fixed, until it is compatible or a fix cannot be carried. Each fix says
    ``verified`` when the whole chain (both ways if asked) is compatible with all of them;
    a fix that is not carried (a cold boot, no safe pin) keeps what its own hop said."""
    both = bool(result.back)
    configs = list(result.configs)
    current = result
    found: list[HopFix] = []
    for _ in range(2 * len(configs)):
        hop = next((h for h in current.all_hops() if h.result.verdict != "compatible"), None)
        if hop is None or (found and found[-1].hop == hop.label):
            break  # compatible, or the last pin did not mend its own hop
        fixes = propose(hop.result.source, hop.result.dest, hop.result)
        pins = [f for f in fixes if f.side == "destination" and f.kind != "none"]
        if not pins:
            found += [HopFix(hop.label, f, False) for f in fixes]
            break
        sides = _later_sides(hop, len(configs))
        changed = [applied(configs[i], pins[0]) for i in sides]
        if any(c is None for c in changed):
            found.append(HopFix(hop.label, pins[0], False))
            break
        for i, c in zip(sides, changed, strict=True):
            assert c is not None
            configs[i] = c
        found.append(HopFix(hop.label, pins[0], True))
        current = check_chain(configs, both)
    ok = current.verdict == "compatible"
    return [replace(h, fix=replace(h.fix, verified=ok, verdict=current.verdict))
            if h.carried else h for h in found]
