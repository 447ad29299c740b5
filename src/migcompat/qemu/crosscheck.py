"""Cross-check the model against a real QEMU binary.

For every pc-q35 and pc-i440fx machine type the binary has, start it once (paused, TCG) with
a fixed set of devices that need no host backend, read every property of every device and
of its virtio backend over QMP, and compare with the model's effective values for the same
machine type, devices and vCPU count in the catalog release of the binary's version. Every
disagreement is a bug in the importer, the model or ``overlay.toml``, or QEMU behaviour the
model lacks.

    python -m migcompat.qemu.crosscheck [--qemu BIN] [--catalog qemu] [--release 7.2]
                                        [--machine M ...] [--jobs 2] [--format json]

Exit status: 0 when everything agrees, 1 on disagreements, 2 bad usage, 3 QEMU missing.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from migcompat.catalog.checker import Checker
from migcompat.catalog.load import Catalog, open_catalog, read_data
from migcompat.catalog.release_loader import build_release
from migcompat.errors import EXIT_INCOMPATIBLE, EXIT_OK, CatalogError, MigcompatError
from migcompat.model.devspec import DeviceSpec, parse_device
from migcompat.model.machines import version_key
from migcompat.model.release import Release
from migcompat.model.vm import Effective, VMConfig, realize_vm
from migcompat.qemu.overlay import apply_overlay, load_overlay
from migcompat.qemu.qmp import QemuProcess, find_qemu
from migcompat.qemu.qom_compare import (
    CHILD,
    Comparison,
    Observed,
    compare_machine,
    model_objects,
    observe,
)

FAMILIES = ("pc-q35-", "pc-i440fx-")
SMP = 4
DRIVES = 5
# Devices that need no host backend (or a null drive), each with an id. Two sit behind a
# PCI bridge at fixed slots: the root bus has ~30 free slots and old machine types' SHPC
# bridges refuse slot 0.
DEVICES: tuple[str, ...] = (
    "virtio-blk-pci,id=vblk,drive=d0",
    "virtio-net-pci,id=vnet",
    "virtio-scsi-pci,id=vscsi",
    "virtio-balloon-pci,id=vbal",
    "virtio-serial-pci,id=vser",
    "virtio-rng-pci,id=vrng",
    "e1000,id=e1k",
    "e1000e,id=e1ke",
    "qemu-xhci,id=xhci",
    "usb-tablet,id=tab,bus=xhci.0",
    "usb-kbd,id=ukbd,bus=xhci.0",
    "usb-mouse,id=umouse,bus=xhci.0",
    "usb-storage,id=ustor,drive=d2,bus=xhci.0",
    "virtio-gpu-pci,id=vgpu",
    "virtio-keyboard-pci,id=vkbd",
    "virtio-mouse-pci,id=vmouse",
    "virtio-tablet-pci,id=vtab",
    "virtio-iommu-pci,id=viommu",
    "i6300esb,id=wdt",
    "pvpanic-pci,id=pvp",
    "pvpanic,id=pvisa",
    "rtl8139,id=rtl",
    "vmxnet3,id=vmx",
    "pcnet,id=pcnet",
    "megasas,id=mega",
    "lsi53c895a,id=lsi",
    "scsi-hd,id=shd,drive=d3,bus=vscsi.0",
    "nvme,id=nvme,serial=x,drive=d1",
    "nec-usb-xhci,id=nec",
    "ich9-usb-ehci1,id=ehci",
    "piix3-usb-uhci,id=uhci",
    "intel-hda,id=hda",
    "ich9-ahci,id=ahci",
    "pci-bridge,id=br,chassis_nr=1",
    "usb-ehci,id=uehci,bus=br,addr=0x1",
    "ne2k_pci,id=ne2k,bus=br,addr=0x2",
    "virtio-vga,id=vvga,bus=br,addr=0x3",
    "i82559er,id=eepro,bus=br,addr=0x4",
    "mptsas1068,id=mpt,bus=br,addr=0x5",
    "pvscsi,id=pvscsi,bus=br,addr=0x6",
    "am53c974,id=am53,bus=br,addr=0x7",
    "dc390,id=dc390,bus=br,addr=0x8",
    "sdhci-pci,id=sdhci,bus=br,addr=0x9",
    "ich9-intel-hda,id=ihda,bus=br,addr=0xa",
    "pci-serial,id=pser,chardev=c0,bus=br,addr=0xb",
    "edu,id=edu,bus=br,addr=0xc",
    "pci-testdev,id=ptest,bus=br,addr=0xd",
    "virtserialport,id=vport,chardev=c1,bus=vser.0",
    "scsi-cd,id=scd,bus=vscsi.0",
    "ide-cd,id=icd,bus=ahci.0",
    "ide-hd,id=ihd,drive=d4,bus=ahci.1",
    "usb-hub,id=uhub,bus=xhci.0",
    "isa-serial,id=iser,chardev=c2",
    "isa-debugcon,id=dbgcon,chardev=c3",
)
CHARDEVS = 4
# QemuOpts keys that place a device rather than set a property the model knows.
_PLACEMENT = ("bus", "addr")

Progress = Callable[[str, int, int], None]


@dataclass
class MachineResult:
    machine: str
    comparisons: list[Comparison] = field(default_factory=list)
    error: str = ""
    seconds: float = 0.0

    @property
    def compared(self) -> int:
        return len(self.comparisons)

    @property
    def agreed(self) -> int:
        return sum(c.agrees for c in self.comparisons)

    @property
    def disagreements(self) -> list[Comparison]:
        return [c for c in self.comparisons if not c.agrees]

    def to_json(self) -> dict[str, Any]:
        return {"name": self.machine, "compared": self.compared, "agreed": self.agreed,
                "error": self.error or None, "seconds": round(self.seconds, 2),
                "disagreements": [c.to_json() for c in self.disagreements]}


@dataclass
class Report:
    binary: str
    version: str
    package: str
    catalog: str
    release: str
    machines: list[MachineResult] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def compared(self) -> int:
        return sum(m.compared for m in self.machines)

    @property
    def agreed(self) -> int:
        return sum(m.agreed for m in self.machines)

    @property
    def rate(self) -> float:
        return self.agreed / self.compared if self.compared else 0.0

    @property
    def ok(self) -> bool:
        return all(not m.error and not m.disagreements for m in self.machines)

    def disagreements(self) -> list[Comparison]:
        return [c for m in self.machines for c in m.disagreements]

    def to_json(self) -> dict[str, Any]:
        return {"schema": 1, "command": "crosscheck",
                "qemu": {"binary": self.binary, "version": self.version,
                         "package": self.package},
                "catalog": self.catalog, "release": self.release, "smp": SMP,
                "devices": list(DEVICES), "compared": self.compared, "agreed": self.agreed,
                "disagreed": self.compared - self.agreed, "rate": round(self.rate, 6),
                "seconds": round(self.seconds, 1),
                "machines": [m.to_json() for m in self.machines],
                "skipped": dict(sorted(self.skipped.items()))}


def qemu_args(machine: str) -> list[str]:
    args = ["-M", machine, "-smp", str(SMP)]
    for i in range(DRIVES):
        args += ["-drive", f"if=none,id=d{i},file=null-co://,format=raw"]
    for i in range(CHARDEVS):
        args += ["-chardev", f"null,id=c{i}"]
    for spec in DEVICES:
        args += ["-device", spec]
    return args


def model_specs() -> list[DeviceSpec]:
    specs = []
    for text in DEVICES:
        spec = parse_device(text)
        opts = tuple((k, v) for k, v in spec.options if k not in _PLACEMENT)
        specs.append(DeviceSpec(spec.driver, spec.id, opts))
    return specs


def predict(release: Release, machine: str) -> tuple[dict[str, dict[str, Effective]], list[str]]:
    """The model's objects for the device set; devices it cannot realize are listed apart."""
    specs = model_specs()
    try:
        return model_objects(realize_vm(VMConfig(release, machine, specs, smp=SMP))), []
    except MigcompatError:
        pass  # find out which devices fail, and compare the others
    objects: dict[str, dict[str, Effective]] = {}
    failed: list[str] = []
    for spec in specs:
        try:
            objects.update(model_objects(realize_vm(VMConfig(release, machine, [spec],
                                                             smp=SMP))))
        except MigcompatError as exc:
            failed.append(f"{spec.id}: {exc}")
    return objects, failed


