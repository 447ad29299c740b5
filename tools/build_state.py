"""Capture what each real QEMU build's VM sends when it migrates, per machine type.

    python tools/build_state.py --release 5.2|7.2|10.0|all [--machines GLOB] [--out DIR]
    python tools/build_state.py --release all --devices-only   # the device probe alone

Runs the real builds (``migcompat.qemu.debian.builds``: the system QEMU 7.2, and the private 5.2 and
10.0 builds that ``make qemu-builds`` unpacks) two at a time and writes
``<release>.state.json`` to ``--out`` (default: the bundled catalog directory). See
docs/probe-state.md for what is captured and the file format. Progress goes to stderr.

``make catalogs-state`` runs this for all three releases. Exit status 0; 1 when a release
could not be captured (its file is then left as it was).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from migcompat.catalog.load import DATA_DIR
from migcompat.errors import MigcompatError
from migcompat.qemu.binary.state.capture import (
    RELEASES,
    machine_types,
    newest_families,
    probe_state,
    target_for,
)
from migcompat.qemu.binary.state.device_probe import probe_devices


def write(path: Path, doc: object) -> int:
    """Write compact JSON with sorted keys (as the release catalogs are), atomically;
    return its size in bytes."""
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    return len(text.encode())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--release", required=True, choices=[*RELEASES, "all"])
    ap.add_argument("--machines", metavar="GLOB",
                    help="only machine types matching this glob (e.g. 'pc-q35-*')")
    ap.add_argument("--out", type=Path, default=DATA_DIR / "qemu",
                    help="directory for <release>.state.json (default: %(default)s)")
    ap.add_argument("--jobs", type=int, default=2, help="QEMU runs at once (at most 2)")
    ap.add_argument("--devices-only", action="store_true",
                    help="run only the device probe (every device type, started and "
                         "migrated) and merge it into the existing <release>.state.json")
    args = ap.parse_args(argv)
    releases = RELEASES if args.release == "all" else (args.release,)
    status = 0
    for release in releases:
        start = time.monotonic()
        say = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
        path = args.out / f"{release}.state.json"
        try:
            if args.devices_only:
                target = target_for(release)
                doc = json.loads(path.read_text())
                families = newest_families(machine_types(target))
                doc["device_probe"] = probe_devices(target, families, say, args.jobs)
                size = write(path, doc)
                print(f"{path}: device probe merged, {size} bytes, "
                      f"{time.monotonic() - start:.0f} s", file=sys.stderr)
                continue
            doc = probe_state(release, target_for(release), args.machines, say, args.jobs)
        except MigcompatError as exc:
            print(f"{release}: error: {exc}", file=sys.stderr)
            status = 1
            continue
        size = write(path, doc)
        devices = sum(len(m["devices"]) for m in doc["machines"].values())
        print(f"{path}: {len(doc['machines'])} machines, {len(doc['skipped'])} skipped, "
              f"{devices} device captures, {len(doc['schemas'])} schemas, {size} bytes, "
              f"{time.monotonic() - start:.0f} s", file=sys.stderr)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
