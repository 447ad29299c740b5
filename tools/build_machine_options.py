"""Read each real build's machine options (QMP ``qom-list-properties``) into the bundled
``machine-options.json``: per release, per machine family, option name -> QEMU's type.

    python tools/build_machine_options.py [--release 7.2 ...] [--out FILE]

The builds are the pinned ones (``migcompat builds``); a family's options are read from its
newest machine type (a family's machine types share their class's properties). The output
is deterministic (sorted keys): two runs give the same bytes.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from migcompat.catalog.load import open_catalog  # noqa: E402
from migcompat.errors import MigcompatError  # noqa: E402
from migcompat.model.machines import version_key  # noqa: E402
from migcompat.qemu.binary.qmp import QemuProcess  # noqa: E402
from migcompat.qemu.debian.builds import QemuBuild, build  # noqa: E402

OUT = ROOT / "src" / "migcompat" / "catalog" / "data" / "qemu" / "machine-options.json"
RELEASES = ("5.2", "7.2", "10.0")
def options(b: QemuBuild, machine: str) -> dict[str, str]:
    """Every property of the machine type's class and instance, with its QAPI type, from
    QMP qom-list-properties (``-machine TYPE,help`` leaves the instance ones out in 7.2)."""
    with QemuProcess([*b.args(), "-machine", "none"], binary=b.binary,
                     env=b.env if b.private else None) as vm:
        props = vm.cmd("qom-list-properties", typename=f"{machine}-machine")
    return {p["name"]: p["type"] for p in props
            if p["name"] not in ("type", "parent_bus") and not p["type"].startswith("child<")}


# The fallback, where instantiating the machine alone asserts (5.2 and 7.2's microvm):
# "  acpi=<OnOffAuto>  - Enable ACPI" (7.2 on), "microvm.acpi=OnOffAuto (...)" (5.2).
_LINE = re.compile(r"^\s*(?:[\w.-]+\.)?([a-z][\w-]*)=(?:<(\S+?)>(?:\s|$)|([\w<>-]+))")


def help_options(b: QemuBuild, machine: str) -> dict[str, str]:
    out = subprocess.run([b.binary, *b.args(), "-machine", f"{machine},help"],
                         capture_output=True, text=True, env=b.env if b.private else None,
                         timeout=60, check=True).stdout
    return {m.group(1): m.group(2) or m.group(3)
            for m in map(_LINE.match, out.splitlines()) if m is not None}


def families(release_id: str) -> dict[str, str]:
    """Each machine family of the release and its newest machine type."""
    rel = open_catalog("qemu").release(release_id)
    newest: dict[str, str] = {}
    for name in rel.machines.names():
        m = rel.machines.machines[name]
        if m.family not in newest or version_key(m.version) > version_key(
                rel.machines.machines[newest[m.family]].version):
            newest[m.family] = name
    return newest


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--release", action="append", help="release ids (default: 5.2 7.2 10.0)")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    doc: dict[str, dict[str, dict[str, str]]] = {}
    if args.out.exists():
        doc = json.loads(args.out.read_text())
    for rid in args.release or RELEASES:
        b = build(rid, fetch_missing=True)
        doc[rid] = {}
        for family, machine in sorted(families(rid).items()):
            try:
                doc[rid][family] = options(b, machine)
            except MigcompatError:  # 5.2's and 7.2's microvm assert when made alone
                doc[rid][family] = help_options(b, machine)
        print(f"{rid}: {', '.join(f'{f} {len(o)}' for f, o in doc[rid].items())}",
              file=sys.stderr)
    args.out.write_text(json.dumps({"format": 1, **{k: v for k, v in doc.items()
                                                    if k != "format"}},
                                   sort_keys=True, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