def _observe(binary: str, machine: str,
             children: Collection[str]) -> dict[str, dict[str, Observed]]:
    ids = [str(parse_device(d).id) for d in DEVICES]
    with QemuProcess(qemu_args(machine), binary=binary) as proc:
        return observe(proc, ids, children)


def _ignore_sigint() -> None:  # pragma: no cover - runs in the worker processes
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _work(args: tuple[str, str, Collection[str]]
          ) -> tuple[str, dict[str, dict[str, Observed]] | str, float]:
    """One machine type in a worker process: its observations, or the error text."""
    binary, machine, children = args
    t0 = time.monotonic()
    try:
        return machine, _observe(binary, machine, children), time.monotonic() - t0
    except MigcompatError as exc:
        return machine, str(exc), time.monotonic() - t0


def child_names(release: Release) -> set[str]:
    """Every child name the release's types declare, and virtio's in any case."""
    names = {CHILD}
    for name in release.types.names():
        child = release.types[name].child
        if child is not None:
            names.add(child.name)
    return names


def list_machines(binary: str) -> tuple[list[str], str, str]:
    """The binary's pc-q35/pc-i440fx machine types, its version (x.y.z) and package."""
    with QemuProcess(["-machine", "none"], binary=binary) as proc:
        names = sorted((str(m["name"]) for m in proc.cmd("query-machines")
                        if str(m["name"]).startswith(FAMILIES)),
                       key=lambda n: (n.rsplit("-", 1)[0], version_key(n.rsplit("-", 1)[1])))
        major, minor, micro = proc.version()
        return names, f"{major}.{minor}.{micro}", proc.package()


