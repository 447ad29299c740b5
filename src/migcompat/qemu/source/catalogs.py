"""``make catalogs``: fetch every pinned tree and write ``<id>.json`` for each release.

Usage: ``python -m migcompat.qemu.source.catalogs --out src/migcompat/catalog/data/qemu``.
The output is compact JSON with sorted-free, stable key order (the importer's order), so
re-running on the same pins gives byte-identical files.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from migcompat.errors import MigcompatError
from migcompat.qemu.debian.lock import load_pins
from migcompat.qemu.debian.sources import fetch, is_orig_only
from migcompat.qemu.source.importer import import_tree, release_id
from migcompat.qemu.source.progress import terminal_progress


def build(out: Path, ids: list[str] | None = None, lock: Path | None = None) -> list[Path]:
    pins = load_pins(lock)
    written: list[Path] = []
    out.mkdir(parents=True, exist_ok=True)
    for rid in ids or list(pins):
        pin = pins[rid]
        tree = fetch(pin)
        start = time.monotonic()
        with terminal_progress() as progress:
            catalog = import_tree(tree, debian_version=pin.version, progress=progress)
        if catalog["id"] != rid:
            raise MigcompatError(
                f"pin {rid} is QEMU {catalog['version']} (release {release_id(catalog['version'])})"
            )
        path = out / f"{rid}.json"
        text = json.dumps(catalog, separators=(",", ":"), ensure_ascii=False) + "\n"
        path.write_text(text, encoding="utf-8")
        note = " (upstream tarball, no Debian patches)" if is_orig_only(tree) else ""
        print(
            f"{path}: QEMU {catalog['version']}{note}, {len(text) // 1024} KiB, "
            f"imported in {time.monotonic() - start:.1f}s",
            file=sys.stderr,
        )
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m migcompat.qemu.source.catalogs", description=__doc__.splitlines()[0]
    )
    parser.add_argument("ids", nargs="*", help="release ids (default: every pin)")
    parser.add_argument("--out", type=Path, required=True, help="directory for <id>.json")
    parser.add_argument("--lock", type=Path, help="lock file (default: the repository's)")
    args = parser.parse_args(argv)
    try:
        build(args.out, args.ids or None, args.lock)
    except MigcompatError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
