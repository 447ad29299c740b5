"""Classify device properties by what a real QEMU build does with them, measured.

    python tools/classify_props.py [--release 7.2] [--machine pc-q35-7.2]
                                   [--devices virtio-net-pci,e1000] [--out FILE.json]

For each curated device type of the capture (state/run.py's DEVICES, the same backends and
options) and each of its boolean properties (as the build's ``device-list-properties``
reports them, with the build's default), two real runs:

1. the VM with the property flipped is started and saved: does it start, and do its
   sections (id, instance, version, the stream's own description of each) and RAM blocks
   equal those of the VM with the default?
2. the stream of the VM with the default is loaded into a destination with the property
   flipped: does QEMU's loader accept it (and in which words does it refuse)?

Each property gets one class:

- ``refused``: the build will not start the device with that value (its words);
- ``breaks-load``: a destination with that value refuses a stream saved with the default;
- ``layout``: the destination loads the default's stream, but the value changes what the
  device itself sends (the other direction is not shown to load);
- ``neutral``: same sections, same descriptions, same RAM, and the default's stream loads.
  What validate needs: a destination differing only in neutral properties loads what the
  capture (made with the defaults) loads.

The result (sorted JSON, no timestamps) is written to ``--out`` (default:
``tests/data/props-measured/<release>.json``, against which the suite holds check's
predictions), progress to stderr. docs/property-classes.md gives the figures and what the
measure does not cover (a guest that has run). Two QEMUs run at a time.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from migcompat.errors import MigcompatError  # noqa: E402
from migcompat.qemu.binary.state.capture import target_for  # noqa: E402
from migcompat.qemu.binary.state.run import DEVICES, Device, Target, one_line, save  # noqa: E402
from migcompat.qemu.binary.state.stream import read_stream  # noqa: E402
from migcompat.qemu.debian.builds import build  # noqa: E402
from qemu_helpers import load_stream  # noqa: E402

FORMAT = 1
# Properties that are not the device's own behaviour: its place and identity.
SKIP = {"addr", "multifunction", "id", "romfile"}


def bool_props(target: Target, dtype: str) -> dict[str, bool]:
    """The boolean properties of ``dtype`` with their defaults, as the build reports them
    (those without a default are left out: nothing to flip from)."""
    with target.process(["-machine", "none"]) as vm:
        props = vm.cmd("device-list-properties", typename=dtype)
    out = {}
    for p in props if isinstance(props, list) else []:
        if p.get("type") == "bool" and isinstance(p.get("default-value"), bool) \
                and p["name"] not in SKIP:
            out[str(p["name"])] = bool(p["default-value"])
    return out


def layout(data: bytes) -> tuple[Any, ...]:
    """What a save shows of the VM's layout: each section and its description, RAM."""
    s = read_stream(data)
    return (tuple((x.idstr, x.instance_id, x.version_id, x.iterative,
                   json.dumps(x.desc, sort_keys=True)) for x in s.sections), s.ram)


def with_option(dev: Device, name: str, value: bool) -> Device:
    opt = f"{name}={'on' if value else 'off'}"
    return replace(dev, prop=f"{dev.prop},{opt}" if dev.prop else opt)


def one_line_of(stderr: str) -> str:
    lines = [ln.split(": ", 1)[-1] for ln in stderr.splitlines()
             if ln.strip() and "warning:" not in ln]
    return lines[0] if lines else "did not start"


def classify_one(target: Target, release: str, machine: str, dev: Device, base: bytes,
                 base_file: Path, name: str, default: bool) -> dict[str, Any]:
    flipped = with_option(dev, name, not default)
    entry: dict[str, Any] = {"default": default}
    try:
        mine = save(target, machine, 1, [flipped]).data
    except MigcompatError as exc:
        entry.update({"class": "refused", "words": one_line(exc)})
        return entry
    same = layout(mine) == layout(base)
    res = load_stream(base_file, machine, flipped.args(0), qemu=build(release))
    if not res.started:  # the destination did not come up: the value is refused there
        entry.update({"class": "refused", "words": one_line_of(res.stderr)})
    elif not res.ok:
        # QEMU's first error names the check that failed (later lines unwind to "load of
        # migration failed"); warnings (an unconnected hub) are not about the load.
        lines = [ln.split(": ", 1)[-1] for ln in res.stderr.splitlines()
                 if ln.strip() and "warning:" not in ln]
        entry.update({"class": "breaks-load", "words": lines[0] if lines else "load failed"})
    else:
        entry["class"] = "neutral" if same else "layout"
    return entry


def classify(release: str, machine: str, devices: Sequence[Device], jobs: int
             ) -> dict[str, Any]:
    target = target_for(release)
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="mcprops") as tmp, \
            ThreadPoolExecutor(jobs) as pool:
        for dev in devices:
            try:
                props = bool_props(target, dev.type)
                base = save(target, machine, 1, [dev]).data
            except MigcompatError as exc:
                print(f"{dev.type}: skipped ({one_line(exc)})", file=sys.stderr)
                continue
            base_file = Path(tmp) / f"{dev.type}.mig"
            base_file.write_bytes(base)
            futures = {name: pool.submit(classify_one, target, release, machine, dev, base,
                                         base_file, name, default)
                       for name, default in sorted(props.items())}
            out[dev.type] = {name: f.result() for name, f in futures.items()}
            counts: dict[str, int] = {}
            for e in out[dev.type].values():
                counts[e["class"]] = counts.get(e["class"], 0) + 1
            print(f"{dev.type}: {counts}", file=sys.stderr)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--release", default="7.2", choices=["5.2", "7.2", "10.0"])
    ap.add_argument("--machine", default=None, help="default: pc-q35-<release>")
    ap.add_argument("--devices", default=None, help="comma-separated device types")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    machine = args.machine or f"pc-q35-{args.release}"
    wanted = set(args.devices.split(",")) if args.devices else None
    devices = [d for d in DEVICES if wanted is None or d.type in wanted]
    result = classify(args.release, machine, devices, max(1, min(args.jobs, 2)))
    doc = {"format": FORMAT, "release": args.release, "machine": machine,
           "devices": result}
    out = args.out or ROOT / "tests/data/props-measured" / f"{args.release}.json"
    text = json.dumps(doc, sort_keys=True, indent=1, ensure_ascii=False) + "\n"
    out.write_text(text)
    print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
