"""``check A B C ...``'s output: each hop as ``check`` shows a direction, then the chain's
verdict and the hop it fails at, then the fixes (docs/check.md, docs/json.md)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from migcompat.analysis.chain import ChainResult, Hop, HopFix
from migcompat.cli.check_text import (
    VERDICT_TEXT,
    line,
    print_fixes,
    print_result,
    result_json,
    side_name,
)


def _blamed(res: ChainResult) -> Hop | None:
    """The hop that gives the chain its verdict: the first one as bad as the worst."""
    if res.verdict == "compatible":
        return None
    return next(h for h in res.all_hops() if h.result.verdict == res.verdict)


def print_chain(res: ChainResult, fixes: Sequence[HopFix], explain: bool,
                verbose: bool) -> None:
    for hop in res.all_hops():
        print_result(hop.result, explain, verbose, hop=hop.label)
    text = f"chain {' -> '.join(side_name(c) for c in res.configs)}"
    if res.back:
        text += " and back"
    text += f": {VERDICT_TEXT[res.verdict]}"
    blamed = _blamed(res)
    if blamed is not None:
        # the first finding of the verdict's kind says why, as on the hop's own lines
        kind = "guest-visible" if res.verdict == "guest-visible" else "breaking"
        why = next((r for r in blamed.result.reasons if r.category == kind), None)
        text += f" at {blamed.label}" + (f" ({why.code})" if why is not None else "")
    line(text, indent="", markup=True)
    print_fixes([f.fix for f in fixes], [_where(f) for f in fixes])


def _where(f: HopFix) -> str:
    side = f"{f.hop} {f.fix.side}"
    return f"{side} and every later side" if f.carried else side


def chain_json(res: ChainResult, fixes: Sequence[HopFix]) -> dict[str, Any]:
    blamed = _blamed(res)
    payload: dict[str, Any] = {
        "verdict": res.verdict, "loads": res.loads, "compatible": res.loads,
        "sides": [side_name(c) for c in res.configs],
        "failed_hop": None if blamed is None else blamed.label,
        "hops": [result_json(r) for r in res.hops]}
    if res.back:
        payload["back"] = [result_json(r) for r in res.back]
    return {**payload, "fixes": [f.to_json() for f in fixes]}
