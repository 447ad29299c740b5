"""Commands that read real QEMU: ``import-source``, ``probe`` and ``crosscheck``."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import click

from migcompat.cli.options import catalog_choice, catalog_option, format_option, option_factory
from migcompat.cli.output import emit_json, err, out
from migcompat.errors import EXIT_INCOMPATIBLE, UsageError
from migcompat.migration.atomic import AtomicFile

output_option = click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
                             help="Write the release catalog here (default: stdout).")
machines_choice = option_factory("--machine", "machines", multiple=True, metavar="M",
                                 help="Only these machine types (repeatable).")


def write_json_atomically(path: Path, doc: dict[str, Any], compact: bool = True) -> None:
    """Write ``path`` whole or not at all (migration/atomic.py)."""
    text = json.dumps(doc, separators=(",", ":") if compact else None,
                      indent=None if compact else 1, ensure_ascii=False)
    part = AtomicFile(path)
    try:
        part.file.write((text + "\n").encode())
        part.commit()
    finally:
        part.discard()


@click.command("import-source", epilog="""\b
Examples:
  migcompat import-source ~/src/qemu-7.2 -o 7.2.json
  migcompat import-source ./qemu --debian-version 1:7.2+dfsg-7+deb12u18 -o 7.2.json
  migcompat releases --catalog 7.2.json
  make catalogs        # all pinned Debian trees -> the bundled qemu catalog
""")
@click.argument("tree", type=click.Path(exists=True, file_okay=False, path_type=Path))
@output_option
@click.option("--debian-version", default=None, help="The Debian package the tree is from.")
def import_source(tree: Path, output: Path | None, debian_version: str | None) -> None:
    """Read a QEMU source tree (5.2 .. 10.x) into a release catalog (JSON).

    Compat tables, pc-q35/pc-i440fx machine types, the type hierarchy and device property
    defaults, each with its file and line. Defaults that cannot be computed statically are
    recorded as unresolved, with the reason. See docs/import-source.md.
    """
    # imported when the command runs: `migcompat --help` need not load the importers
    from migcompat.cli.progress import terminal_progress
    from migcompat.qemu.source.importer import STAGES, import_tree

    start = time.monotonic()
    with terminal_progress(STAGES) as progress:
        doc = import_tree(tree, debian_version=debian_version, progress=progress)
    if output is None:
        out().print(json.dumps(doc, ensure_ascii=False), markup=False, soft_wrap=True)
    else:
        write_json_atomically(output, doc)
    err().print(f"imported {tree} (QEMU {doc['version']}): {len(doc['machines'])} machine "
                f"types, {len(doc['types'])} types in {time.monotonic() - start:.1f}s",
                markup=False)


@click.command("probe", epilog="""\b
Examples:
  migcompat probe /usr/bin/qemu-system-x86_64 -o probed-7.2.json
  migcompat probe qemu-system-x86_64 --machine pc-q35-7.2 --machine pc-i440fx-7.2
""")
@click.argument("qemu_binary", default="qemu-system-x86_64")
@output_option
@machines_choice(help="Record only these machine types (repeatable).")
@click.option("--state", "state", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Also save paused VMs of each machine type (with and "
              "without the probed devices) and write what they send to this file; the "
              "release file (-o) then names it, so check and validate --dest compare state.")
def probe_command(qemu_binary: str, output: Path | None, machines: tuple[str, ...],
                  state: Path | None) -> None:
    """Read a QEMU binary over QMP into a release catalog.

    Machine types (query-machines, with compat lists on QEMU >= 9.1), types, and property
    kinds and static defaults; with --state, the device state its VMs send (sections,
    layouts, subsections, RAM blocks, from streams it saves, and -dump-vmstate). QEMU runs
    paused with -nodefaults and never outlives the probe. See docs/probe.md and
    docs/probe-state.md.
    """
    # imported when the command runs: `migcompat --help` need not load the importers
    from migcompat.cli.progress import terminal_progress
    from migcompat.qemu.binary.probe import probe

    if state is not None and output is None:
        raise UsageError("--state needs -o FILE: the release file names its state file")
    with terminal_progress() as progress:
        doc = probe(qemu_binary, list(machines) or None, progress)
    if state is not None and output is not None:
        doc["state"] = _probe_state(qemu_binary, str(doc["id"]), machines, state, output)
    if output is None:
        out().print(json.dumps(doc, ensure_ascii=False), markup=False, soft_wrap=True)
    else:
        write_json_atomically(output, doc, compact=False)
    err().print(f"QEMU {doc['version']}: {len(doc['machines'])} machine types, "
                f"{len(doc['types'])} types", markup=False)


def _probe_state(binary: str, release: str, machines: tuple[str, ...], state: Path,
                 output: Path) -> str:
    """Capture the binary's state into ``state``; the path the release file gives it."""
    # imported when the command runs: `migcompat --help` need not load the importers
    import shutil

    from migcompat.qemu.binary.state.capture import probe_state
    from migcompat.qemu.binary.state.run import Target

    path = shutil.which(binary) or binary
    doc = probe_state(release, Target(path), list(machines) or "pc-*",
                      lambda msg: err().print(msg, markup=False))
    write_json_atomically(state, doc, compact=True)
    return os.path.relpath(state.resolve(), output.resolve().parent)


