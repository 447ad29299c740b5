"""Device properties classified by the real builds (tools/classify_props.py): the bundled
measurements are what the build does now, and check predicts no load wherever a build
refused the value or failed to load the default's stream with it.

The data (tests/data/props-measured/<release>.json) comes from real runs: each boolean
property of each captured device type flipped, the VM saved (does it start, does its
layout change) and the default's stream loaded into it (does QEMU's loader accept it).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from migcompat.cli.main import cli
from migcompat.qemu.binary.state.run import DEVICES, Device

DATA = Path(__file__).resolve().parents[1] / "data" / "props-measured"
RELEASES = ("5.2", "7.2", "10.0")
BY_TYPE = {d.type: d for d in DEVICES}


def measured(release: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((DATA / f"{release}.json").read_text())
    assert doc["format"] == 1 and doc["release"] == release
    return doc


def spec(dev: Device) -> str:
    """The device as check takes it: its type and the options it was captured with."""
    return ",".join([dev.type, *(f"{k}={v}" for k, v in dev.options().items())])


def sample(doc: dict[str, Any], per_class: int) -> list[tuple[str, str, dict[str, Any]]]:
    """The first ``per_class`` entries of each class (types and properties in order)."""
    out, seen = [], {}
    for dtype in sorted(doc["devices"]):
        for name, entry in sorted(doc["devices"][dtype].items()):
            n = seen.get(entry["class"], 0)
            if n < per_class:
                seen[entry["class"]] = n + 1
                out.append((dtype, name, entry))
    return out


@pytest.mark.parametrize("release", RELEASES)
def test_every_class_is_measured_on_many_types(release: str) -> None:
    doc = measured(release)
    classes = [e["class"] for props in doc["devices"].values() for e in props.values()]
    assert len(doc["devices"]) >= 40 and len(classes) >= 700
    assert {"neutral", "layout", "breaks-load", "refused"} <= set(classes)


@pytest.mark.qemu
def test_bundled_classes_are_what_the_build_does(tmp_path: Path) -> None:
    """Two entries of each class of 7.2, measured again on the real build."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
    import classify_props as tool

    from migcompat.qemu.binary.state.capture import target_for
    from migcompat.qemu.binary.state.run import save

    doc = measured("7.2")
    target, machine = target_for("7.2"), doc["machine"]
    bases: dict[str, bytes] = {}
    for dtype, name, entry in sample(doc, 2):
        dev = BY_TYPE[dtype]
        if dtype not in bases:
            bases[dtype] = save(target, machine, 1, [dev]).data
            (tmp_path / f"{dtype}.mig").write_bytes(bases[dtype])
        again = tool.classify_one(target, "7.2", machine, dev, bases[dtype],
                                  tmp_path / f"{dtype}.mig", name, entry["default"])
        assert again["class"] == entry["class"], (dtype, name, again)


