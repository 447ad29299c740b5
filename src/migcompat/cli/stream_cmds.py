"""``analyze``, ``rewrite`` and ``validate``: real QEMU stream files (docs/analyze.md,
docs/validate.md)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from migcompat.analysis.stream_tools.report import StreamReport
from migcompat.analysis.stream_tools.text import report_lines
from migcompat.analysis.stream_tools.walk import analyze_stream
from migcompat.cli.options import (
    VMArgs,
    catalog_option,
    format_option,
    side_config,
    vm_options,
)
from migcompat.cli.output import emit_json, json_text, printable, warn
from migcompat.cli.vm_inputs import qemu_args_options, say_skipped
from migcompat.errors import (
    EXIT_INCOMPATIBLE,
    MachineError,
    StreamError,
    UnreadableStream,
    UsageError,
)
from migcompat.migration.streamfile import StreamFile, load_schema
from migcompat.migration.streamfile import stream_layout as _layout

if TYPE_CHECKING:
    from migcompat.model.cmdline import CommandLine
    from migcompat.vmstate.dump import VMStateDump
    from migcompat.vmstate.schema import SchemaResolver

schema_option = click.option(
    "--schema", metavar="FILE", default=None,
    help="Layout of the device sections when the stream has no trailing description: a "
         "stream of the same build and configuration, its desc.json, or a -dump-vmstate.")


def stream_layout(sf: StreamFile, schema: str | None) -> tuple[SchemaResolver | None, str]:
    """The resolver that sizes device sections, and where it came from (warning when the
    stream's own description is unusable)."""
    resolver, origin, why = _layout(sf, schema)
    if why is not None:
        warn(why)
    return resolver, origin


def write_text(lines: list[str]) -> None:
    sys.stdout.write("\n".join(printable(ln) for ln in lines) + "\n")
    sys.stdout.flush()


@click.command(epilog="""\b
Examples:
  migcompat analyze vm.mig
  migcompat analyze vm.mig --format json > vm.json
  migcompat analyze vm.mig --extract out/      # out/ram/<block>, out/state.json, desc.json
  migcompat analyze nodesc.mig --schema same-config-with-desc.mig
  cat vm.mig | migcompat analyze - --brief
""")
@click.argument("file")
@schema_option
@click.option("--extract", metavar="DIR", default=None,
              help="Write each RAM block as a sparse file (DIR/ram/), the decoded state "
                   "(DIR/state.json) and the trailing description (DIR/desc.json).")
@click.option("--brief", is_flag=True, help="Text: list sections without their fields.")
@format_option
def analyze(file: str, schema: str | None, extract: str | None, brief: bool, fmt: str) -> None:
    """Show what a QEMU migration stream FILE holds ('-' reads stdin).

    Every section with its id, instance, version, byte offset and size and its decoded
    fields; the configuration; RAM blocks with zero and full page counts; commands, EOF and
    the trailing description. Exit 0 when the whole stream was read, 2 when it is
    truncated, corrupt, or cannot be sized without --schema (the report shows what was read).
    """
    with StreamFile(file) as sf:
        resolver, layout_from = stream_layout(sf, schema)
        if extract is not None:
            report, payload = _extract(sf, resolver, layout_from, Path(extract))
        else:
            report = analyze_stream(sf, resolver, layout_from)
            payload = report.to_json() if fmt == "json" else {}
    if fmt == "json":
        emit_json("analyze", {"file": file, **payload})
    else:
        write_text(report_lines(file, report, fields=not brief))
    if report.error is not None:
        raise UnreadableStream(report.error)


def _extract(sf: StreamFile, resolver: SchemaResolver | None, layout_from: str,
             directory: Path) -> tuple[StreamReport, dict[str, Any]]:
    """``analyze --extract``: the walk with the RAM writer, then state.json and desc.json."""
    from migcompat.migration.ramfiles import SparseRamWriter  # its thread: only when used

    try:
        (directory / "ram").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"{directory}: {exc.strerror or exc}") from exc
    # Writes in flight hold slices of the input: of the page cache when the file is
    # mapped (the decoder may then run far ahead and build the report while the writer
    # catches up), of read buffers otherwise (a few, to bound memory).
    sink = SparseRamWriter(directory / "ram", max_pending=64 if sf.mapped else 4)
    try:
        report = analyze_stream(sf, resolver, layout_from, sink=sink)
        for idstr, name in sink.files.items():
            report.ram_blocks[idstr].file = f"ram/{name}"
        payload = report.to_json()
    finally:
        sink.close()
    _write_extract(directory, payload, report.vmdesc_json)
    return report, payload


