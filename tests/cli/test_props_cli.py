"""The model issue's acceptance, through the real command line."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "migcompat", *args], capture_output=True,
                          text=True)


def props_json(release: str, machine: str, *extra: str) -> dict[str, Any]:
    res = run("props", "--catalog", "tutorial", release, machine,
              "--device", "virtio-blk-pci,id=vb0", "--smp", "4", "--format", "json", *extra)
    assert res.returncode == 0, res.stderr
    doc: dict[str, Any] = json.loads(res.stdout)
    assert doc["schema"] == 1
    return doc


def device(doc: dict[str, Any], dev_id: str) -> dict[str, Any]:
    [dev] = [d for d in doc["devices"] if d["id"] == dev_id]
    return dev


@pytest.mark.parametrize("release,machine,value,source,table", [
    ("qemu-5.2", "pc-5.1", 1, "compat", "hw_compat_5_1"),
    ("qemu-5.2", "pc-5.2", 4, "realize", None),
    ("qemu-5.2", "pc", 4, "realize", None),
    ("qemu-5.1", "pc-5.1", 1, "default", None),
    ("qemu-5.2-broken", "pc-5.1", 4, "realize", None),
])
def test_num_queues_and_who_decided(release: str, machine: str, value: int, source: str,
                                    table: str | None) -> None:
    doc = props_json(release, machine)
    dev = device(doc, "vb0")
    assert dev["type"] == "virtio-blk-pci"
    nq = dev["properties"]["num-queues"]
    assert nq["value"] == value
    last = nq["provenance"][-1]
    assert last["source"] == source
    assert last.get("table") == table
    assert nq["alias"] == "virtio-backend"
    # The child appears as its own entry and holds the same value.
    child = device(doc, "vb0/virtio-backend")
    assert child["type"] == "virtio-blk-device"
    assert child["properties"]["num-queues"]["value"] == value
    assert dev["properties"]["vectors"]["value"] == value + 1


def test_provenance_oldest_first() -> None:
    nq = device(props_json("qemu-5.2", "pc-5.1",
                           "--global", "virtio-blk-device.num-queues=3"),
                "vb0")["properties"]["num-queues"]
    assert [(p["source"], p["value"]) for p in nq["provenance"]] == [
        ("default", 65535), ("compat", 1), ("global", 3)]
    assert nq["provenance"][1]["index"] == 0


def test_explain_text_lists_layers() -> None:
    res = run("props", "qemu-5.2", "pc-5.1", "--device", "virtio-blk-pci,id=vb0", "--smp", "4",
              "--explain")
    assert res.returncode == 0, res.stderr
    assert "1 <- compat hw_compat_5_1[0] (virtio-blk-device)" in res.stdout
    assert "65535 <- default" in res.stdout


def test_text_lists_a_proxied_property_once_on_the_proxy() -> None:
    res = run("props", "qemu-5.2", "pc-5.1", "--device", "virtio-blk-pci,id=vb0")
    assert res.returncode == 0, res.stderr
    rows = [ln.split()[0] for ln in res.stdout.splitlines() if ln.strip()]
    assert rows.count("num-queues") == 1
    [row] = [ln for ln in res.stdout.splitlines() if ln.startswith("num-queues")]
    assert "(alias of virtio-backend)" in row
    header = next(ln for ln in res.stdout.splitlines() if ln.startswith("vb0/virtio-backend"))
    assert "more listed on the proxy" in header


def test_machines_of_51_and_unknown_machine() -> None:
    res = run("machines", "--catalog", "tutorial", "qemu-5.1", "--format", "json")
    names = [m["name"] for m in json.loads(res.stdout)["machines"]]
    assert names == ["pc-5.1"]
    res = run("props", "--catalog", "tutorial", "qemu-5.1", "pc-5.2",
              "--device", "virtio-blk-pci")
    assert res.returncode == 2
    assert "unknown machine type 'pc-5.2'" in res.stderr
    assert "known: pc-5.1" in res.stderr
    assert "Traceback" not in res.stderr


@pytest.mark.parametrize("args,needle", [
    (("props", "qemu-9.9", "pc"), "unknown release 'qemu-9.9'"),
    (("props", "qemu-5.2", "pc", "--device", "virtio-foo-pci"),
     "'virtio-foo-pci' is not a valid device model name"),
    (("props", "qemu-5.2", "pc", "--device", "virtio-blk-pci,nope=1"),
     "Property 'virtio-blk-pci.nope' not found"),
    (("props", "qemu-5.2", "pc", "--device", "virtio-blk-pci",
      "--global", "virtio-blk-device.num-queues=ON"),
     "can't apply global virtio-blk-device.num-queues=ON: Parameter 'num-queues' expects uint64"),
    (("props", "qemu-5.1", "pc", "--device", "u2f-emulated"),
     "'u2f-emulated' is not a valid device model name in release qemu-5.1"),
    (("props", "--catalog", "nosuch", "qemu-5.2", "pc"), "unknown catalog 'nosuch'"),
])
def test_bad_input_one_line_exit_2(args: tuple[str, ...], needle: str) -> None:
    res = run(*args)
    assert res.returncode == 2
    assert needle in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    assert res.stdout == ""


def test_releases_lists_tutorial() -> None:
    res = run("releases", "--catalog", "tutorial", "--format", "json")
    ids = [r["id"] for r in json.loads(res.stdout)["releases"]]
    assert ids == ["qemu-5.1", "qemu-5.2", "qemu-5.2-broken"]


def test_releases_say_where_device_state_comes_from() -> None:
    res = run("releases", "--catalog", "qemu", "--format", "json")
    state = {r["id"]: r["device_state"] for r in json.loads(res.stdout)["releases"]}
    assert state["7.2"].startswith("captured (") and state["10.2"] == "none"
    res = run("releases", "--catalog", "tutorial", "--format", "json")
    assert json.loads(res.stdout)["releases"][0]["device_state"] == "schemas (5)"


def test_python_dash_m_and_help() -> None:
    res = run("--help")
    assert res.returncode == 0 and "Examples:" in res.stdout
    res = run("props", "--help")
    assert "migcompat props qemu-5.2 pc-5.1" in res.stdout
