"""Migration throughput: migcompat vs real QEMU, same guest shape, over a unix socket.

Guest: 1 GiB of RAM, 512 MiB of it random pages (the rest zero).
- migcompat: `migcompat run ... --incoming unix:S` and `migcompat migrate ... --to unix:S
  -m 1G --ram-data 512M`, two processes; time = the source's measured transfer (connect to
  the destination's verdict, digest check included). Startup and RAM generation excluded.
- QEMU: a paused source with `-device loader,file=RANDOM,addr=0x400000,force-raw=on`, a
  destination with `-incoming unix:S`, `max-bandwidth` raised; time = query-migrate's
  total-time once the migration completed.

Reports guest RAM bytes per wall-clock second, median of N warm runs, and the ratio, with
the 1-minute load average before and after (the machine has 2 cores and is shared: figures
taken under load are not comparable).

    python bench/migrate_bench.py [--runs 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from migcompat.qemu.binary.qmp import QemuProcess

RAM = 1 << 30
RANDOM = 512 << 20
MIG = [sys.executable, "-m", "migcompat"]
VM = ["qemu-5.2", "pc-5.2", "--catalog", "tutorial", "--device", "virtio-blk-pci",
      "--smp", "4", "-m", "1G"]


def migcompat_once(tmp: Path) -> float:
    sock = tmp / "mc.sock"
    dst = subprocess.Popen([*MIG, "run", *VM, "--incoming", f"unix:{sock}", "--format", "json"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert dst.stdout is not None
    dst.stdout.readline()
    src = subprocess.run([*MIG, "migrate", *VM, "--ram-data", "512M", "--to", f"unix:{sock}",
                          "--format", "json"], capture_output=True, text=True, check=False)
    _, err = dst.communicate(timeout=300)
    if src.returncode or dst.returncode:
        raise SystemExit(f"migcompat migration failed: {src.stderr} {err}")
    return float(json.loads(src.stdout)["seconds"])


def qemu_once(tmp: Path, blob: Path) -> float:
    sock = tmp / "q.sock"
    base = ["-M", "pc-q35-7.2", "-m", "1G", "-smp", "4"]
    with QemuProcess([*base, "-incoming", f"unix:{sock}"]) as dst, \
            QemuProcess([*base, "-device",
                         f"loader,file={blob},addr=0x400000,force-raw=on"]) as src:
        del dst
        src.cmd("migrate-set-parameters", **{"max-bandwidth": 100 << 30,
                                              "downtime-limit": 100_000})
        src.cmd("migrate", uri=f"unix:{sock}")
        while True:
            info = src.cmd("query-migrate")
            status = info.get("status")
            if status == "completed":
                return float(info["total-time"]) / 1000.0
            if status in ("failed", "cancelled"):
                raise SystemExit(f"QEMU migration {status}: {info}")
            time.sleep(0.01)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="migbench.") as d:
        tmp = Path(d)
        blob = tmp / "random.bin"
        blob.write_bytes(os.urandom(RANDOM))
        results: dict[str, list[float]] = {"migcompat": [], "qemu": []}
        migcompat_once(tmp)  # warm-up
        qemu_once(tmp, blob)
        for _ in range(args.runs):
            results["migcompat"].append(migcompat_once(tmp))
            results["qemu"].append(qemu_once(tmp, blob))
    load_after = os.getloadavg()[0]
    med = {k: statistics.median(v) for k, v in results.items()}
    rate = {k: RAM / v for k, v in med.items()}
    report = {"ram_bytes": RAM, "random_bytes": RANDOM, "runs": args.runs,
              "seconds": results, "median_seconds": med,
              "bytes_per_second": rate,
              "ratio_migcompat_over_qemu": rate["migcompat"] / rate["qemu"],
              "load_average": {"before": load_before, "after": load_after}}
    if args.json:
        print(json.dumps(report, indent=2))
        return
    for k in ("migcompat", "qemu"):
        print(f"{k:10s} median {med[k]:.3f}s  {rate[k] / 1e9:.2f} GB/s guest RAM  "
              f"runs: {', '.join(f'{x:.3f}' for x in results[k])}")
    print(f"ratio migcompat/qemu: {report['ratio_migcompat_over_qemu']:.2f}")
    print(f"load average (1 min): {load_before:.2f} before, {load_after:.2f} after")


if __name__ == "__main__":
    main()
