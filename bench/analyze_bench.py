"""Stream analysis throughput: `migcompat analyze` vs QEMU's scripts/analyze-migration.py.

Stream: a real QEMU 7.2 migration of a paused `pc-q35-7.2` guest with `-m 1G` whose RAM is
dense: `-device loader` puts a ~900 MiB random blob at 0x400000, so ~88% of pages are full
(the stream is ~946 MB). It is made once and cached in --workdir.

Measured, best of --runs, the stream in the page cache, output directories removed and
`sync`ed before every extracting run (so no tool pays for another's writeback):

- migcompat in process: StreamFile (mmap) + analyze_stream, with and without the sparse
  RAM writer of --extract (what "parse throughput" means: no interpreter start-up);
- migcompat CLI: `migcompat analyze FILE --format json` and `... --extract DIR`, wall clock
  of the whole process (Python start-up and imports of every command included);
- analyze-migration.py (GPL, never copied here: its path is an option, by default the
  Debian source tree cached by `make sources`): `-d state` and `-x`, wall clock.

Two reference floors are printed too: writing the stream's bytes to one new file (the page
cache cost every extractor pays) and starting Python with click and rich imported.

Ratios compare whole processes (CLI vs script). Goals: >= 1 GB/s without --extract,
>= 2x `-d state`, >= 5x `-x`.

    python bench/analyze_bench.py [--runs 3] [--json] [--analyze-migration PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))

from migcompat.analysis.stream_tools.walk import analyze_stream  # noqa: E402
from migcompat.migration.ramfiles import SparseRamWriter  # noqa: E402
from migcompat.migration.streamfile import StreamFile, stream_layout  # noqa: E402

AM_DEFAULT = (Path.home() / ".cache/migcompat/sources/trees/qemu_7.2+dfsg-7+deb12u18"
              / "scripts/analyze-migration.py")
BLOB = 900 << 20
MIG = [sys.executable, "-m", "migcompat"]


def make_stream(workdir: Path) -> Path:
    out = workdir / "dense-1g.mig"
    if out.exists():
        return out
    from qemu_helpers import make_stream as qemu_make_stream

    blob = workdir / "random-900m.bin"
    rng = random.Random(1)
    with blob.open("wb") as f:
        for _ in range(BLOB >> 24):
            f.write(rng.randbytes(1 << 24))
    print(f"making {out} (QEMU 7.2, -m 1G, {BLOB >> 20} MiB random at 0x400000)...",
          file=sys.stderr)
    qemu_make_stream(workdir, "pc-q35-7.2",
                     ["-device", f"loader,file={blob},addr=0x400000,force-raw=on"],
                     smp=1, mem=1024, name=out.name, timeout=600)
    blob.unlink()
    return out


def best(runs: int, once: Callable[[], float], before: Callable[[], None] | None = None
         ) -> float:
    times = []
    for _ in range(runs):
        if before is not None:
            before()
        times.append(once())
    return min(times)


def fresh(path: Path) -> Callable[[], None]:
    def reset() -> None:
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)
        os.sync()
    return reset


def in_process(stream: Path, extract: Path | None) -> float:
    start = time.perf_counter()
    with StreamFile(str(stream)) as sf:
        resolver, layout_from, _ = stream_layout(sf, None)
        sink = SparseRamWriter(extract) if extract is not None else None
        try:
            report = analyze_stream(sf, resolver, layout_from, sink=sink)
        finally:
            if sink is not None:
                sink.close()
        assert report.complete, report.error
        report.to_json()
    return time.perf_counter() - start


def write_floor(stream: Path, out: Path) -> float:
    """The kernel's share alone: the stream's bytes written to one new file in 16 MiB
    writes (every extractor must at least put the RAM pages into the page cache)."""
    target = out / "floor.bin"
    start = time.perf_counter()
    with stream.open("rb") as src, target.open("wb") as dst:
        while chunk := src.read(16 << 20):
            dst.write(chunk)
    return time.perf_counter() - start


def wall(cmd: list[str], cwd: Path | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                   check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--workdir", type=Path,
                        default=Path(tempfile.gettempdir()) / "migcompat-analyze-bench")
    parser.add_argument("--stream", type=Path, default=None,
                        help="use this stream instead of making the dense 1 GiB one")
    parser.add_argument("--analyze-migration", type=Path, default=AM_DEFAULT,
                        help="QEMU's scripts/analyze-migration.py (kept outside the repo)")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    stream = args.stream or make_stream(args.workdir)
    # As an installed package would be: byte-compiled (an editable checkout under
    # PYTHONDONTWRITEBYTECODE=1 otherwise compiles every module on every run).
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "src")], check=True)
    size = stream.stat().st_size
    with stream.open("rb") as f:  # into the page cache, for every tool alike
        while f.read(64 << 20):
            pass
    out = args.workdir / "out"
    am = [sys.executable, str(args.analyze_migration), "-f", str(stream.resolve())]
    r = args.runs
    t = {
        "inproc": best(r, lambda: in_process(stream, None)),
        "inproc_extract": best(r, lambda: in_process(stream, out), fresh(out)),
        "cli": best(r, lambda: wall([*MIG, "analyze", str(stream), "--format", "json"])),
        "cli_extract": best(r, lambda: wall([*MIG, "analyze", str(stream), "--format",
                                             "json", "--extract", str(out)]), fresh(out)),
    }
    # Reference floors, not tools: what no extractor or Python CLI can go below here.
    t["floor_write"] = best(r, lambda: write_floor(stream, out), fresh(out))
    t["floor_startup"] = best(r, lambda: wall([sys.executable, "-c", "import click, rich"]))
    if args.analyze_migration.exists():
        t["am_state"] = best(r, lambda: wall([*am, "-d", "state"], cwd=args.workdir))
        t["am_extract"] = best(r, lambda: wall([*am, "-x"], cwd=out), fresh(out))
    shutil.rmtree(out, ignore_errors=True)
    rate = {k: size / v / 1e6 for k, v in t.items()}
    result = {"stream_bytes": size, "seconds": t, "mb_per_s": rate, "runs": r}
    if "am_state" in t:
        result["ratios"] = {
            "cli_vs_state": t["am_state"] / t["cli"],
            "cli_extract_vs_x": t["am_extract"] / t["cli_extract"],
            "inproc_vs_state": t["am_state"] / t["inproc"],
            "inproc_extract_vs_x": t["am_extract"] / t["inproc_extract"],
        }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"stream: {stream} ({size:,} bytes), best of {r}")
    names = {"inproc": "migcompat, in process, no extract",
             "inproc_extract": "migcompat, in process, --extract",
             "cli": "migcompat analyze (CLI)",
             "cli_extract": "migcompat analyze --extract (CLI)",
             "am_state": "analyze-migration.py -d state",
             "am_extract": "analyze-migration.py -x",
             "floor_write": "floor: write the bytes to one file",
             "floor_startup": "floor: python -c 'import click, rich'"}
    for key, secs in t.items():
        print(f"  {names[key]:<38} {secs:7.3f} s  {rate[key]:8.0f} MB/s")
    for key, ratio in result.get("ratios", {}).items():
        print(f"  ratio {key:<32} {ratio:5.1f}x")


if __name__ == "__main__":
    main()
