"""How fast `import-source` reads a real QEMU tree (the pinned Debian 7.2 source package).

    python bench/import_bench.py [--runs 3] [--release 7.2]

The tree is fetched into the cache first if needed (`migcompat sources`); the figure is the
median of --runs in-process imports of the whole tree. This was a timed assertion in the
suite (under 60 s); a test must not assert a duration, so the figure lives here.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--release", default="7.2")
    args = ap.parse_args()
    from migcompat.qemu.debian.lock import load_pins
    from migcompat.qemu.debian.sources import fetch
    from migcompat.qemu.source.importer import import_tree

    pin = load_pins()[args.release]
    tree = fetch(pin)
    times = []
    for _ in range(args.runs):
        start = time.perf_counter()
        doc = import_tree(tree, debian_version=pin.version)
        times.append(time.perf_counter() - start)
    print(f"import-source {args.release} ({tree}): {len(doc['machines'])} machine types, "
          f"{len(doc['types'])} types")
    print(f"  median {statistics.median(times):.2f} s, best {min(times):.2f} s "
          f"over {args.runs} runs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