def load_release(catalog: str, rid: str, overlay: Path | None = None) -> tuple[Catalog, Release]:
    """The release as shipped, or with an overlay file merged onto its data first (to try
    overlay changes before the catalogs are rebuilt with them)."""
    cat = open_catalog(catalog)
    if overlay is None:
        return cat, cat.release(rid)
    cat.release(rid)  # validates the id and the file as shipped
    ref = cat.refs[rid]
    data = apply_overlay(ref.data if ref.data is not None else read_data(ref.file),
                         load_overlay(overlay))
    data.pop("format", None)
    data.pop("extends", None)
    chk = Checker(str(overlay))
    release = build_release(data, chk, ref.path, rid)
    if chk.problems or release is None:
        raise CatalogError(chk.problems)
    return cat, release


def run_crosscheck(binary: str | None = None, catalog: str = "qemu",
                   release_id: str | None = None, machines: Sequence[str] | None = None,
                   jobs: int = 2, progress: Progress | None = None,
                   overlay: Path | None = None) -> Report:
    started = time.monotonic()
    path = find_qemu(binary)
    names, version, package = list_machines(path)
    if machines:
        names = [m for m in names if m in machines]
    rid = release_id or ".".join(version.split(".")[:2])
    cat, release = load_release(catalog, rid, overlay)
    report = Report(path, version, package, cat.name, rid)
    results = {name: MachineResult(name) for name in names}
    children = child_names(release)

    done = 0
    # Processes, not threads: half the time is Python decoding QMP replies (GIL-bound), the
    # other half QEMU answering. Workers ignore Ctrl-C: the main process cancels what is
    # queued and each worker ends its current machine type, closing its QEMU.
    pool = ProcessPoolExecutor(max_workers=max(1, jobs), initializer=_ignore_sigint)
    try:
        jobs_args = [(path, name, children) for name in names]
        for name, observed, secs in pool.map(_work, jobs_args):
            result = results[name]
            result.seconds = secs
            if isinstance(observed, str):
                result.error = f"QEMU: {observed}"
            elif not release.machines.knows(name):
                result.error = f"machine type unknown to release {rid} of catalog {cat.name}"
            else:
                predicted, failed = predict(release, name)
                result.comparisons = compare_machine(name, observed, predicted, report.skipped,
                                                     release.types.is_a)
                if failed:
                    result.error = "model: " + "; ".join(failed)
            done += 1
            if progress:
                progress(name, done, len(names))
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    report.machines = [results[n] for n in names]
    report.seconds = time.monotonic() - started
    return report


