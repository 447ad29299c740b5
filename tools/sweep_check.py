"""Run `check` over every common pc-* machine type, each probed device alone (and none),
for every ordered pair of the releases with captured state, and count what breaks.

    python tools/sweep_check.py [--releases 5.2,7.2,10.0] [--all-codes]

By default it lists section-level reasons (unknown sections, versions, subsections, layouts,
RAM blocks); --all-codes adds property differences. docs/real-migrations.md quotes its run.
"""

from __future__ import annotations

import argparse
import collections
import itertools
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from migcompat.analysis.check import check
from migcompat.catalog.load import open_catalog
from migcompat.model.devspec import parse_device
from migcompat.model.vm import VMConfig
from migcompat.qemu.binary.state.run import DEVICES

PROPERTY_CODES = ("property-differs", "property-one-side", "device-missing")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--releases", default="5.2,7.2,10.0")
    parser.add_argument("--all-codes", action="store_true")
    args = parser.parse_args()
    cat = open_catalog("qemu")
    rels = {r: cat.release(r) for r in args.releases.split(",")}
    counts: collections.Counter[tuple[str, str]] = collections.Counter()
    first: dict[tuple[str, str], str] = {}
    n, start = 0, time.perf_counter()
    for a, b in itertools.permutations(rels, 2):
        common = set(rels[a].machines.names()) & set(rels[b].machines.names())
        for machine in sorted(m for m in common if m.startswith("pc-")):
            for dev in [None, *(d.type for d in DEVICES)]:
                devs = [parse_device(dev)] if dev else []
                res = check(VMConfig(rels[a], machine, devs, smp=2, mem=64 << 20),
                            VMConfig(rels[b], machine, devs, smp=2, mem=64 << 20))
                n += 1
                for r in res.breaking():
                    if r.code in PROPERTY_CODES and not args.all_codes:
                        continue
                    key = (r.code, r.message)
                    counts[key] += 1
                    first.setdefault(key, f"{a} -> {b} {machine} {dev or '(no device)'}")
    print(f"{n} checks in {time.perf_counter() - start:.1f} s; "
          f"{sum(counts.values())} breaking reasons")
    for (code, message), count in counts.most_common():
        print(f"{count:5d}  {code}: {message}\n       first: {first[(code, message)]}")


if __name__ == "__main__":
    main()
