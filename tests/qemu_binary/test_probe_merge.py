"""Merging a probe into a source import (qemu/binary/merge.py) on small hand-made releases,
and the bundled catalogs against the committed merge report (docs/probe-merge.md)."""

from __future__ import annotations

import copy
import hashlib
import json
import re
from pathlib import Path
from typing import Any

from migcompat.catalog.load import DATA_DIR
from migcompat.qemu.binary.merge import (
    KEPT_BINARY,
    KEPT_IMPORT,
    format_markdown,
    merge_probe,
    release_of,
)
from migcompat.qemu.debian.lock import same_build

REPORT = Path(__file__).resolve().parents[2] / "docs" / "probe-merge.md"


def prop(kind: str = "uint32", **extra: Any) -> dict[str, Any]:
    return {"kind": kind, **extra}


def release(types: dict[str, Any], machines: dict[str, Any] | None = None,
            origin: str = "import-source") -> dict[str, Any]:
    base = {
        "device": {"abstract": True, "properties": {}},
        "pci-device": {"parent": "device", "abstract": True, "properties": {}},
    }
    for body in [*base.values(), *types.values()]:
        body.setdefault("parent", None)
        body.setdefault("interfaces", [])
        body.setdefault("abstract", False)
        body.setdefault("properties", {})
    base["device"]["parent"] = None
    machines = machines or {"pc-i440fx-7.2": {"family": "pc-i440fx", "version": "7.2",
                                              "compat": [], "alias": "pc", "default": True}}
    families = {m["family"]: {"defaults": []} for m in machines.values()}
    return {"format": 1, "id": "7.2", "product": "qemu", "version": "7.2.0",
            "debian_version": "1:7.2+dfsg-1", "origin": origin, "enums": {},
            "types": {**base, **types}, "compat_tables": {}, "families": families,
            "machines": machines}


def qxl_source() -> dict[str, Any]:
    return release({
        "pci-qxl": {"parent": "pci-device", "abstract": True, "properties": {
            "revision": prop(unresolved="QXL_REVISION_STABLE_V12 is not a constant"),
            "ram_size": prop(default=64)}},
        "qxl": {"parent": "pci-qxl"},
        "qxl-vga": {"parent": "pci-qxl"},
    })


def qxl_probe(vga_revision: int = 5) -> dict[str, Any]:
    # the probe attributes a property to the highest type listing it (docs/probe.md)
    return release({
        "pci-qxl": {"parent": "pci-device", "abstract": True, "properties": {
            "revision": prop(default=5), "ram_size": prop(default=64)}},
        "qxl": {"parent": "pci-qxl"},
        "qxl-vga": {"parent": "pci-qxl", "properties": {
            "revision": prop(default=vga_revision)}} if vga_revision != 5 else
        {"parent": "pci-qxl"},
    }, origin="probe")


def test_unresolved_default_is_taken_from_the_binary_on_the_declaring_type() -> None:
    source, probe = qxl_source(), qxl_probe()
    before = copy.deepcopy((source, probe))
    merged, report = merge_probe(source, probe)
    assert (source, probe) == before  # inputs untouched
    entry = merged["types"]["pci-qxl"]["properties"]["revision"]
    assert entry == {"kind": "uint32", "default": 5}
    assert merged["types"]["qxl"]["properties"] == {}
    [d] = report.disagreements
    assert (d.what, d.subject, d.prop, d.source, d.binary, d.kept) == (
        "default", "pci-qxl", "revision", "<unresolved>", 5, KEPT_BINARY)
    assert "could not resolve the default expression" in d.cause
    assert "seen on qxl, qxl-vga" in d.note
    assert report.counts["default disagreements"] == 1
    assert release_of(merged).types.properties("qxl-vga")["revision"].default == 5


def test_types_that_disagree_among_themselves_get_their_own_entries() -> None:
    merged, report = merge_probe(qxl_source(), qxl_probe(vga_revision=4))
    types = merged["types"]
    assert types["qxl"]["properties"]["revision"]["default"] == 5
    assert types["qxl-vga"]["properties"]["revision"]["default"] == 4
    assert "unresolved" in types["pci-qxl"]["properties"]["revision"]  # no single answer
    assert sorted((d.subject, d.binary) for d in report.disagreements) == [
        ("qxl", 5), ("qxl-vga", 4)]


def test_a_resolved_default_that_differs_is_replaced_and_silence_is_not_a_disagreement() -> None:
    source = release({"e1000": {"parent": "pci-device", "properties": {
        "mitigation": prop("bool", default=False), "bootindex": prop("int32", default=-1)}}})
    probe = release({"e1000": {"parent": "pci-device", "properties": {
        "mitigation": prop("bool", default=True), "bootindex": prop("int32")}}})
    merged, report = merge_probe(source, probe)
    props = merged["types"]["e1000"]["properties"]
    assert props["mitigation"]["default"] is True
    assert props["bootindex"]["default"] == -1  # QMP reports none: the import's kept
    [d] = report.disagreements
    assert (d.prop, d.source, d.binary) == ("mitigation", False, True)
    assert "another static default" in d.cause
    assert report.counts["device properties compared"] == 2
    assert report.counts["defaults the binary reports"] == 1
    assert report.not_merged["defaults the binary does not report"][0] == 1