def format_text(report: Report) -> str:
    lines = [f"QEMU {report.version} ({report.package}) at {report.binary}",
             f"model: catalog {report.catalog}, release {report.release}; "
             f"{len(DEVICES)} devices, -smp {SMP}", ""]
    for m in report.machines:
        rate = f"{100 * m.agreed / m.compared:.2f}%" if m.compared else "-"
        line = f"  {m.machine:16} {m.compared:5} compared {m.agreed:5} agree {rate:>8}"
        lines.append(line + (f"  ERROR {m.error}" if m.error else ""))
    groups: dict[tuple[str, ...], list[str]] = {}
    for c in report.disagreements():
        key = (c.path, c.prop, c.status, json.dumps(c.qemu), json.dumps(c.model), c.cause)
        groups.setdefault(key, []).append(c.machine)
    lines += ["", f"total: {report.compared} compared, {report.agreed} agree, "
              f"{report.compared - report.agreed} disagree "
              f"({100 * report.rate:.3f}%) in {report.seconds:.1f}s"]
    if groups:
        lines += ["", "disagreements (device.property: qemu vs model -- cause [machines]):"]
        for (path, prop, status, q, mv, cause), ms in sorted(groups.items()):
            where = ms[0] if len(ms) == 1 else f"{len(ms)} machines: {ms[0]} .. {ms[-1]}"
            lines.append(f"  {path}.{prop} {status}: qemu={q} model={mv} -- {cause} [{where}]")
    return "\n".join(lines)


def _tty_progress() -> tuple[Progress | None, Callable[[], None]]:
    if not sys.stderr.isatty():
        return None, lambda: None
    from rich.progress import Progress as Bar

    bar = Bar(transient=True)
    task = bar.add_task("cross-check", total=None)
    bar.start()

    def step(name: str, done: int, total: int) -> None:
        bar.update(task, completed=done, total=total, description=name)

    return step, bar.stop


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m migcompat.qemu.crosscheck",
                                 description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--qemu", help="QEMU binary (default $MIGCOMPAT_QEMU or "
                    "qemu-system-x86_64)")
    ap.add_argument("--catalog", default="qemu")
    ap.add_argument("--release", help="release id (default: the binary's MAJOR.MINOR)")
    ap.add_argument("--machine", action="append", help="only this machine type (repeatable)")
    ap.add_argument("--jobs", type=int, default=2, help="QEMU processes at once (default 2)")
    ap.add_argument("--overlay", type=Path, help="merge this overlay file onto the release "
                    "first (to try overlay changes before rebuilding the catalogs)")
    ap.add_argument("--format", choices=("text", "json"), default="text")
    args = ap.parse_args(argv)
    step, stop = _tty_progress()
    try:
        report = run_crosscheck(args.qemu, args.catalog, args.release, args.machine,
                                args.jobs, step, args.overlay)
    except MigcompatError as exc:
        stop()
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        stop()
        print("interrupted", file=sys.stderr)
        return 130
    stop()
    if args.format == "json":
        print(json.dumps(report.to_json(), indent=1))
    else:
        print(format_text(report))
    return EXIT_OK if report.ok else EXIT_INCOMPATIBLE


if __name__ == "__main__":
    sys.exit(main())
