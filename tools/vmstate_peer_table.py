#!/usr/bin/env python3
"""Run compare_schemas and QEMU's vmstate-static-checker.py on the same real dumps, and print
the side-by-side tables of docs/lint-vmstate.md (Markdown, on stdout).

Both builds dump ``-M MACHINE -dump-vmstate``; the checker runs from the pinned source tree of
the newer release, unmodified. For each line the checker prints: our findings that cover it
(tests/vmstate_peer.py decides, as the test does). Then what we report that it does not.

Examples:
  python tools/vmstate_peer_table.py
  python tools/vmstate_peer_table.py --old 10.0 --new 7.2 --fetch
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE.parent / "tests"))

from migcompat.qemu.debian.builds import build  # noqa: E402
from migcompat.qemu.debian.lock import load_pins  # noqa: E402
from migcompat.qemu.debian.sources import fetch  # noqa: E402
from migcompat.vmstate.compare import VmstateFinding, compare_dumps  # noqa: E402
from migcompat.vmstate.dump import schemas_from_dump  # noqa: E402
from vmstate_peer import covering, dump_vmstate, parse_peer, peer_script, run_peer  # noqa: E402


def cell(f: VmstateFinding) -> str:
    where = f"`{f.field}` " if f.field else ""
    return f"{f.severity} `{f.kind}` {where}".strip()


def escape(text: str) -> str:
    return text.replace("|", "\\|")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", default="7.2", help="the release that saves (default 7.2)")
    parser.add_argument("--new", default="10.0", help="the release that loads (default 10.0)")
    parser.add_argument("--machine", default="pc-i440fx-7.2")
    parser.add_argument("--peer", default="10.0", help="the source tree to run the checker from")
    parser.add_argument("--fetch", action="store_true", help="fetch missing builds and trees")
    args = parser.parse_args()

    tree = fetch(load_pins()[args.peer], quiet=True)
    with tempfile.TemporaryDirectory(prefix="vmstate-peer-") as tmp:
        paths = {r: dump_vmstate(build(r, fetch_missing=args.fetch), args.machine,
                                 Path(tmp) / f"{r}.json") for r in (args.old, args.new)}
        code, lines = run_peer(peer_script(tree), paths[args.old], paths[args.new])
        old, new = (schemas_from_dump(json.loads(paths[r].read_text()))
                    for r in (args.old, args.new))
    ours = compare_dumps(old, new)
    messages = sorted(parse_peer(lines), key=lambda m: m.section)  # the peer's order is QEMU's

    by_severity = sorted(Counter(f.severity for f in ours).items())
    print(f"{args.old} -> {args.new}, `-M {args.machine}`: the checker prints {len(lines)} "
          f"lines (exit {code}); we give {len(ours)} findings "
          f"({', '.join(f'{n} {s}' for s, n in by_severity)}).")
    print()
    print("| vmstate-static-checker.py | compare_schemas |")
    print("|---|---|")
    used: set[int] = set()
    for m in messages:
        found = covering(m, ours, old.types, new.types)
        used |= {id(f) for f in found}
        print(f"| {escape(m.text)} | {'<br>'.join(cell(f) for f in found) or '**none**'} |")
    print()
    rest = [f for f in ours if id(f) not in used]
    serious = [f for f in rest if f.severity != "note"]
    print(f"Findings of ours that no line of the checker covers: {len(rest)}; errors and "
          f"warnings among them: {len(serious) or 'none'}.")
    if serious:
        print()
        print("| section | our finding | message |")
        print("|---|---|---|")
    for f in serious:
        print(f"| {f.section} | {cell(f)} | {escape(f.message)} |")
    notes = Counter(f.kind for f in rest if f.severity == "note")
    print()
    print("Notes among them: " + ", ".join(f"`{k}` {n}" for k, n in sorted(notes.items())) + ".")


if __name__ == "__main__":
    main()
