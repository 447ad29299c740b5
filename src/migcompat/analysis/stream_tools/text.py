"""The text view of an ``analyze`` report (pure: lines of text, no printing)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from migcompat.analysis.stream_tools.layout import leaves
from migcompat.analysis.stream_tools.report import ItemReport, SectionReport, StreamReport
from migcompat.vmstate.data import Value

if TYPE_CHECKING:  # analyze prints no verdict: it need not import validate
    from migcompat.analysis.stream_tools.validate import Verdict

LAYOUT_TEXT = {
    "vmdesc": "the stream's own trailing description",
    "schema:vmdesc": "the description given with --schema",
    "schema:dump": "the -dump-vmstate given with --schema (sizes guessed, footers confirm)",
    "none": "none (no trailing description and no --schema): device sections cannot be sized",
}


def short(value: Value | None, limit: int = 16) -> str:
    if isinstance(value, bool) or value is None:
        return str(value).lower() if isinstance(value, bool) else "-"
    if isinstance(value, int):
        return f"{value} (0x{value & ((1 << 64) - 1):x})" if not -10 < value < 10 else str(value)
    if isinstance(value, bytes):
        if len(value) <= limit:
            return value.hex() or "''"
        return f"{value[:limit].hex()}... ({len(value)} bytes)"
    if isinstance(value, tuple):
        items = ", ".join(short(v, 8) for v in value[:8])
        more = f", ... ({len(value)} items)" if len(value) > 8 else ""
        return f"[{items}{more}]"
    return f"<{value.name}>"


def _ram_note(sec: SectionReport) -> str:
    if sec.ram_blocks is not None:
        return f"{len(sec.ram_blocks)} RAM blocks"
    if sec.ram is None:
        return ""
    note = f"{sec.ram.zero_pages} zero, {sec.ram.full_pages} full pages"
    if sec.ram.xbzrle_pages or sec.ram.compressed_pages:
        note += f", {sec.ram.xbzrle_pages} xbzrle, {sec.ram.compressed_pages} compressed"
    return note


def report_lines(name: str, rep: StreamReport, fields: bool = True) -> list[str]:
    status = "complete" if rep.complete else f"stopped at byte {rep.end}"
    lines = [f"{name}: {rep.size} bytes, stream version {rep.version}, {status}",
             f"layout: {LAYOUT_TEXT.get(rep.layout_from, rep.layout_from)}"]
    if rep.configuration is not None:
        c = rep.configuration
        lines.append(f"configuration: machine {c['machine']} (at {c['offset']}, "
                     f"{c['size']} bytes)")
        for sub in c["subsections"]:
            value = f" = {sub['value']}" if "value" in sub else f" v{sub.get('version')}"
            lines.append(f"    {sub['offset']:>10}  {sub['path']}{value}")
    elif rep.version is not None:
        lines.append("configuration: none (machine types <= 2.3 send none)")
    if rep.ram_blocks:
        lines.append(f"RAM: {rep.ram_total} bytes in {len(rep.ram_blocks)} blocks")
        lines.append(f"    {'block':<28} {'used_length':>12} {'zero pages':>11} "
                     f"{'full pages':>11}")
        for b in rep.ram_blocks.values():
            extra = f"  file {b.file}" if b.file else ""
            lines.append(f"    {b.idstr:<28} {hex(b.used_length):>12} "
                         f"{b.counts.zero_pages:>11} {b.counts.full_pages:>11}{extra}")
    footers = {True: "yes", False: "no (machine types <= 2.3)", None: "-"}[rep.footers]
    lines.append(f"sections (footers: {footers}):")
    lines.append(f"    {'offset':>10} {'size':>9}  {'type':<6} {'id':>4}  {'idstr':<30} "
                 f"{'inst':>4} {'ver':>4}")
    for item in rep.items:
        if isinstance(item, ItemReport):
            detail = ""
            if item.kind == "command":
                detail = f"{item.detail['name']} ({item.detail['length']} bytes)"
            elif item.kind == "vmdesc":
                detail = f"JSON, {item.detail['json_size']} bytes"
            lines.append(f"    {item.offset:>10} {item.size:>9}  {item.kind:<6} "
                         f"{'':>4}  {detail}")
            continue
        size = "?" if item.size is None else str(item.size)
        lines.append(f"    {item.offset:>10} {size:>9}  {item.kind:<6} {item.section_id:>4}  "
                     f"{item.idstr:<30} {item.instance_id:>4} {item.version_id:>4}  "
                     f"{_ram_note(item)}".rstrip())
        if fields and item.state is not None:
            for leaf in leaves(item.state, item.body_offset):
                if leaf.info == "subsection":
                    lines.append(f"      {leaf.offset:>10}  [{leaf.path} v{leaf.version}]")
                else:
                    lines.append(f"      {leaf.offset:>10}  {leaf.path} ({leaf.info}) = "
                                 f"{short(leaf.value)}")
    for w in rep.warnings:
        lines.append(f"warning: {w}")
    return lines


def verdict_lines(name: str, target: str, verdict: Verdict) -> list[str]:
    if verdict.loads:
        lines = [f"{name} -> {target}: will load"]
    else:
        lines = [f"{name} -> {target}: will NOT load"
                 + (" (the destination refuses to start)" if verdict.refused else "")]
        err = verdict.error
        if err is not None:
            where = [f"at byte {err.offset}"] if err.offset is not None else []
            where += [f"section '{err.section}'"] if err.section else []
            where += [f"field '{err.field}'"] if err.field else []
            lines.append(f"  {err.message}")
            lines.append(f"  ({', '.join(where)})")
        if verdict.qemu:
            lines.append("  QEMU would print:")
            lines += [f"    qemu-system-x86_64: {line}" for line in verdict.qemu]
    for w in verdict.warnings:
        lines.append(f"  note: {w}")
    if verdict.cannot_see:
        lines.append("  not checked (this form cannot see it):")
        lines += [f"    - {c}" for c in verdict.cannot_see]
    return lines
