"""How fast `check` answers the operator's question on the real catalogs (target: under
0.3 s as a whole command, with the VM as options, as a QEMU command line or as a libvirt
domain).

    python bench/check_bench.py [--runs 5]

Measures, median of --runs: the whole command as a user runs it (a new process: start-up,
the two releases from the catalog cache, their captured state, realize, rules, fixes,
output), for a one-device VM given as options and for a 20-device libvirt VM given as the
command line libvirt 9 gave QEMU (bench/data/multiport-q35.args, from `virsh
domxml-to-native`) and as its domain XML; and `check` in process once the catalog is
loaded. The first run of each fills the catalog cache and is not counted.
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
LIBVIRT = [["check", "--catalog", "qemu", "7.2", "10.0", "--qemu-args",
            f"@{ROOT / 'bench' / 'data' / 'multiport-q35.args'}"],
           ["check", "--catalog", "qemu", "7.2", "10.0", "--libvirt-xml",
            str(ROOT / "tests" / "data" / "libvirt" / "multiport-q35.xml")]]


def whole(argv: list[str], runs: int) -> tuple[list[float], str]:
    """Wall times of ``migcompat ARGV`` in a new process, after one uncounted run."""
    walls = []
    for n in range(runs + 1):
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "migcompat", *argv],
                              capture_output=True, text=True, check=False)
        if n:
            walls.append(time.perf_counter() - start)
    return walls, (done.stdout.splitlines() or [done.stderr])[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "src")], check=True)
    walls, first = whole(ARGS, args.runs)
    print(first)
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
    for argv in LIBVIRT:
        times, first = whole(argv, args.runs)
        print(f"migcompat check ... {argv[-2]} {Path(argv[-1].lstrip('@')).name}")
        print(f"  {first[:110]}")
        print(f"  whole command (new process)   median {statistics.median(times):.3f} s "
              f"(min {min(times):.3f})")


if __name__ == "__main__":
    main()
