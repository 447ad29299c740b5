"""Real cross-version migrations and what ``migcompat check`` predicts for them.

A case names a source build, a destination build, a machine type and the devices of each
side. Real QEMU runs it: the paused source migrates to a file (``exec:cat > FILE``), the
destination loads it (``-incoming "exec:cat FILE"``). ``check`` runs on the same
configuration through the real command line (in-process, ``--format json``).

Outcomes, on both sides of the comparison:
- ``loaded``: the destination completed the incoming migration;
- ``failed``: it started and the load failed ("load of migration failed");
- ``refused``: it would not even start the configuration (unknown machine or device type).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from qemu.qmp import ExecuteError, QMPError

from migcompat.catalog.load import DATA_DIR
from migcompat.cli.main import main as cli_main
from migcompat.errors import BuildUnavailable, FetchError
from migcompat.qemu.binary.state.capture import BATCH
from migcompat.qemu.binary.state.run import DEVICES as PROBED_DEVICES
from migcompat.qemu.binary.state.run import Device
from migcompat.qemu.debian.builds import QemuBuild, build
from qemu_helpers import LoadResult, load_stream, make_stream

SMP = 4
MEM_MIB = 64
OUTCOMES = ("loaded", "failed", "refused")


@dataclass(frozen=True)
class Dev:
    """A device: its ``check`` spec and the QEMU options that create it."""

    spec: str
    args: tuple[str, ...]
    objects: tuple[str, ...] = ()  # the -object specs the device links to (memdev=...)


BLK = Dev("virtio-blk-pci", ("-drive", "if=none,id=d0,file=null-co://,format=raw",
                             "-device", "virtio-blk-pci,drive=d0"))
BLK2 = Dev("virtio-blk-pci", ("-drive", "if=none,id=d1,file=null-co://,format=raw",
                              "-device", "virtio-blk-pci,drive=d1"))
RNG = Dev("virtio-rng-pci", ("-device", "virtio-rng-pci"))
E1000 = Dev("e1000", ("-device", "e1000"))


def mapped(device: str, backend: str, size: str) -> Dev:
    """``device`` mapping a memory backend of ``size``: its RAM travels as block ``backend``."""
    obj = f"memory-backend-ram,id={backend},size={size}"
    spec = f"{device},memdev={backend}"
    return Dev(spec, ("-object", obj, "-device", spec), (obj,))


RP1 = Dev("pcie-root-port,id=rp1,chassis=1", ("-device", "pcie-root-port,id=rp1,chassis=1"))
RNG_ON_RP1 = Dev("virtio-rng-pci,bus=rp1", ("-device", "virtio-rng-pci,bus=rp1"))
BRIDGE = Dev("pci-bridge,id=br1,chassis_nr=1", ("-device", "pci-bridge,id=br1,chassis_nr=1"))
RNG_ON_BRIDGE = Dev("virtio-rng-pci,bus=br1,addr=3",
                    ("-device", "virtio-rng-pci,bus=br1,addr=3"))
AHCI2 = Dev("ich9-ahci,id=ahci2", ("-device", "ich9-ahci,id=ahci2"))
DISK_ON_AHCI2 = Dev("ide-hd,bus=ahci2.0", (
    "-drive", "if=none,id=d9,file=null-co://,format=raw", "-device", "ide-hd,bus=ahci2.0,drive=d9"))
NOT_CAPTURED = "devices behind a PCIe port, a bridge or a second controller were not captured"

ERST_64K, ERST_128K = mapped("acpi-erst", "mb0", "64K"), mapped("acpi-erst", "mb0", "128K")
ERST_OTHER_ID = mapped("acpi-erst", "mb9", "64K")
IVSHMEM_1M = mapped("ivshmem-plain,master=on", "mb1", "1M")
IVSHMEM_2M = mapped("ivshmem-plain,master=on", "mb1", "2M")
# The device types the state capture probes (make catalogs-state), each with its backend:
# check compares their captured sections between the builds, not just their properties.


# Guest-visible defaults QEMU changed between these releases without a compat entry: the
# stream loads, and check reports the difference as breaking on purpose (the guest sees
# another device after the move). docs/real-migrations.md lists them; they are left out
# of the "all probed devices" cases, which must load as predicted.
CHANGED_DEFAULTS = {
    "virtio-gpu-pci": "xres/yres 1024x768 in 5.2, 1280x800 from 7.2",
    "pvpanic-pci": "events 3 up to 7.2, 7 in 10.0 (the shutdown event)",
    "nec-usb-xhci": "streams off up to 7.2 (its flags word overwrote the core's), on in 10.0",
}


# The ESP SCSI controllers: their nested esp struct changed version (v4 in 5.2, v6 in 7.2,
# v7 in 10.0) and 10.0 cannot load the older ones; their own cases below.
ESP = ("am53c974", "dc390")


def _probed_dev(device: Device, n: int) -> Dev:
    """A probed device as check and validate see it: with the memory backend it maps (its
    RAM block travels under the backend's id), else by type alone."""
    args = tuple(device.args(n))
    objects = tuple(args[i + 1] for i, a in enumerate(args) if a == "-object")
    spec = args[-1].replace(f",id=mcdev{n}", "") if objects else device.type
    return Dev(spec, args, objects)


def probed(src: str, dst: str, machine: str) -> list[tuple[Dev, ...]]:
    """Every probed device type both builds were captured with on ``machine`` (a type one
    build lacks, like pvpanic-pci on 5.2, or cannot migrate, like nvme, is left out), less
    those of CHANGED_DEFAULTS, in VMs of at most BATCH devices (as the capture saved them:
    the root PCI bus has about 30 free slots)."""
    both = set.intersection(*(set(json.loads(
        (DATA_DIR / "qemu" / f"{r}.state.json").read_text())["machines"][machine]["devices"])
        for r in (src, dst)))
    devs = [_probed_dev(d, 10 + n) for n, d in enumerate(PROBED_DEVICES)
            if d.type in both and d.type not in CHANGED_DEFAULTS and d.type not in ESP]
    batches: list[list[Dev]] = []
    for dev in devs:  # a VM has one balloon at most (QEMU refuses a second)
        fits = [b for b in batches if len(b) < BATCH and not (
            "balloon" in dev.spec and any("balloon" in x.spec for x in b))]
        if fits:
            fits[0].append(dev)
        else:
            batches.append([dev])
    return [tuple(b) for b in batches]


@dataclass(frozen=True)
class Case:
    kind: str  # what the case shows (a table column)
    src: str
    dst: str
    machine: str
    expect: str  # real QEMU's outcome as observed and recorded (docs/real-migrations.md)
    shared: tuple[Dev, ...] = (BLK,)
    src_only: tuple[Dev, ...] = ()
    dst_only: tuple[Dev, ...] = ()
    dst_globals: tuple[str, ...] = ()
    known: str = ""  # a known disagreement of check with QEMU (the test is a strict xfail)
    no_validate: str = ""  # why validate --dest cannot answer on the stream (docs say so)

    @property
    def id(self) -> str:
        return f"{self.kind}:{self.src}->{self.dst}:{self.machine}"

    def src_args(self) -> list[str]:
        return [a for d in (*self.shared, *self.src_only) for a in d.args]

    def dst_args(self) -> list[str]:
        globals_ = [a for g in self.dst_globals for a in ("-global", g)]
        return [*globals_, *(a for d in (*self.shared, *self.dst_only) for a in d.args)]

    def check_argv(self) -> list[str]:
        argv = ["check", "--catalog", "qemu", f"{self.src}:{self.machine}",
                f"{self.dst}:{self.machine}", "--smp", str(SMP), "-m", f"{MEM_MIB}M"]
        for opt, devs in (("--device", self.shared), ("--src-device", self.src_only),
                          ("--dst-device", self.dst_only)):
            argv += [x for d in devs for x in (opt, d.spec)]
            argv += [x for d in devs for o in d.objects
                     for x in (opt.replace("device", "object"), o)]
        argv += [x for g in self.dst_globals for x in ("--dst-global", g)]
        return [*argv, "--format", "json"]

    def validate_argv(self, stream: Path) -> list[str]:
        """``validate --dest``: the stream the source saved against the destination's config."""
        argv = ["validate", str(stream), "--catalog", "qemu", "--dest",
                f"{self.dst}:{self.machine}", "--smp", str(SMP), "-m", f"{MEM_MIB}M"]
        argv += [x for d in (*self.shared, *self.dst_only) for x in ("--device", d.spec)]
        argv += [x for d in (*self.shared, *self.dst_only) for o in d.objects
                 for x in ("--object", o)]
        argv += [x for g in self.dst_globals for x in ("--global", g)]
        return [*argv, "--format", "json"]


XHCI = Dev("qemu-xhci,id=usb", ("-device", "qemu-xhci,id=usb"))
ALL_PAIRS = (("7.2", "10.0"), ("10.0", "7.2"), ("5.2", "7.2"), ("7.2", "5.2"), ("5.2", "10.0"),
             ("10.0", "5.2"))
BOTH_FAMILIES = ("pc-q35-5.2", "pc-i440fx-5.2")
BLOCKED_CASES = (
    (Dev("usb-uas,bus=usb.0", ("-device", "usb-uas,bus=usb.0")), (XHCI,), BOTH_FAMILIES,
     ALL_PAIRS),
    (Dev("usb-net,bus=usb.0", ("-device", "usb-net,bus=usb.0")), (XHCI,), ("pc-q35-5.2",),
     ALL_PAIRS),
    (Dev("usb-wacom-tablet,bus=usb.0", ("-device", "usb-wacom-tablet,bus=usb.0")), (XHCI,),
     ("pc-i440fx-5.2",), ALL_PAIRS),
    (Dev("rocker", ("-device", "rocker")), (), BOTH_FAMILIES, ALL_PAIRS),
    (Dev("amd-iommu", ("-device", "amd-iommu")), (), ("pc-q35-5.2",), ALL_PAIRS),
    (Dev("ufs", ("-device", "ufs")), (), ("pc-q35-5.2",), (("10.0", "7.2"), ("10.0", "5.2"))),
)
CANNOT_START_CASES = (
    # 5.2 refuses virtio-iommu-pci ("Check the guest is booted without FW or with -no-acpi")
    (Dev("virtio-iommu-pci", ("-device", "virtio-iommu-pci")), BOTH_FAMILIES,
     (("7.2", "5.2"), ("10.0", "5.2"), ("5.2", "7.2"), ("5.2", "10.0"))),
    # 7.2 and 10.0 refuse vmmouse without the i8042 that -nodefaults leaves out
    (Dev("vmmouse", ("-device", "vmmouse")), ("pc-q35-5.2",),
     (("5.2", "7.2"), ("5.2", "10.0"), ("7.2", "5.2"), ("10.0", "5.2"))),
)
MACHINES = ("pc-q35-5.1", "pc-i440fx-5.1")
# 7.2 (the system build) with itself, and with 5.2 and 10.0 in both directions; 5.2 <-> 10.0 too.
PAIRS = (("7.2", "7.2"), ("5.2", "7.2"), ("7.2", "5.2"), ("7.2", "10.0"), ("10.0", "7.2"),
         ("5.2", "10.0"), ("10.0", "5.2"))
NUM_QUEUES_4 = "virtio-blk-device.num-queues=4"

CASES: tuple[Case, ...] = (
    *(Case("same devices", s, d, m, "loaded") for m in MACHINES for s, d in PAIRS),
    # The destination does not know the machine type.
    Case("unknown machine", "10.0", "7.2", "pc-q35-10.0", "refused"),
    Case("unknown machine", "10.0", "5.2", "pc-i440fx-10.0", "refused"),
    Case("unknown machine", "7.2", "5.2", "pc-q35-7.2", "refused"),
    # A forgotten compat entry, simulated: the destination's num-queues is not the 5.1 value.
    # (validate --dest does not answer: the capture ran with the default num-queues, and what
    # 4 queues do to the PCI config space it checks is not captured.)
    *(Case("forgotten compat", s, d, m, "failed", dst_globals=(NUM_QUEUES_4,),
           no_validate="num-queues=4 on the destination is beyond the capture")
      for s, d, m in (("7.2", "10.0", "pc-q35-5.1"), ("10.0", "7.2", "pc-q35-5.1"),
                      ("5.2", "7.2", "pc-i440fx-5.1"), ("7.2", "7.2", "pc-q35-5.1"))),
    # The same global with the value the compat entry gives: nothing changes.
    Case("pinned as compat", "7.2", "10.0", "pc-q35-5.1", "loaded",
         dst_globals=("virtio-blk-device.num-queues=1",)),
    # The destination lacks the source's device: its section is unknown there.
    Case("missing device", "7.2", "10.0", "pc-q35-5.1", "failed", shared=(), src_only=(BLK,)),
    Case("missing device", "10.0", "5.2", "pc-i440fx-5.1", "failed", shared=(),
         src_only=(BLK,)),
    Case("missing device", "7.2", "7.2", "pc-q35-5.1", "failed", shared=(), src_only=(BLK,)),
    # An extra device on the destination keeps its reset state.
    Case("extra device", "5.2", "7.2", "pc-q35-5.1", "loaded", dst_only=(RNG,)),
    Case("extra device", "7.2", "10.0", "pc-i440fx-5.1", "loaded", dst_only=(RNG,)),
    Case("extra device", "10.0", "7.2", "pc-q35-5.1", "loaded", dst_only=(BLK2,)),
    Case("extra device", "7.2", "5.2", "pc-i440fx-5.1", "loaded", dst_only=(BLK2,)),
    # virtio-rng-pci on both sides: 7.2 gave it MSI-X vectors, hw_compat_7_1 pins them to 0.
    Case("with virtio-rng", "5.2", "10.0", "pc-q35-5.1", "loaded", shared=(BLK, RNG)),
    Case("with virtio-rng", "10.0", "7.2", "pc-i440fx-5.1", "loaded", shared=(BLK, RNG)),
    Case("with virtio-rng", "7.2", "10.0", "pc-q35-7.2", "loaded", shared=(BLK, RNG)),
    # 10.0 changed every PCI device's rombar default from 1 to -1 ("auto"), the same device
    # (QEMU tests rom_bar for zero): overlay.toml declares the two values equivalent on
    # pci-device, so it holds for PCI devices that state no guest_visible list, like e1000.
    Case("rombar 1 vs -1", "7.2", "10.0", "pc-q35-5.1", "loaded", shared=(E1000,)),
    # Every probed device type at once, on newer and older machine types: the captured sections
    # (versions, subsections, layouts, RAM blocks) of both builds must agree, as QEMU does.
    *(Case(f"all probed devices {n + 1}", s, d, m, "loaded", shared=batch)
      for m, pairs in (("pc-q35-7.2", (("7.2", "10.0"), ("10.0", "7.2"))),
                       ("pc-i440fx-7.2", (("7.2", "10.0"), ("10.0", "7.2"))),
                       ("pc-q35-5.2", (("5.2", "10.0"), ("10.0", "5.2"), ("5.2", "7.2"),
                                       ("7.2", "5.2"))),
                       ("pc-i440fx-2.4", (("5.2", "10.0"), ("10.0", "5.2"))),
                       ("pc-q35-2.4", (("7.2", "10.0"), ("10.0", "7.2"))))
      for s, d in pairs for n, batch in enumerate(probed(s, d, m))),
    Case("rombar 1 vs -1", "10.0", "7.2", "pc-i440fx-5.1", "loaded", shared=(E1000,)),
    # A memory backend a device maps (-object ... memdev=): its RAM is a block named by the
    # backend's id; the destination must have one of that name and size.
    Case("mapped backend", "7.2", "10.0", "pc-q35-7.2", "loaded", shared=(BLK, ERST_64K)),
    Case("mapped backend", "10.0", "7.2", "pc-i440fx-7.2", "loaded", shared=(BLK, ERST_64K)),
    Case("backend size", "7.2", "10.0", "pc-q35-7.2", "failed", src_only=(ERST_64K,),
         dst_only=(ERST_128K,)),
    Case("backend size", "10.0", "7.2", "pc-q35-7.2", "failed", src_only=(ERST_128K,),
         dst_only=(ERST_64K,)),
    Case("backend id", "7.2", "10.0", "pc-i440fx-7.2", "failed", src_only=(ERST_64K,),
         dst_only=(ERST_OTHER_ID,)),
    Case("ivshmem backend", "5.2", "10.0", "pc-q35-5.2", "loaded", shared=(BLK, IVSHMEM_1M)),
    Case("ivshmem backend", "7.2", "5.2", "pc-i440fx-5.2", "loaded", shared=(BLK, IVSHMEM_1M)),
    Case("ivshmem backend size", "10.0", "5.2", "pc-q35-5.2", "failed",
         src_only=(IVSHMEM_1M,), dst_only=(IVSHMEM_2M,)),
    Case("ivshmem backend size", "5.2", "7.2", "pc-i440fx-5.2", "failed",
         src_only=(IVSHMEM_2M,), dst_only=(IVSHMEM_1M,)),
    # Devices on other buses: behind a PCIe root port, a PCI bridge, on a second AHCI. Their
    # sections are named after the path (0000:00:02.0:00.0/virtio-rng); one side with the
    # device behind a port and the other on the root bus is another VM.
    *(Case("behind a root port", s, d, "pc-q35-7.2", "loaded", shared=(BLK, RP1, RNG_ON_RP1),
           no_validate=NOT_CAPTURED) for s, d in (("7.2", "10.0"), ("10.0", "7.2"))),
    Case("root port vs root bus", "7.2", "10.0", "pc-q35-7.2", "failed",
         src_only=(RP1, RNG_ON_RP1), dst_only=(RNG,)),
    Case("root port vs root bus", "10.0", "7.2", "pc-q35-7.2", "failed",
         src_only=(RNG,), dst_only=(RP1, RNG_ON_RP1), no_validate=NOT_CAPTURED),
    *(Case("behind a pci-bridge", s, d, "pc-i440fx-5.2", "loaded",
           shared=(BLK, BRIDGE, RNG_ON_BRIDGE), no_validate=NOT_CAPTURED)
      for s, d in (("5.2", "7.2"), ("7.2", "5.2"))),
    *(Case("disk on a second AHCI", s, d, "pc-q35-5.2", "loaded",
           shared=(BLK, AHCI2, DISK_ON_AHCI2), no_validate=NOT_CAPTURED)
      for s, d in (("5.2", "10.0"), ("10.0", "5.2"))),
    # Devices the device probe saw each build refuse to migrate (docs/probe-state.md): the
    # source's QEMU refuses the migrate command, in the words check quotes.
    *(Case(f"blocked: {dev.spec.split(',')[0]}", s, d, m, "refused", shared=(BLK, *extra, dev))
      for dev, extra, machines, pairs in BLOCKED_CASES for m in machines for s, d in pairs),
    # The nested esp struct at another version on each side (struct-version): real 10.0
    # fails on 7.2's and 5.2's ("Missing section footer"), 7.2 reads 10.0's, 5.2 refuses
    # both newer section versions. 7.2 also reads 5.2's v4: check's conservative rule says
    # it fails (the one known disagreement, never a false "compatible").
    *(Case(f"nested struct version: {dev}", s, d, "pc-q35-5.2", expect, shared=(BLK, Dev(
        dev, ("-device", dev))), known=known)
      for dev in ESP
      for s, d, expect, known in (
          ("7.2", "10.0", "failed", ""), ("5.2", "10.0", "failed", ""),
          ("10.0", "7.2", "loaded", ""), ("10.0", "5.2", "failed", ""),
          ("7.2", "5.2", "failed", ""),
          ("5.2", "7.2", "loaded", "7.2 reads the esp v4 of 5.2 by tests no description "
                                   "shows; struct-version predicts a failure"))),
    # A device type one build starts and the other refuses on the same machine family.
    *(Case(f"cannot start: {dev.spec}", s, d, m, "refused", shared=(BLK, dev))
      for dev, machines, pairs in CANNOT_START_CASES for m in machines for s, d in pairs),
)


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


_BUILDS: dict[str, QemuBuild | str] = {}


def get_build(release_id: str) -> QemuBuild:
    """The real QEMU build of a release. Under CI=true a missing build is fetched (CI reaches
    the Debian archive) and any problem fails the test; otherwise the test is skipped."""
    if release_id not in _BUILDS:
        try:
            _BUILDS[release_id] = build(release_id, fetch_missing=in_ci())
        except (BuildUnavailable, FetchError) as exc:
            _BUILDS[release_id] = str(exc)
    got = _BUILDS[release_id]
    if isinstance(got, str):
        if in_ci():
            pytest.fail(f"{got} (CI=true: real migrations must run)")
        pytest.skip(got)
    return got


@dataclass(frozen=True)
class Actual:
    outcome: str
    why: str  # QEMU's first error line, if any
    stderr: str


def _first_error(stderr: str) -> str:
    text = re.sub(r"^QEMU exited early \(\d+\): ", "", stderr)  # qemu_helpers' wording
    lines = [ln.removeprefix("qemu-system-x86_64: ").strip() for ln in text.splitlines()]
    errors = [ln for ln in lines if ln and not ln.startswith("warning:")]
    return errors[0] if errors else ""


def classify(res: LoadResult) -> Actual:
    if res.ok:
        return Actual("loaded", "", res.stderr)
    why = _first_error(res.stderr)
    if "load of migration failed" in res.stderr:
        return Actual("failed", why, res.stderr)
    return Actual("refused", why, res.stderr)


def run_real(case: Case, src: QemuBuild, dst: QemuBuild, workdir: Path,
             streams: dict[tuple[str, ...], Path]) -> Actual:
    """Migrate through a file between the two real builds (one stream per source config)."""
    key = (case.src, case.machine, *case.src_args())
    if key not in streams:
        try:
            streams[key] = make_stream(workdir, case.machine, case.src_args(), smp=SMP,
                                       mem=MEM_MIB, qemu=src, name=f"stream{len(streams)}.mig")
        except ExecuteError as exc:  # the source refuses to migrate (a migration blocker)
            return Actual("refused", str(exc), str(exc))
        except (RuntimeError, QMPError) as exc:  # the source does not start it at all
            return Actual("refused", _first_error(str(exc)), str(exc))
    return classify(load_stream(streams[key], case.machine, case.dst_args(), smp=SMP,
                                mem=MEM_MIB, qemu=dst))


@dataclass(frozen=True)
class Validated:
    outcome: str  # "loaded" (validate: it will load), "failed" (it will not) or "no answer"
    why: str  # validate's first failure, or why it could not answer


def run_validate(case: Case, streams: dict[tuple[str, ...], Path]) -> Validated | None:
    """``validate --dest`` on the stream run_real saved (None: the source made none)."""
    stream = streams.get((case.src, case.machine, *case.src_args()))
    if stream is None:
        return None
    out, err = io.StringIO(), io.StringIO()
    code: object = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            cli_main(case.validate_argv(stream))
        except SystemExit as exc:
            code = exc.code
    if code not in (0, 1):
        return Validated("no answer", err.getvalue().strip().splitlines()[-1:][0]
                         if err.getvalue().strip() else f"exit {code}")
    doc = json.loads(out.getvalue())
    assert doc["loads"] == (code == 0), doc
    outcome = "loaded" if code == 0 else "refused" if doc["refused"] else "failed"
    return Validated(outcome, (doc["error"] or {}).get("message", ""))


def run_check(case: Case) -> dict[str, Any]:
    """``migcompat check ... --format json``, through the real CLI entry point."""
    return cli_json(case.check_argv())


def cli_json(argv: list[str]) -> dict[str, Any]:
    """A check command's JSON verdict; its exit code must match it (0 compatible, 1 not)."""
    out, err = io.StringIO(), io.StringIO()
    code: object = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            cli_main(argv)
        except SystemExit as exc:
            code = exc.code
    # Exit codes: 0 compatible, 1 incompatible; anything else is a broken check.
    assert code in (0, 1), f"migcompat {' '.join(argv)}: exit {code}: {err.getvalue()}"
    doc: dict[str, Any] = json.loads(out.getvalue())
    assert doc["compatible"] == (code == 0)
    return doc


def predicted(doc: dict[str, Any]) -> str:
    if doc["refused"]:
        return "refused"
    return "loaded" if doc["compatible"] else "failed"


def reasons_text(doc: dict[str, Any]) -> str:
    return "; ".join(f"{r['code']}: {r['message']}" for r in doc["reasons"])


def reasons_brief(doc: dict[str, Any]) -> str:
    """The breaking reasons in a few words: ``property-differs(num-queues, vectors)``."""
    by_code: dict[str, list[str]] = {}
    for r in doc["reasons"]:
        by_code.setdefault(r["code"], [])
        what = r.get("property") or r.get("device") or r.get("section")
        if what and what not in by_code[r["code"]]:
            by_code[r["code"]].append(what)
    return ", ".join(f"{c}({', '.join(w)})" if w else c for c, w in by_code.items())
