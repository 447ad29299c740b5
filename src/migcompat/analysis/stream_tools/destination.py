"""``validate``'s three ways of knowing the destination, and the verdict of each (pure).

- ``--against``/``--schema`` (:func:`describe_destination`, then :func:`validate_described`):
  what a stream the destination saved, or its ``-dump-vmstate``, says about it, checked item
  by item against the stream's report (``validate.py``);
- ``--dest RELEASE:MACHINE`` (:func:`validate_loaded`): a destination VM of a catalog
  release, which loads the stream with its own schemas, as QEMU does.

The CLI reads the files and finds the release; everything here takes bytes and objects.
"""

from __future__ import annotations

from dataclasses import replace

from migcompat.analysis.sections import struct_versions
from migcompat.analysis.stream_tools.report import StreamReport
from migcompat.analysis.stream_tools.source import StreamInput, input_chunks
from migcompat.analysis.stream_tools.validate import (
    DestModel,
    Verdict,
    dest_from_stream,
    machine_sends_configuration,
    validate_report,
)
from migcompat.analysis.stream_tools.walk import analyze_stream
from migcompat.errors import (
    InputChanged,
    StreamError,
    TruncatedStream,
    UnreadableStream,
    UsageError,
)
from migcompat.model.vm import VM, VMConfig
from migcompat.stream import Loader
from migcompat.vm.captured import (
    CapturedPlan,
    adopt_device_sizes,
    beyond_capture,
    has_own_options,
    plan_captured,
    probe_refusal_words,
)
from migcompat.vm.live import build_empty
from migcompat.vmstate.dump import VMStateDump
from migcompat.vmstate.layouts import dump_index
from migcompat.vmstate.schema import (
    SchemaResolver,
    SectionSchema,
    VMStateDescription,
    as_section_schema,
)


def cannot_see(dest: DestModel, against: bool, dump: bool) -> list[str]:
    """What the chosen forms leave unknown about the destination (said, never guessed)."""
    out = []
    if not against:
        out += ["which devices, instances (CPU count) and RAM blocks the destination VM has",
                "device property values (e.g. virtio-blk num-queues, PCI config space)"]
    if not dump:
        out += ["minimum_version_id of sections and subsections; whether the destination "
                "knows a subsection it did not send itself"]
    else:
        out += ["sections that are not qdev devices (timer, cpu, ...) beyond --against"
                if against else "versions of sections that are not qdev devices (timer, "
                "cpu, apic, ...): the dump does not list them"]
    out.append("needed()/field_exists() callbacks and device post_load checks")
    return out


def describe_destination(against: StreamReport | None, dump: VMStateDump | None,
                         machine: str | None) -> DestModel:
    """The destination as a stream it saved (``against``, already analyzed) and its dump
    show it; ``machine`` overrides the machine type they give."""
    dest = DestModel() if against is None else dest_from_stream(against)
    if dump is not None:
        dest.dump = dump_index(dump)
        if dest.machine is None and dest.configuration is None:
            dest.machine = dump.machine or None
    if machine is not None:
        dest.machine = machine
    if dest.configuration is None and dest.machine is not None:
        dest.configuration = machine_sends_configuration(dest.machine)
        dest.footers = dest.configuration
    dest.cannot_see = cannot_see(dest, against is not None, dump is not None)
    return dest


def validate_described(data: StreamInput, resolver: SchemaResolver | None,
                       layout_from: str, dest: DestModel, borrowed: bool) -> Verdict:
    """Read the stream with ``resolver`` and check its report against ``dest``.

    ``borrowed``: the resolver is the destination's layout (the stream has no description
    of its own), as QEMU reads it; then a stream that does not fit it is a failed load, not
    unreadable input. Raises UnreadableStream when the stream itself cannot be read."""
    report = analyze_stream(data, resolver, layout_from)
    err = report.error
    if err is not None and (not borrowed or isinstance(err, TruncatedStream)):
        raise UnreadableStream(err)
    verdict = validate_report(report, dest)
    if verdict.loads and err is not None:
        # Read with the destination's layout, the stream does not fit it: QEMU fails there
        # too (it may name the field rather than the footer).
        verdict = Verdict(False, err, [err.message], verdict.warnings, verdict.cannot_see)
    return verdict


def _stream_sized(mine: SchemaResolver | None, theirs: SchemaResolver) -> SchemaResolver:
    """A captured destination's resolver, with device-specific field sizes from the stream's
    own description (vm/captured.py adopt_device_sizes)."""

    def resolve(idstr: str, instance_id: int, version_id: int
                ) -> VMStateDescription | SectionSchema | None:
        found = mine(idstr, instance_id, version_id) if mine is not None else None
        other = theirs(idstr, instance_id, version_id)
        if found is None or other is None:
            return found
        a, b = as_section_schema(found), as_section_schema(other)
        return SectionSchema(adopt_device_sizes(a.vmsd, b.vmsd), a.properties)
    return resolve