def test_parent_and_abstract_follow_the_binary() -> None:
    source = release({"base": {"parent": "device", "abstract": True},
                      "dev": {"parent": "device"}})
    probe = release({"base": {"parent": "device", "abstract": True},
                     "dev": {"parent": "base", "abstract": False}}, origin="probe")
    merged, report = merge_probe(source, probe)
    assert merged["types"]["dev"]["parent"] == "base"
    [d] = report.disagreements
    assert (d.what, d.subject, d.source, d.binary, d.kept) == (
        "parent", "dev", "device", "base", KEPT_BINARY)


def machine(family: str, version: str, **extra: Any) -> dict[str, Any]:
    return {"family": family, "version": version, "compat": [], **extra}


def test_machine_types_follow_the_binary() -> None:
    source = release({}, {
        "pc-q35-7.2": machine("pc-q35", "7.2", alias="q35"),
        "pc-q35-7.1": machine("pc-q35", "7.1", default=True),
        "pc-q35-2.0": machine("pc-q35", "2.0"),
    })
    probe = release({}, {
        "pc-q35-7.2": machine("pc-q35", "7.2", alias="q35", default=True),
        "pc-q35-7.1": machine("pc-q35", "7.1",
                              deprecated="deprecated (query-machines gives no reason)"),
        "isapc": machine("isapc", "0"),
        "xenfv-4.2": machine("xenfv", "4.2", alias="xenfv"),
    }, origin="probe")
    merged, report = merge_probe(source, probe)
    ms = merged["machines"]
    assert set(ms) == {"pc-q35-7.2", "pc-q35-7.1", "isapc"}
    assert ms["pc-q35-7.2"]["default"] is True and ms["pc-q35-7.1"]["default"] is False
    assert ms["pc-q35-7.1"]["deprecated"].startswith("deprecated")
    assert merged["families"]["isapc"] == {"defaults": []}
    kept = {(d.what, d.subject): d.kept for d in report.disagreements}
    assert kept == {
        ("machine", "isapc"): KEPT_BINARY,  # unversioned: no compat table applies
        ("machine", "xenfv-4.2"): KEPT_IMPORT,  # compat list unknown before QEMU 9.1
        ("machine", "pc-q35-2.0"): KEPT_BINARY,  # removed
        ("default-machine", "pc-q35-7.1"): KEPT_BINARY,
        ("default-machine", "pc-q35-7.2"): KEPT_BINARY,
        ("deprecated", "pc-q35-7.1"): KEPT_BINARY,
    }
    rel = release_of(merged)
    assert rel.machines.default() is not None and rel.machines.default().name == "pc-q35-7.2"


def test_report_lists_every_disagreement_and_the_digest() -> None:
    _, report = merge_probe(qxl_source(), qxl_probe())
    text = format_markdown([report], {"7.2": "system"}, {"7.2": "0123456789abcdef"}, ["10.2"])
    assert "| 7.2 | system (1:7.2+dfsg-1) |" in text
    assert "| 10.2 | none: source import only |" in text
    assert "sha256 `0123456789abcdef`" in text
    assert "| default | `pci-qxl` | revision | <unresolved> | 5 |" in text


def test_same_build_ignores_a_binnmu() -> None:
    assert same_build("1:7.2+dfsg-7+deb12u18+b3", "1:7.2+dfsg-7+deb12u18")
    assert not same_build("1:7.2+dfsg-7+deb12u17", "1:7.2+dfsg-7+deb12u18")


def test_bundled_catalogs_are_the_ones_the_merge_report_describes() -> None:
    """docs/probe-merge.md is written with the catalogs (tools/build_catalogs.py): rebuilding
    them without the probe merge, or without writing the report, fails here."""
    text = REPORT.read_text(encoding="utf-8")
    sections = dict(re.findall(r"^## (\S+)\n\nBundled file `\S+`, sha256 `([0-9a-f]{16})`",
                               text, re.M))
    assert set(sections) == {"5.2", "7.2", "10.0"}
    for rid, digest in sections.items():
        path = DATA_DIR / "qemu" / f"{rid}.json"
        assert hashlib.sha256(path.read_bytes()).hexdigest()[:16] == digest, (
            f"{path.name} changed since docs/probe-merge.md was written: run `make catalogs`")
        origin = json.loads(path.read_text(encoding="utf-8"))["origin"]
        assert "probe" in origin, origin
