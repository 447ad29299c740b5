"""How fast `plan` plans a fleet (issue #15's target: 1,000,000 VMs over 7.2 -> 10.0 ->
10.2 in under 10 s, peak memory under 500 MB, writing one JSON line per VM).

    python bench/plan_bench.py [--vms 1000000] [--rows jsonl|csv] [--runs 3] [--unique] [--keep DIR]

Generates an inventory of VMS rows on 7.2 hosts, each with its QEMU command line
(``qemu_args``), mixing the machine types operators run (old pc-i440fx-2.x and 4.2 types,
pc-q35-5.x, 6.2 and 7.2, the ``q35`` alias) with the device sets of a few workloads (web,
database, a Windows guest with pvpanic and a NEC xHCI, a legacy e1000/IDE guest, a
virtio-scsi file server, a minimal one), two vCPU counts and two RAM sizes: a few hundred
distinct configs, every VM named on its own. Then it runs, in a new process,

    migcompat plan INVENTORY --catalog qemu --to 10.0 --to 10.2 --format jsonl > /dev/null

--runs times, and reports the best and median wall time, the best CPU time (user + sys,
which another process on the machine disturbs less than wall time) and the peak RSS
(``resource.getrusage(RUSAGE_CHILDREN)``), then the distinct configs and the VMs by action
(a text run on the same file gives them). A run of ``releases`` first fills the catalog
cache.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

MACHINES = {  # machine type: weight, as an operator's older fleet might hold them
    "pc-i440fx-2.4": 4, "pc-i440fx-2.11": 5, "pc-i440fx-2.12": 3, "pc-i440fx-4.2": 6,
    "pc-q35-5.1": 10, "pc-q35-5.2": 8, "pc-q35-6.2": 10, "pc-q35-7.2": 12, "q35": 4,
}
DISK = "-drive file=/var/lib/vm/{n}.qcow2,if=none,id=drive0 "
WORKLOADS = {  # name: (weight, devices as QEMU options)
    "web": (10, "-device virtio-net-pci,netdev=n0,id=net0 "
                "-device virtio-blk-pci,drive=drive0,id=disk0 "
                "-device qemu-xhci,id=usb -device usb-tablet,bus=usb.0"),
    "db": (6, "-device virtio-net-pci,netdev=n0,id=net0 -device virtio-scsi-pci,id=scsi0 "
              "-device scsi-hd,bus=scsi0.0,drive=drive0 -device virtio-balloon-pci,id=balloon0"),
    "windows": (4, "-device e1000e,netdev=n0,id=net0 -device ahci,id=sata0 "
                   "-device ide-hd,bus=sata0.0,drive=drive0 -device nec-usb-xhci,id=usb "
                   "-device usb-tablet,bus=usb.0 -device pvpanic"),
    "legacy": (2, "-device e1000,netdev=n0,id=net0 -device ide-hd,bus=ide.0,drive=drive0"),
    "files": (3, "-device virtio-net-pci,netdev=n0,id=net0 -device virtio-blk-pci,drive=drive0 "
                 "-device virtio-rng-pci"),
    "minimal": (2, "-device virtio-net-pci,netdev=n0"),
}
SMP = (2, 4)
MEM = ("4G", "8G")


def command_line(rng: random.Random, number: int) -> str:
    machine = rng.choices(list(MACHINES), weights=list(MACHINES.values()))[0]
    workload = rng.choices(list(WORKLOADS), weights=[w for w, _ in WORKLOADS.values()])[0]
    devices = WORKLOADS[workload][1]
    # what libvirt-like command lines carry: the host's options are skipped by plan
    return (f"/usr/bin/qemu-system-x86_64 -name guest=vm{number} -machine {machine} "
            f"-smp {rng.choice(SMP)} -m {rng.choice(MEM)} -nodefaults "
            f"-netdev tap,id=n0 {DISK.format(n=number)}{devices}")


def generate(path: Path, vms: int, rows: str, unique: bool = False, seed: int = 15) -> None:
    """VMS rows of a fleet on 7.2 hosts, each VM named on its own. The command lines come
    from 2000 templates (a few hundred distinct configs), as a fleet provisioned from
    templates has them; with ``unique`` each VM has its own -name, disk path and MAC
    address, as libvirt writes them, so no two rows are written alike (plan's first memo
    then keys them on the line without what is the VM's own, plan_cmd.args_key)."""
    rng = random.Random(seed)
    pool = [command_line(rng, 0) for _ in range(2000)]  # the fleet's templates

    def args(n: int) -> str:
        text = rng.choice(pool)
        if not unique:
            return text
        mac = f"52:54:00:{n >> 16 & 255:02x}:{n >> 8 & 255:02x}:{n & 255:02x}"
        return text.replace("/vm/0.qcow2", f"/vm/{n}.qcow2").replace(
            "guest=vm0", f"guest=vm{n}").replace("id=net0", f"id=net0,mac={mac}")

    with path.open("w", newline="") as f:
        if rows == "csv":
            out = csv.writer(f, lineterminator="\n")
            out.writerow(["name", "release", "qemu_args"])
            for n in range(vms):
                out.writerow([f"vm{n}", "7.2", args(n)])
        else:
            for n in range(vms):
                f.write(json.dumps({"name": f"vm{n}", "release": "7.2",
                                    "qemu_args": args(n)}) + "\n")


def run(argv: list[str], stdout: int | None) -> tuple[float, subprocess.CompletedProcess[str]]:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "migcompat", *argv], stdout=stdout,
                          stderr=subprocess.PIPE, text=True, check=False,
                          env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    return time.perf_counter() - start, done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vms", type=int, default=1_000_000)
    parser.add_argument("--rows", choices=["jsonl", "csv"], default="jsonl")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--unique", action="store_true",
                        help="no two command lines alike (each VM's own name, disk, MAC)")
    parser.add_argument("--keep", type=Path, default=None,
                        help="write the inventory in this directory and keep it")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="plan-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    inventory = folder / f"fleet.{args.rows}"
    start = time.perf_counter()
    generate(inventory, args.vms, args.rows, args.unique)
    size = inventory.stat().st_size
    print(f"inventory: {args.vms} VMs, {size / 1e6:.0f} MB of {args.rows} "
          f"({time.perf_counter() - start:.1f} s to generate): {inventory}")
    plan = ["plan", str(inventory), "--catalog", "qemu", "--to", "10.0", "--to", "10.2"]
    run(["releases", "--catalog", "qemu"], subprocess.DEVNULL)  # fill the catalog cache
    walls, cpus = [], []
    for _ in range(args.runs):
        used = resource.getrusage(resource.RUSAGE_CHILDREN)
        wall, done = run([*plan, "--format", "jsonl"], subprocess.DEVNULL)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if done.returncode not in (0, 1):
            sys.exit(f"plan failed ({done.returncode}): {done.stderr.strip()}")
        walls.append(wall)
        cpus.append(after.ru_utime + after.ru_stime - used.ru_utime - used.ru_stime)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # the largest child's
    print(f"plan --format jsonl > /dev/null, {args.runs} runs: wall best {min(walls):.2f} s, "
          f"median {statistics.median(walls):.2f} s; CPU (user+sys) best {min(cpus):.2f} s; "
          f"peak RSS {peak / 1024:.0f} MB (targets: < 10 s, < 500 MB; load average now "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    _, text = run([*plan, "--format", "text"], subprocess.PIPE)
    print("\n".join(text.stdout.splitlines()[:6]))
    if args.keep is None:
        inventory.unlink()
        folder.rmdir()


if __name__ == "__main__":
    main()
