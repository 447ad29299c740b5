#!/usr/bin/env python3
"""A long fuzz campaign over analyze, validate and rewrite (the target: tools/fuzzing.py).

Seeds are real QEMU streams: files given with ``--seed``, or made with ``--make-seeds DIR``
by the real builds the suite uses (the system QEMU, and 5.2/10.0 where ``make qemu-builds``
unpacked them), several machine types and device sets each. Workers run inputs in bounded
memory (an address-space limit each) and bounded time (a per-input alarm: a hang is a
finding). Every finding is written to ``--crashes DIR`` as the input and its message.

Examples:
  python tools/fuzz.py --make-seeds /tmp/seeds --inputs 1000000
  python tools/fuzz.py --seed a.mig --seed b.mig --inputs 20000 --workers 1
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import random
import resource
import signal
import sys
import time
from pathlib import Path
from types import FrameType

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

import fuzzing  # noqa: E402

# (release, machine, extra arguments, MiB): device sets that give the decoders work.
SEED_VMS = [
    ("7.2", "pc-i440fx-7.2", ["-nodefaults", "-vga", "none"], 2),
    ("7.2", "pc-i440fx-2.3", ["-nodefaults", "-vga", "none"], 2),  # no configuration, footers
    ("7.2", "pc-q35-7.2", [
        "-nodefaults", "-device", "VGA", "-device", "virtio-net-pci,id=n0",
        "-device", "e1000,id=n1", "-device", "usb-ehci,id=ehci", "-device", "usb-tablet",
        "-device", "virtio-balloon-pci", "-blockdev", "null-co,node-name=d0",
        "-device", "virtio-blk-pci,drive=d0", "-device", "pvpanic", "-device", "i6300esb",
        "-audiodev", "none,id=a0", "-device", "intel-hda", "-device", "hda-duplex,audiodev=a0",
        "-device", "virtio-serial-pci", "-device", "nec-usb-xhci"], 4),
    ("5.2", "pc-i440fx-5.2", ["-device", "rtl8139", "-device", "virtio-rng-pci",
                              "-device", "piix3-usb-uhci", "-device", "usb-kbd"], 2),
    ("10.0", "pc-q35-10.0", ["-device", "virtio-gpu-pci", "-device", "e1000e",
                             "-device", "pvpanic-pci", "-device", "qemu-xhci",
                             "-device", "usb-mouse"], 4),
]


def make_seeds(directory: Path) -> list[Path]:
    """Each SEED_VMS entry saved by its real build (skipped when the build is missing)."""
    from migcompat.errors import MigcompatError
    from migcompat.qemu.debian.builds import build
    from qemu_helpers import make_stream  # type: ignore[import-not-found]

    directory.mkdir(parents=True, exist_ok=True)
    out = []
    for release, machine, extra, mem in SEED_VMS:
        name = f"{release}-{machine}.mig"
        if not (directory / name).exists():
            try:
                qemu = build(release)
            except MigcompatError as exc:
                print(f"fuzz: no {release} build ({exc}); its seed is left out", file=sys.stderr)
                continue
            make_stream(directory, machine, extra, mem=mem, name=name, qemu=qemu)
        out.append(directory / name)
    return out


class Hang(Exception):
    pass


def _alarm(signum: int, frame: FrameType | None) -> None:
    raise Hang


_SEEDS: list[fuzzing.Seed] = []


def _init(paths: list[str], memory: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    signal.signal(signal.SIGALRM, _alarm)
    _SEEDS.extend(fuzzing.make_seed(Path(p).name, Path(p).read_bytes()) for p in paths)


def _batch(job: tuple[int, int, float]) -> dict[str, object]:
    """``count`` inputs from the random stream ``seed``; what they gave."""
    seed, count, timeout = job
    rng = random.Random(seed)
    whole, findings = 0, []
    for _ in range(count):
        target = rng.choice(_SEEDS)
        data = fuzzing.mutate(rng, target, _SEEDS)
        signal.setitimer(signal.ITIMER_REAL, timeout)
        try:
            whole += fuzzing.run_one(data, target)
        except fuzzing.Crash as exc:
            findings.append((str(exc), data))
        except Hang:
            findings.append((f"hang: no answer in {timeout} s", data))
        except MemoryError:
            findings.append(("MemoryError: past the address-space limit", data))
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    return {"count": count, "whole": whole, "findings": findings,
            "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 2)[2])
    ap.add_argument("--seed", action="extend", nargs="+", default=[], metavar="FILE",
                    help="a real QEMU stream with its trailing description (repeatable)")
    ap.add_argument("--make-seeds", metavar="DIR", type=Path,
                    help="save the seed VMs with the real builds into DIR (kept for reuse)")
    ap.add_argument("--inputs", type=int, default=1_000_000)
    ap.add_argument("--workers", type=int, default=max(1, multiprocessing.cpu_count()))
    ap.add_argument("--random-seed", type=int, default=1, help="the campaign's (reproducible)")
    ap.add_argument("--timeout", type=float, default=10.0, help="seconds per input")
    ap.add_argument("--memory", type=int, default=2048, metavar="MIB",
                    help="address-space limit of each worker")
    ap.add_argument("--crashes", type=Path, default=Path("fuzz-findings"), metavar="DIR")
    ap.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = ap.parse_args(argv)
    paths = [Path(p) for p in args.seed]
    if args.make_seeds:
        paths += make_seeds(args.make_seeds)
    if not paths:
        ap.error("give --seed FILE or --make-seeds DIR")
    batch = 500
    jobs = [(args.random_seed * 1_000_003 + n, min(batch, args.inputs - n * batch), args.timeout)
            for n in range((args.inputs + batch - 1) // batch)]
    done = whole = 0
    findings: list[tuple[str, bytes]] = []
    peak = 0
    start = time.monotonic()
    with multiprocessing.get_context("fork").Pool(
            args.workers, _init, ([str(p) for p in paths], args.memory << 20)) as pool:
        for res in pool.imap_unordered(_batch, jobs):
            done += res["count"]  # type: ignore[operator]
            whole += res["whole"]  # type: ignore[operator]
            findings += res["findings"]  # type: ignore[arg-type]
            peak = max(peak, res["rss"])  # type: ignore[call-overload]
            if sys.stderr.isatty():
                print(f"\r{done} inputs, {len(findings)} findings", end="", file=sys.stderr)
    elapsed = time.monotonic() - start
    if findings:
        args.crashes.mkdir(parents=True, exist_ok=True)
        for message, data in findings:
            name = hashlib.sha256(data).hexdigest()[:16]
            (args.crashes / f"{name}.mig").write_bytes(data)
            (args.crashes / f"{name}.txt").write_text(message + "\n")
    summary = {"inputs": done, "read_whole": whole, "findings": len(findings),
               "seconds": round(elapsed, 1), "inputs_per_second": round(done / elapsed),
               "workers": args.workers, "peak_rss_mib": round(peak / 1024, 1),
               "seeds": [p.name for p in paths]}
    if sys.stderr.isatty():
        print(file=sys.stderr)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"{done} inputs in {elapsed:.0f} s ({summary['inputs_per_second']}/s, "
              f"{args.workers} workers), {whole} read whole, {len(findings)} findings, "
              f"peak RSS {summary['peak_rss_mib']} MiB per worker; seeds: "
              + ", ".join(p.name for p in paths))
        for message, _ in findings[:20]:
            print(f"  {message}")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
