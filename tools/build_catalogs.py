"""Build the bundled qemu catalogs: source import, then the hand-written overlay.

    python tools/build_catalogs.py [IDS...] [--out DIR] [--raw DIR] [--no-import]

1. ``migcompat.qemu.source.catalogs.build`` imports each pinned QEMU source tree into
   ``--raw`` (default ``$MIGCOMPAT_CACHE/imports``, else ``~/.cache/migcompat/imports``);
   ``--no-import`` reuses the raw imports already there (to try an overlay change).
2. ``migcompat.qemu.overlay.apply_overlay`` merges ``overlay.toml`` onto each one; the result
   is validated and written to ``--out`` (default: the bundled catalog directory) as
   compact JSON, with ``origin`` saying both steps.

``make catalogs`` runs this. Exit status 0, 2 when a built release does not validate.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from migcompat.catalog.checker import Checker
from migcompat.catalog.load import DATA_DIR, read_data
from migcompat.catalog.release_loader import build_release
from migcompat.errors import CatalogError, MigcompatError
from migcompat.qemu.overlay import OVERLAY_PATH, apply_overlay, load_overlay

RELEASES = ("5.2", "7.2", "10.0", "10.2")


def raw_dir() -> Path:
    base = os.environ.get("MIGCOMPAT_CACHE")
    if base:
        return Path(base).expanduser() / "imports"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "migcompat" / "imports"


def finish(raw: Path, out: Path, overlay: dict[str, Any]) -> Path:
    data = apply_overlay(read_data(raw), overlay)
    data["origin"] = "import-source + overlay.toml"
    chk = Checker(str(out))
    body = {k: v for k, v in data.items() if k != "format"}
    build_release(body, chk, "$", str(data.get("id")))
    if chk.problems:
        raise CatalogError(chk.problems)
    out.write_text(json.dumps(data, separators=(",", ":"), ensure_ascii=False) + "\n",
                   encoding="utf-8")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="tools/build_catalogs.py",
                                 description=(__doc__ or "").splitlines()[0])
    ap.add_argument("ids", nargs="*", help=f"release ids (default: {' '.join(RELEASES)})")
    ap.add_argument("--out", type=Path, default=DATA_DIR / "qemu")
    ap.add_argument("--raw", type=Path, default=None, help="directory of the raw imports")
    ap.add_argument("--overlay", type=Path, default=OVERLAY_PATH)
    ap.add_argument("--lock", type=Path, help="lock file (default: the repository's)")
    ap.add_argument("--no-import", action="store_true", help="reuse the raw imports")
    args = ap.parse_args(argv)
    raw = args.raw or raw_dir()
    ids = list(args.ids) or list(RELEASES)
    try:
        if not args.no_import:
            from migcompat.qemu.source.catalogs import build

            build(raw, ids, args.lock)
        overlay = load_overlay(args.overlay)
        args.out.mkdir(parents=True, exist_ok=True)
        for rid in ids:
            path = finish(raw / f"{rid}.json", args.out / f"{rid}.json", overlay)
            print(f"{path}: {rid} with {args.overlay.name}", file=sys.stderr)
    except MigcompatError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
