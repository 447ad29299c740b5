"""How fast `check` answers the operator's question on the real catalogs (issue #6: under a
second, with reasons).

    python bench/check_bench.py [--runs 5]

Measures, median of --runs: the whole command as a user runs it (a new process: start-up,
lazy catalog load of the two releases and their captured state, realize, rules, output),
and `check` in process once the catalog is loaded.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from migcompat.analysis.check import check  # noqa: E402
from migcompat.catalog.load import open_catalog  # noqa: E402
from migcompat.model.devspec import parse_device  # noqa: E402
from migcompat.model.vm import VMConfig  # noqa: E402

ARGS = ["check", "--catalog", "qemu", "7.2:pc-q35-5.1", "10.0:pc-q35-5.1",
        "--device", "virtio-blk-pci", "--smp", "4"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "src")], check=True)
    walls = []
    for _ in range(args.runs):
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "migcompat", *ARGS],
                              capture_output=True, text=True, check=False)
        walls.append(time.perf_counter() - start)
    print(done.stdout.splitlines()[0])
    cat = open_catalog("qemu")
    devs = [parse_device("virtio-blk-pci")]
    warm = []
    for _ in range(args.runs + 1):
        start = time.perf_counter()
        res = check(VMConfig(cat.release("7.2"), "pc-q35-5.1", devs, smp=4),
                    VMConfig(cat.release("10.0"), "pc-q35-5.1", devs, smp=4))
        warm.append(time.perf_counter() - start)
    assert res.compatible
    print(f"migcompat {' '.join(ARGS)}")
    print(f"  whole command (new process)   median {statistics.median(walls):.3f} s "
          f"(min {min(walls):.3f})")
    print(f"  first check in process (cold) {warm[0]:.3f} s")
    print(f"  check in process (warm)       median {statistics.median(warm[1:]) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
