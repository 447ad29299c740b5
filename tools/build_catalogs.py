"""Build the bundled qemu catalogs: source import, probe merge, then the hand-written overlay.

    python tools/build_catalogs.py [IDS...] [--out DIR] [--raw DIR] [--no-import]
                                   [--no-probe] [--reprobe] [--report FILE]

1. ``import_pinned`` imports each pinned QEMU source tree (``migcompat sources``) into
   ``--raw`` (default ``$MIGCOMPAT_CACHE/imports``, else ``~/.cache/migcompat/imports``);
   ``--no-import`` reuses the raw imports already there (to try an overlay change).
2. For each release with a runnable build pinned in catalogs.lock.toml (``[[build]]``: 5.2,
   7.2 the system's, 10.0), ``migcompat.qemu.binary.merge.merge_probe`` merges a probe of that
   build into the import, keeping the binary's answer where they disagree. Probes are cached
   in ``$MIGCOMPAT_CACHE/probes/<id>.json`` (``--reprobe`` probes again); a missing build is
   fetched (``migcompat.qemu.debian.builds``). ``--no-probe`` skips this step.
3. ``migcompat.qemu.overlay.apply_overlay`` merges ``overlay.toml`` onto each one; the result
   is validated and written to ``--out`` (default: the bundled catalog directory) as
   compact JSON, with ``origin`` saying the steps.
4. When every pinned build was merged, the merge report is written to ``--report``
   (default docs/probe-merge.md).

``make catalogs`` runs this. Exit status 0, 2 when a built release does not validate, 3 when
a build cannot run here.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path
from typing import Any

from migcompat.catalog.checker import Checker
from migcompat.catalog.load import DATA_DIR, read_data
from migcompat.catalog.release_loader import build_release
from migcompat.cli.progress import terminal_progress
from migcompat.errors import CatalogError, EnvironmentProblem, MigcompatError
from migcompat.qemu.binary.merge import MergeReport, format_markdown, merge_probe
from migcompat.qemu.debian.cache import cache_root
from migcompat.qemu.debian.lock import load_pins, same_build
from migcompat.qemu.debian.sources import fetch, is_orig_only
from migcompat.qemu.overlay import OVERLAY_PATH, apply_overlay, load_overlay
from migcompat.qemu.source.importer import STAGES, import_tree, release_id

RELEASES = ("5.2", "7.2", "10.0", "10.2")
REPORT_PATH = Path(__file__).resolve().parent.parent / "docs" / "probe-merge.md"


def raw_dir() -> Path:
    return cache_root("imports")


def import_pinned(out: Path, ids: list[str], lock: Path | None = None) -> list[Path]:
    """Fetch each pinned tree and write its import to ``out/<id>.json``: compact JSON in the
    importer's key order, so the same pins give byte-identical files."""
    pins = load_pins(lock)
    written: list[Path] = []
    out.mkdir(parents=True, exist_ok=True)
    for rid in ids:
        pin = pins[rid]
        tree = fetch(pin)
        start = time.monotonic()
        with terminal_progress(STAGES) as progress:
            catalog = import_tree(tree, debian_version=pin.version, progress=progress)
        if catalog["id"] != rid:
            raise MigcompatError(f"pin {rid} is QEMU {catalog['version']} "
                                 f"(release {release_id(catalog['version'])})")
        path = out / f"{rid}.json"
        text = json.dumps(catalog, separators=(",", ":"), ensure_ascii=False) + "\n"
        path.write_text(text, encoding="utf-8")
        note = " (upstream tarball, no Debian patches)" if is_orig_only(tree) else ""
        print(f"{path}: QEMU {catalog['version']}{note}, {len(text) // 1024} KiB, "
              f"imported in {time.monotonic() - start:.1f}s", file=sys.stderr)
        written.append(path)
    return written


def probed(rid: str, lock: Path | None, reprobe: bool) -> tuple[dict[str, Any], str]:
    """The probe of release ``rid``'s pinned build (cached) and how the binary was had."""
    from migcompat.qemu.binary.probe import probe
    from migcompat.qemu.debian.builds import build
    from migcompat.qemu.debian.lock import load_build_pins

    pin = load_build_pins(lock)[rid]
    label = f"system `{pin.system}`" if pin.system else "private build (`make qemu-builds`)"
    path = cache_root("probes") / f"{rid}.json"
    if path.is_file() and not reprobe:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        if same_build(str(data.get("debian_version", "")), pin.version):
            return data, label
    b = build(rid, fetch_missing=True, lock=lock, quiet=False)
    print(f"probing {rid}: {b.binary}", file=sys.stderr)
    data = probe(b.binary, env=b.env)
    if not same_build(str(data.get("debian_version", "")), pin.version):
        raise EnvironmentProblem(f"release {rid}: the binary is Debian "
                                 f"{data.get('debian_version')}, the pin {pin.version}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return data, label


def finish(data: dict[str, Any], out: Path, overlay: dict[str, Any], origin: str) -> Path:
    data = apply_overlay(data, overlay)
    data["origin"] = origin
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
    ap.add_argument("--no-probe", action="store_true",
                    help="do not merge probes of the pinned builds (the bundled catalogs are "
                    "built with them)")
    ap.add_argument("--reprobe", action="store_true", help="probe again, ignoring the cache")
    ap.add_argument("--report", type=Path, default=REPORT_PATH,
                    help="where the merge report goes (default docs/probe-merge.md)")
    args = ap.parse_args(argv)
    raw = args.raw or raw_dir()
    ids = list(args.ids) or list(RELEASES)
    try:
        if not args.no_import:
            import_pinned(raw, ids, args.lock)
        overlay = load_overlay(args.overlay)
        args.out.mkdir(parents=True, exist_ok=True)
        pinned: list[str] = []
        if not args.no_probe:
            from migcompat.qemu.debian.lock import load_build_pins

            pinned = [rid for rid in RELEASES if rid in load_build_pins(args.lock)]
        reports: list[MergeReport] = []
        binaries: dict[str, str] = {}
        digests: dict[str, str] = {}
        for rid in ids:
            data = read_data(raw / f"{rid}.json")
            origin = "import-source + overlay.toml"
            if rid in pinned:
                probe_data, binaries[rid] = probed(rid, args.lock, args.reprobe)
                if not same_build(str(probe_data.get("debian_version", "")),
                                  str(data.get("debian_version", ""))):
                    raise EnvironmentProblem(
                        f"release {rid}: the probe is of Debian "
                        f"{probe_data.get('debian_version')}, the import of "
                        f"{data.get('debian_version')}")
                data, report = merge_probe(data, probe_data)
                reports.append(report)
                origin = f"import-source + probe ({report.package}) + overlay.toml"
                print(f"{rid}: probe merged, {report.counts['disagreements']} "
                      f"disagreements", file=sys.stderr)
            path = finish(data, args.out / f"{rid}.json", overlay, origin)
            digests[rid] = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
            print(f"{path}: {rid} ({origin})", file=sys.stderr)
        if pinned and set(pinned) <= set(ids):
            args.report.write_text(format_markdown(
                reports, binaries, digests, [r for r in ids if r not in pinned]),
                encoding="utf-8")
            print(f"{args.report}: merge report", file=sys.stderr)
        elif pinned:
            print(f"merge report not written: it covers {', '.join(pinned)}, not all built",
                  file=sys.stderr)
    except MigcompatError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