@pytest.mark.parametrize("release", RELEASES)
def test_check_predicts_no_load_where_the_build_breaks_or_refuses(release: str) -> None:
    """Every value with which a real build refused to start the device, or with which its
    destination refused the default's stream, is a move check says does not load."""
    doc = measured(release)
    runner = CliRunner()
    wrong, asked = [], 0
    for dtype, props in sorted(doc["devices"].items()):
        for name, entry in sorted(props.items()):
            if entry["class"] not in ("breaks-load", "refused"):
                continue
            value = "off" if entry["default"] else "on"
            side = f"{release}:{doc['machine']}"
            res = runner.invoke(cli, ["check", side, side, "--device", spec(BY_TYPE[dtype]),
                                      "--dst-global", f"{dtype}.{name}={value}",
                                      "--format", "json"])
            asked += 1
            verdict = json.loads(res.output)
            if verdict["loads"]:
                wrong.append(f"{dtype}.{name}={value}: {entry['class']} "
                             f"({entry.get('words')}), check says {verdict['verdict']}")
    assert asked >= 40
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("release", RELEASES)
def test_pcie_capability_flags_do_nothing_on_the_root_bus(release: str) -> None:
    """A virtio PCI device on q35's root bus has no PCIe capability (QEMU gives it one only
    behind a port): each build loaded the default's stream with each of those flags flipped
    and sent the same sections, and check says the move loads."""
    from migcompat.catalog.load import open_catalog

    doc = measured(release)
    types = open_catalog("qemu").release(release).types
    runner = CliRunner()
    side, seen, wrong = f"{release}:{doc['machine']}", 0, []
    for dtype, props in sorted(doc["devices"].items()):
        for name in sorted(types.express_only(dtype) & set(props)):
            entry = props[name]
            assert entry["class"] == "neutral", (dtype, name, entry)
            value = "off" if entry["default"] else "on"
            res = runner.invoke(cli, ["check", side, side, "--device", spec(BY_TYPE[dtype]),
                                      "--dst-global", f"{dtype}.{name}={value}",
                                      "--format", "json"])
            seen += 1
            if not json.loads(res.output)["loads"]:
                wrong.append(f"{dtype}.{name}={value}")
    assert seen >= 100 and not wrong, wrong


# Behind a root port: QEMU's loader checks these (Bad config data), not the others.
CHECKED_BEHIND_PORT = {"x-pcie-flr-init": "off", "ats": "on", "x-pcie-ext-tag": "off"}
UNCHECKED_BEHIND_PORT = {"x-pcie-lnkctl-init": "off", "x-pcie-deverr-init": "off",
                         "x-pcie-pm-init": "off", "x-pcie-extcap-init": "off",
                         "x-pcie-lnksta-dllla": "off", "x-pcie-err-unc-mask": "off",
                         "x-pcie-ari-nextfn-1": "on"}


@pytest.mark.qemu
@pytest.mark.parametrize("release", RELEASES)
def test_behind_a_root_port_the_flags_count(tmp_path: Path, release: str) -> None:
    """Behind a PCIe root port the device has the capability. Each real build refuses the
    default's stream into x-pcie-flr-init=off, ats=on (and 10.0's x-pcie-ext-tag=off), and
    check says it does not load; it loads into the other flags flipped, and check says
    guest-visible (loads, other hardware)."""
    from migcompat.qemu.debian.builds import build
    from qemu_helpers import load_stream, make_stream

    machine, qemu = f"pc-q35-{release}", build(release)
    has = set(measured(release)["devices"]["virtio-net-pci"])
    base = ["-device", "pcie-root-port,id=rp1,chassis=1,bus=pcie.0,addr=0x3",
            "-netdev", "hubport,id=n0,hubid=0", "-device", "virtio-net-pci,netdev=n0,bus=rp1"]
    stream = make_stream(tmp_path, machine, base, qemu=qemu)
    runner = CliRunner()
    tried = 0
    for flags, loads in ((CHECKED_BEHIND_PORT, False), (UNCHECKED_BEHIND_PORT, True)):
        for name, value in flags.items():
            if name not in has:
                continue  # newer than this build
            tried += 1
            option = f"{name}={value}"
            real = load_stream(stream, machine, [*base[:-1], f"{base[-1]},{option}"],
                               qemu=qemu)
            assert real.ok is loads, (option, real.stderr)
            res = runner.invoke(cli, [
                "check", f"{release}:{machine}", f"{release}:{machine}",
                "--device", "pcie-root-port,id=rp1,chassis=1,bus=pcie.0,addr=0x3",
                "--device", "virtio-net-pci,bus=rp1",
                "--dst-global", f"virtio-net-pci.{option}", "--format", "json"])
            verdict = json.loads(res.output)
            assert verdict["loads"] is loads, (option, res.output)
            assert verdict["verdict"] == ("guest-visible" if loads else "incompatible"), option
    assert tried >= 7