@click.command("crosscheck", epilog="""\b
Examples:
  migcompat crosscheck
  migcompat crosscheck --qemu /usr/bin/qemu-system-x86_64 --machine pc-q35-5.1
  migcompat crosscheck --overlay src/migcompat/catalog/data/qemu/overlay.toml
  migcompat crosscheck --format json
""")
@click.option("--qemu", "binary", default=None,
              help="QEMU binary (default: $MIGCOMPAT_QEMU, else qemu-system-x86_64).")
@catalog_choice(default="qemu")
@click.option("--release", "release_id", default=None,
              help="Release id (default: the binary's MAJOR.MINOR).")
@machines_choice()
@click.option("--jobs", type=click.IntRange(1, 16), default=2, show_default=True,
              help="QEMU processes at once.")
@click.option("--overlay", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="Merge this overlay file onto the release first (to try "
              "overlay changes before rebuilding the catalogs).")
@format_option
def crosscheck_command(binary: str | None, catalog: str, release_id: str | None,
                       machines: tuple[str, ...], jobs: int, overlay: Path | None,
                       fmt: str) -> None:
    """Compare the model's effective property values with a real QEMU's (QMP qom-get).

    Every pc-q35 and pc-i440fx machine type of the binary, with a set of devices that need
    no backend. Exit 0 at 100% agreement, 1 otherwise. See docs/crosscheck.md.
    """
    # imported when the command runs: `migcompat --help` need not load the importers
    from migcompat.cli.progress import terminal_progress
    from migcompat.qemu.binary.crosscheck.check import format_text, run_crosscheck

    with terminal_progress() as progress:
        report = run_crosscheck(binary, catalog, release_id, list(machines) or None, jobs,
                                progress, overlay)
    if fmt == "json":
        emit_json("crosscheck", report.to_json())
    else:
        out().print(format_text(report), markup=False)
    if not report.ok:
        raise click.exceptions.Exit(EXIT_INCOMPATIBLE)


@click.command("probe-compare", epilog="""\b
Examples:
  migcompat probe /usr/bin/qemu-system-x86_64 -o probed.json
  migcompat probe-compare probed.json --catalog qemu
  migcompat probe-compare probed.json --format json
""")
@click.argument("probe_file", metavar="PROBE.json",
                type=click.Path(exists=True, dir_okay=False))
@catalog_option
@format_option
def probe_compare_command(probe_file: str, catalog: str | None, fmt: str) -> None:
    """Compare a probed release with the source import of the same release.

    Device types, property kinds and static defaults, each difference with its likely
    cause (docs/probe.md). Exit 0 when they agree, 1 on differences.
    """
    # imported when the command runs: `migcompat --help` need not load the importers
    from migcompat.catalog.load import find_release, open_catalog
    from migcompat.qemu.binary.compare import compare_machines, compare_releases, format_text

    pcat = open_catalog(probe_file)
    probed = pcat.release(pcat.release_ids()[0])
    _, source = find_release(probed.id, catalog)
    diffs = compare_machines(probed, source) + compare_releases(probed, source)
    if fmt == "json":
        emit_json("probe-compare", {"release": probed.id,
                                    "differences": [d.to_json() for d in diffs]})
    else:
        out().print(format_text(diffs), markup=False)
    if diffs:
        raise click.exceptions.Exit(EXIT_INCOMPATIBLE)


COMMANDS = [import_source, probe_command, crosscheck_command, probe_compare_command]
