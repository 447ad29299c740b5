"""How fast `lint` answers (targets: under 1 s as a whole command between two bundled
releases; two real source trees under 30 s cold, under 2 s warm).

    python bench/lint_bench.py [--runs 3] [--trees]

Medians of --runs new processes, after one uncounted run that fills the caches (catalog,
lint result), and once cold with an empty MIGCOMPAT_CACHE:
`lint --catalog tutorial qemu-5.1 qemu-5.2-broken` and `lint --catalog qemu 7.2 10.0` /
`5.2 7.2`. With --trees, the pinned 7.2 and 10.0 source trees (`migcompat sources`): cold
with an empty MIGCOMPAT_CACHE (both imported), then warm (both read from the cache).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

BUNDLED = [["lint", "--catalog", "tutorial", "qemu-5.1", "qemu-5.2-broken"],
           ["lint", "--catalog", "qemu", "7.2", "10.0"],
           ["lint", "--catalog", "qemu", "5.2", "7.2"]]


def once(argv: list[str], env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "migcompat", *argv], capture_output=True,
                          text=True, check=False, env=env)
    if done.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(argv)}: exit {done.returncode}: {done.stderr}")
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--trees", action="store_true")
    args = ap.parse_args()
    print("| command | median | min | cold (empty cache) | target |")
    print("|---|---|---|---|---|")
    for argv in BUNDLED:
        with tempfile.TemporaryDirectory() as cache:
            cold = once(argv, {**os.environ, "MIGCOMPAT_CACHE": cache})
        once(argv)
        walls = [once(argv) for _ in range(args.runs)]
        print(f"| `migcompat {' '.join(argv)}` | {statistics.median(walls):.2f} s | "
              f"{min(walls):.2f} s | {cold:.2f} s | < 1 s |")
    if args.trees:
        from migcompat.qemu.debian.lock import load_pins
        from migcompat.qemu.debian.sources import fetch

        trees = [str(fetch(load_pins()[r], quiet=True)) for r in ("7.2", "10.0")]
        with tempfile.TemporaryDirectory() as cache:
            env = {**os.environ, "MIGCOMPAT_CACHE": cache}
            cold = once(["lint", *trees], env)
            warm = [once(["lint", *trees], env) for _ in range(args.runs)]
        print(f"| `migcompat lint TREE-7.2 TREE-10.0`, cold | {cold:.1f} s | | < 30 s |")
        print(f"| `migcompat lint TREE-7.2 TREE-10.0`, warm | {statistics.median(warm):.2f} s "
              f"| {min(warm):.2f} s | < 2 s |")


if __name__ == "__main__":
    main()
