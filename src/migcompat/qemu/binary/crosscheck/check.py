"""Cross-check the model against a real QEMU binary.

For every pc-q35 and pc-i440fx machine type the binary has, start it once (paused, TCG) with
a fixed set of devices that need no host backend, read every property of every device and
of its virtio backend over QMP, and compare with the model's effective values for the same
machine type, devices and vCPU count in the catalog release of the binary's version. Every
disagreement is a bug in the importer, the model or ``overlay.toml``, or QEMU behaviour the
model lacks.

    migcompat crosscheck [--qemu BIN] [--catalog qemu] [--release 7.2]
                                        [--machine M ...] [--jobs 2] [--format json]

Exit status: 0 when everything agrees, 1 on disagreements, 2 bad usage, 3 QEMU missing.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from migcompat.catalog.checker import Checker
from migcompat.catalog.load import Catalog, open_catalog, read_data
from migcompat.catalog.release_loader import build_release
from migcompat.errors import CatalogError, MigcompatError
from migcompat.model.devspec import DeviceSpec, parse_device
from migcompat.model.release import Release
from migcompat.model.vm import Effective, VMConfig, realize_vm
from migcompat.qemu.binary.crosscheck.qom import CHILD, Comparison, compare_machine, model_objects
from migcompat.qemu.binary.crosscheck.worker import (
    DEVICES,
    SMP,
    UNVERSIONED,
    Environment,
    devices_for,
    ignore_sigint,
    list_machines,
    smp_for,
    work,
)
from migcompat.qemu.binary.qmp import find_qemu
from migcompat.qemu.overlay import apply_overlay, load_overlay

__all__ = ["DEVICES", "Report", "format_text", "run_crosscheck"]

Progress = Callable[[str, int, int], None]


@dataclass
class MachineResult:
    machine: str
    comparisons: list[Comparison] = field(default_factory=list)
    error: str = ""
    seconds: float = 0.0
    refused: dict[str, str] = field(default_factory=dict)  # device id -> QEMU's reason

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
                "refused": dict(self.refused),
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
                "devices": list(DEVICES),
                "unversioned_devices": {m: list(d) for m, d in UNVERSIONED.items()},
                "compared": self.compared, "agreed": self.agreed,
                "disagreed": self.compared - self.agreed, "rate": round(self.rate, 6),
                "seconds": round(self.seconds, 1),
                "machines": [m.to_json() for m in self.machines],
                "skipped": dict(sorted(self.skipped.items()))}


def model_specs(machine: str, leave_out: Collection[str] = ()) -> list[DeviceSpec]:
    """The machine's device set as the model takes it: bus= and addr= included, since the
    model places devices as QEMU does (model/buses.py)."""
    return [spec for spec in map(parse_device, devices_for(machine))
            if spec.id not in leave_out]


def compare_refusals(release: Release, machine: str, refused: dict[str, str]
                     ) -> list[Comparison]:
    """Each device QEMU refused outright (not for sitting on a refused one's bus) must be
    refused by the model too, in QEMU's words: one comparison per device."""
    ordered = list(map(parse_device, devices_for(machine)))
    out = []
    for dev, why in sorted(refused.items()):
        at = next((i for i, spec in enumerate(ordered) if spec.id == dev), None)
        if at is None or why.startswith("on "):
            continue
        # with the devices QEMU took before it (they may have filled its bus)
        before = [spec for spec in ordered[:at] if spec.id not in refused]
        model, probed = _model_refusal(release, machine, before, ordered[at])
        # The probe keeps one line of QEMU's refusal, maybe not the line crosscheck read.
        same = model is not None and (probed or _gist(why) in _gist(model))
        model = "accepted" if model is None else model
        out.append(Comparison(machine, dev, "(refused)", "agree" if same else "differ",
                              qemu=why, model=model,
                              cause="" if same else "QEMU refuses the device; the model "
                              + ("accepts it" if model == "accepted" else "in other words")))
    return out


def _model_refusal(release: Release, machine: str, before: list[DeviceSpec],
                   spec: DeviceSpec) -> tuple[str | None, bool]:
    """Why the model refuses the device after ``before`` on the machine: realize's error,
    else the release's device probe (a type its build was seen not to start on the family,
    as `check` reports it: then True); None when it accepts it."""
    try:
        vm = realize_vm(VMConfig(release, machine, [*before, spec], smp=smp_for(machine)))
    except MigcompatError as exc:
        return str(exc), False
    capture = release.capture()
    probed = capture.probed(vm.machine.family, spec.driver) if capture is not None else None
    if probed is not None and probed.status == "cannot-start":
        return probed.words, True
    return None, False


_MACHINE_NAME = re.compile(r"\b(?:pc-(?:q35|i440fx)-[\d.]+|isapc|microvm)\b")


def _gist(text: str) -> str:
    """A refusal's words without the machine type's name (QEMU's and the probe's differ)."""
    return _MACHINE_NAME.sub("this", text)


def predict(release: Release, machine: str, leave_out: Collection[str] = ()
            ) -> tuple[dict[str, dict[str, Effective]], list[str]]:
    """The model's objects for the device set; devices it cannot realize are listed apart."""
    specs = model_specs(machine, leave_out)
    try:
        return model_objects(realize_vm(VMConfig(release, machine, specs,
                                                          smp=smp_for(machine)))), []
    except MigcompatError:
        pass  # find out which devices fail, and compare the others
    # Add the devices one by one, keeping those that realize: a device on a controller's
    # bus needs the controller before it, as on QEMU's command line.
    kept: list[DeviceSpec] = []
    failed: list[str] = []
    for spec in specs:
        try:
            realize_vm(VMConfig(release, machine, [*kept, spec], smp=smp_for(machine)))
            kept.append(spec)
        except MigcompatError as exc:
            failed.append(f"{spec.id}: {exc}")
    return model_objects(realize_vm(VMConfig(release, machine, kept,
                                                   smp=smp_for(machine)))), failed


def child_names(release: Release) -> set[str]:
    """Every child name the release's types declare, and virtio's in any case."""
    names = {CHILD}
    for name in release.types.names():
        child = release.types[name].child
        if child is not None:
            names.add(child.name)
    return names


def load_release(catalog: str, rid: str, overlay: Path | None = None) -> tuple[Catalog, Release]:
    """The release as shipped, or with an overlay file merged onto its data first (to try
    overlay changes before the catalogs are rebuilt with them)."""
    cat = open_catalog(catalog)
    if overlay is None:
        return cat, cat.release(rid)
    shipped = cat.release(rid)  # validates the id and the file as shipped
    ref = cat.refs[rid]
    data = apply_overlay(ref.data if ref.data is not None else read_data(ref.file),
                         load_overlay(overlay))
    data.pop("format", None)
    data.pop("extends", None)
    chk = Checker(str(overlay))
    release = build_release(data, chk, ref.path, rid)
    if chk.problems or release is None:
        raise CatalogError(chk.problems)
    # the overlay is about the catalog data; the captured state stays the shipped one's
    return cat, replace(release, capture_loader=shipped.capture_loader)


def run_crosscheck(binary: str | None = None, catalog: str = "qemu",
                   release_id: str | None = None, machines: Sequence[str] | None = None,
                   jobs: int = 2, progress: Progress | None = None,
                   overlay: Path | None = None, env: Environment = None) -> Report:
    """``env`` runs a private build: (extra QEMU arguments such as ``-L DIR``, its
    environment with LD_LIBRARY_PATH and QEMU_MODULE_DIR); see qemu/debian/builds.py."""
    started = time.monotonic()
    path = find_qemu(binary)
    names, version, package = list_machines(path, env)
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
    pool = ProcessPoolExecutor(max_workers=max(1, jobs), initializer=ignore_sigint)
    try:
        jobs_args = [(path, name, children, env) for name in names]
        for name, outcome, secs in pool.map(work, jobs_args):
            result = results[name]
            result.seconds = secs
            if isinstance(outcome, str):
                result.error = f"QEMU: {outcome}"
            elif not release.machines.knows(name):
                result.error = f"machine type unknown to release {rid} of catalog {cat.name}"
            else:
                observed, result.refused = outcome
                predicted, failed = predict(release, name, result.refused)
                result.comparisons = compare_machine(name, observed, predicted, report.skipped,
                                                     release.types.is_a)
                result.comparisons += compare_refusals(release, name, result.refused)
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
    refused: dict[tuple[str, str], list[str]] = {}
    for m in report.machines:
        for dev, why in m.refused.items():
            refused.setdefault((dev, why), []).append(m.machine)
    if refused:
        lines += ["", "devices QEMU refused, left out on both sides (device: reason [machines]):"]
        lines += [f"  {dev}: {why} [{_where(ms)}]" for (dev, why), ms in sorted(refused.items())]
    if groups:
        lines += ["", "disagreements (device.property: qemu vs model -- cause [machines]):"]
        for (path, prop, status, q, mv, cause), ms in sorted(groups.items()):
            lines.append(f"  {path}.{prop} {status}: qemu={q} model={mv} -- {cause} "
                         f"[{_where(ms)}]")
    return "\n".join(lines)


def _where(machines: list[str]) -> str:
    if len(machines) == 1:
        return machines[0]
    return f"{len(machines)} machines: {machines[0]} .. {machines[-1]}"