def validate_loaded(data: StreamInput, config: VMConfig,
                    own_layout: SchemaResolver | None) -> Verdict:
    """Load the stream into a destination VM of ``config``, with its release's schemas.

    ``own_layout``: the stream's own description, when it has one. Raises UsageError when
    the release cannot answer (no schemas, an uncaptured machine or device, properties the
    capture did not run with) and UnreadableStream when the stream itself cannot be read."""
    rel = config.release
    if not rel.vmstate and not rel.has_capture:
        raise UsageError(f"release '{rel.id}' has no device-state schemas in its catalog "
                         "(neither vmstate nor captured state): use --schema DEST_DUMP.json "
                         "or --against DEST_STREAM")
    live = build_empty(config)
    captured = plan_captured(live.vm)
    refusal = _probe_refusal(live.vm, captured)
    if refusal is not None:
        return refusal
    if captured is not None and captured.gaps:  # a destination only half known: no verdict
        raise UsageError(f"{captured.gaps[0][1]}; use --against DEST_STREAM or --schema")
    changed = beyond_capture(live.vm) if captured is not None else []
    if changed:  # e.g. num-queues changes the PCI config inside the opaque virtio field
        raise UsageError(f"{rel.id} {config.machine}: the captured state has the build's "
                         f"defaults, not {', '.join(changed)}: use --against a stream the "
                         "destination saved, or `migcompat check` against the source's "
                         "configuration")
    destination = live.destination()
    if captured is not None and own_layout is not None:
        destination = replace(destination,
                              resolver=_stream_sized(destination.resolver, own_layout))
    nested = None
    if own_layout is not None:  # read it with its own layout first: unreadable is exit 2
        pre = analyze_stream(data, own_layout, "vmdesc")
        if pre.error is not None:
            raise UnreadableStream(pre.error)
        nested = _older_nested_struct(pre, own_layout, destination.resolver)
    loader = Loader(destination, ram="discard")
    chunks, _ = input_chunks(data)
    try:
        for chunk in chunks:
            loader.feed(chunk, copy=False)
        loaded = loader.close()
    except InputChanged as exc:  # the file, not the stream: unreadable input
        raise UnreadableStream(exc) from None
    except StreamError as exc:
        if own_layout is None and isinstance(exc, TruncatedStream):
            raise UnreadableStream(exc) from None
        if nested is not None and (exc.offset is None or nested.offset is None
                                   or nested.offset < exc.offset):
            return Verdict(False, nested)
        return Verdict(False, exc)
    if nested is not None:
        return Verdict(False, nested, warnings=loaded.warnings)
    return Verdict(True, warnings=loaded.warnings)


def _probe_refusal(vm: VM, captured: CapturedPlan | None) -> Verdict | None:
    """A device type the release's device probe saw its QEMU refuse to start on this
    machine family (check's cannot-start): the destination never gets to the load. Only
    for a device given no options of its own: the probe ran each type with none, and an
    option may be what it lacked (pci-bridge's chassis_nr)."""
    for path, (dtype, probed) in (captured.probed.items() if captured is not None else ()):
        dev = vm.find(path)
        if dev is not None and has_own_options(dev):
            continue
        if probed.status == "cannot-start":
            words = probe_refusal_words(vm.release.id, dtype, vm.machine.family, probed.words)
            return Verdict(False, StreamError(words, None), [probed.words], refused=True)
    return None


def unknown_machine(data: StreamInput, own_layout: SchemaResolver | None, release: str,
                    machine: str) -> Verdict | None:
    """The destination's release lacks the machine type the stream was saved on (its
    configuration names it): QEMU refuses to start, a verdict rather than bad input."""
    report = analyze_stream(data, own_layout, "vmdesc")
    if not report.configuration or report.configuration.get("machine") != machine:
        return None
    return Verdict(False, StreamError(f"release {release} has no machine type '{machine}', "
                                      "the one the stream was saved on", None,
                                      "configuration"),
                   ["unsupported machine type"], refused=True)


def _older_nested_struct(report: StreamReport, own: SchemaResolver,
                         dest: SchemaResolver | None) -> StreamError | None:
    """The first section whose nested struct the stream describes at an older version than
    the destination loads it with (check's struct-version rule, analysis/sections.py): the
    newer loader picks the older fields by tests no description shows, and real QEMU 10.0
    fails on 7.2's esp although our reading of the bytes fits. Said in our words."""
    if dest is None:
        return None
    for sec in report.sections:
        mine = own(sec.idstr, sec.instance_id, sec.version_id)
        theirs = dest(sec.idstr, sec.instance_id, sec.version_id)
        if sec.kind != "full" or mine is None or theirs is None:
            continue
        found = struct_versions(sec.idstr, as_section_schema(mine).vmsd,
                                as_section_schema(theirs).vmsd)
        if found:
            return StreamError(found[0].message, offset=sec.offset, section=sec.idstr)
    return None
