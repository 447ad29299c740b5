"""``python -m migcompat.qemu.source TREE -o FILE``: import a QEMU tree to a catalog."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from migcompat.errors import MigcompatError
from migcompat.qemu.source.importer import import_tree
from migcompat.qemu.source.progress import terminal_progress


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m migcompat.qemu.source",
        description="Import a QEMU source tree (5.2 .. 10.x) into a release catalog (JSON).",
        epilog="example: python -m migcompat.qemu.source ~/qemu-7.2 "
        "--debian-version 1:7.2+dfsg-7+deb12u18 -o 7.2.json",
    )
    parser.add_argument("tree", type=Path, help="the root of the QEMU source tree")
    parser.add_argument("-o", "--output", type=Path, help="write here (default: stdout)")
    parser.add_argument("--debian-version", help="the Debian package version the tree is from")
    parser.add_argument("--indent", type=int, default=None, help="pretty-print JSON")
    args = parser.parse_args(argv)
    start = time.monotonic()
    try:
        with terminal_progress() as progress:
            catalog = import_tree(args.tree, debian_version=args.debian_version, progress=progress)
    except MigcompatError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    separators = (",", ":") if args.indent is None else None
    text = json.dumps(catalog, indent=args.indent, separators=separators, ensure_ascii=False)
    if args.output:
        tmp = args.output.with_name(args.output.name + ".tmp")
        tmp.write_text(text + "\n", encoding="utf-8")
        tmp.replace(args.output)
    else:
        sys.stdout.write(text + "\n")
    print(
        f"imported {args.tree} (QEMU {catalog['version']}) in {time.monotonic() - start:.1f}s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