def _write_extract(directory: Path, payload: dict[str, Any], vmdesc: bytes | None) -> None:
    try:
        doc = {"schema": 1, "command": "analyze", **payload}
        (directory / "state.json").write_text(json_text(doc))
        if vmdesc is not None:
            (directory / "desc.json").write_bytes(vmdesc)
    except OSError as exc:
        raise UsageError(f"{directory}: {exc.strerror or exc}") from exc


def _read_page_file(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(1 << 20)
    except OSError as exc:
        raise UsageError(f"{path}: {exc.strerror or exc}") from exc


@click.command(epilog="""\b
Examples:
  migcompat rewrite vm.mig copy.mig                      # byte-exact re-encoding
  migcompat rewrite vm.mig out.mig --set 'cpu@0.env.regs[0]=0x1234'
  migcompat rewrite vm.mig out.mig --set 'globalstate.runstate[0]=0x70'
  migcompat rewrite vm.mig out.mig --page pc.ram:0x100000=fill:0x5a
  migcompat rewrite nodesc.mig out.mig --schema same-config-with-desc.mig
""")
@click.argument("input_file", metavar="IN")
@click.argument("output_file", metavar="OUT")
@schema_option
@click.option("--set", "sets", multiple=True, metavar="SECTION[@INST].PATH=VALUE",
              help="Change one decoded value (paths as analyze lists them). Repeatable.")
@click.option("--page", "pages", multiple=True, metavar="BLOCK:OFFSET=fill:B|hex:H|@FILE",
              help="Replace one RAM page (zero-padded to a page). Repeatable.")
@format_option
def rewrite(input_file: str, output_file: str, schema: str | None, sets: tuple[str, ...],
            pages: tuple[str, ...], fmt: str) -> None:
    """Decode IN into events and encode them again into OUT, optionally changing values.

    Without edits OUT is identical to IN, byte for byte: every byte is re-encoded from its
    decoded value. IN may be '-' (stdin); OUT is written to a temporary name and renamed
    when complete. Exit 0 when written, 2 when IN cannot be read or an edit does not apply.
    """
    # imported when rewrite runs: analyze does not pay for them
    from migcompat.analysis.stream_tools.rewrite import (
        RewriteResult,
        parse_page,
        parse_set,
        rewrite_stream,
    )
    from migcompat.migration.streamfile import atomic_output

    if output_file == "-" and fmt == "json":
        raise UsageError("--format json writes the report to stdout: give OUT a file name")
    field_edits = [parse_set(s) for s in sets]
    page_edits = [parse_page(p, _read_page_file) for p in pages]
    result = RewriteResult()
    with StreamFile(input_file) as sf:
        resolver, layout_from = stream_layout(sf, schema)
        if resolver is None:
            raise UsageError(f"{input_file} has no trailing description: give --schema (a "
                             "stream of the same build and configuration, or its desc.json)")
        written, identical = 0, True
        try:
            with atomic_output(output_file) as out:
                for chunk in rewrite_stream(sf, resolver, field_edits, page_edits, result):
                    if identical:
                        identical = (written + len(chunk) <= sf.size
                                     and sf.read(written, len(chunk)) == chunk)
                    out.write(chunk)
                    written += len(chunk)
        except StreamError as exc:
            raise UnreadableStream(exc) from None
        identical = identical and written == sf.size
    for w in result.warnings:
        warn(w)
    edits = [a for e in field_edits for a in e.applied]
    page_report = [{"block": e.block, "offset": e.offset, "records": e.applied}
                   for e in page_edits]
    if fmt == "json":
        emit_json("rewrite", {"input": input_file, "output": output_file, "bytes": written,
                              "identical": identical, "layout_from": layout_from,
                              "edits": edits, "pages": page_report,
                              "warnings": result.warnings})
        return
    if output_file == "-":
        return  # stdout holds the stream
    same = "identical to the input" if identical else "differs from the input"
    lines = [f"wrote {output_file}: {written} bytes, {same}"]
    for a in edits:
        lines.append(f"  {a['section']}@{a['instance_id']} {a['path']} (at byte {a['offset']}):"
                     f" {a['old']} -> {a['new']}")
    for p in page_report:
        lines.append(f"  RAM {p['block']}:0x{p['offset']:x}: {p['records']} record(s) replaced")
    write_text(lines)


def _against_report(against: str) -> StreamReport:
    """The analyze report of a stream the destination saved (``--against``)."""
    with StreamFile(against) as af:
        resolver, layout_from = stream_layout(af, None)
        if resolver is None:
            raise UsageError(f"--against {against}: the stream has no trailing "
                             "description (save it without suppress-vmdesc=on)")
        report = analyze_stream(af, resolver, layout_from)
    if report.error is not None:
        raise UsageError(f"--against {against}: {report.error}")
    return report


def _dump(schema: str) -> VMStateDump:
    """The destination build's ``-dump-vmstate`` (``--schema``)."""
    src = load_schema(schema)
    if src.dump is None:
        raise UsageError(f"--schema {schema}: validate takes the destination's "
                         "-dump-vmstate here (use --against for a stream it saved)")
    return src.dump


@click.command(epilog="""\b
Examples:
  migcompat validate vm.mig --against dest-saved.mig --schema dest-dump.json
  migcompat validate vm.mig --schema dest-dump.json --machine pc-q35-7.2
  migcompat validate vm.mig --against dest-saved.mig --format json
  migcompat validate vm.mig --dest qemu-5.1:pc-5.1 --device virtio-blk-pci --smp 4
""")
@click.argument("file")
@click.option("--schema", metavar="DEST_DUMP.json", default=None,
              help="The destination build's -dump-vmstate.")
@click.option("--against", metavar="DEST_STREAM", default=None,
              help="A stream the destination build saved with the destination's "
                   "configuration (with its trailing description).")
@click.option("--machine", default=None, help="The destination machine type (default: from "
              "--against, else the dump's vmschkmachine).")
@click.option("--dest", "dest_side", metavar="RELEASE:MACHINE", default=None,
              help="A destination from a catalog, with --device/--global/--smp/-m.")
@vm_options(scope="with --dest")
@qemu_args_options()
@catalog_option
@click.option("--source-schema", metavar="FILE", default=None,
              help="Layout of FILE when it has no trailing description (a stream of the same "
                   "source build and configuration, or its desc.json).")
@format_option
def validate(file: str, schema: str | None, against: str | None, machine: str | None,
             dest_side: str | None, vm: VMArgs, qemu: CommandLine | None, catalog: str | None,
             source_schema: str | None, fmt: str) -> None:
    """Predict whether a destination will accept the stream FILE, before loading it.

    Reports the first failure with its byte offset, section and field, in QEMU's words,
    and what the chosen form cannot see (docs/validate.md). Exit 0 when it will load, 1
    when it will not, 2 when FILE cannot be read.
    """
    # imported when validate runs: the destination model pulls in the VM and its realization
    from migcompat.analysis.stream_tools.destination import (
        describe_destination,
        unknown_machine,
        validate_described,
        validate_loaded,
    )
    from migcompat.analysis.stream_tools.text import verdict_lines

    if dest_side is not None and (schema or against):
        raise UsageError("--dest describes the destination from a catalog; it does not mix "
                         "with --schema or --against")
    if qemu is not None and dest_side is None:
        raise UsageError("--qemu-args, --libvirt-xml and --qmp describe the --dest VM: give "
                         "--dest RELEASE[:MACHINE]")
    if dest_side is None and not (schema or against):
        raise UsageError("say what the destination is: --schema, --against or --dest")
    with StreamFile(file) as sf:
        if dest_side is not None:
            say_skipped(qemu)
            config = side_config(dest_side, catalog, vm, qemu)
            own = stream_layout(sf, None)[0]
            try:
                verdict = validate_loaded(sf, config, own)
            except MachineError as exc:  # a real machine type if the stream was saved on it
                refused = unknown_machine(sf, own, exc.release, exc.machine)
                if refused is None:
                    raise
                verdict = refused
            target = dest_side
        else:
            dest = describe_destination(_against_report(against) if against else None,
                                        _dump(schema) if schema else None, machine)
            target = ", ".join([*([f"--against {against}"] if against else []),
                                *([f"--schema {schema}"] if schema else [])])
            resolver, layout_from = stream_layout(sf, source_schema)
            borrowed = resolver is None and against is not None
            if borrowed:
                resolver, layout_from = stream_layout(sf, against)
                warn("the stream has no trailing description: reading it with the "
                     "destination's layout, as QEMU would")
            verdict = validate_described(sf, resolver, layout_from, dest, borrowed)
    if fmt == "json":
        emit_json("validate", {"file": file, "destination": target, **verdict.to_json()})
    else:
        write_text(verdict_lines(file, target, verdict))
    if not verdict.loads:
        raise click.exceptions.Exit(EXIT_INCOMPATIBLE)


COMMANDS = [analyze, rewrite, validate]
