"""Pure pieces of analyze/rewrite/validate: paths, PCI config masks, the vmdesc marker."""

from __future__ import annotations

import json
import struct

import pytest

from migcompat.analysis.stream_tools.layout import leaves, set_path, state_size
from migcompat.analysis.stream_tools.pciconfig import check_config, masks, virtio_pci_config
from migcompat.analysis.stream_tools.rewrite import parse_page, parse_set
from migcompat.analysis.stream_tools.validate import machine_sends_configuration
from migcompat.errors import SchemaFileError, UsageError
from migcompat.stream.vmdesc import find_vmdesc, locate_vmdesc
from migcompat.vmstate import VMStateData, encode_state, vmsd_from_dict
from migcompat.vmstate.layouts import parse_schema_json, vmsd_name_of

DEV = vmsd_from_dict({
    "name": "dev", "version_id": 1,
    "fields": [
        {"name": "env.regs", "type": "uint64", "count": 4},
        {"name": "cur_offset[1]", "type": "uint32"},
        {"name": "flag", "type": "bool"},
        {"name": "buf", "type": "buffer", "size": 4},
        {"name": "s", "type": "struct", "count": 2,
         "struct": {"name": "inner", "version_id": 1, "fields": [{"name": "a", "type": "int8"}],
                    "subsections": [{"name": "inner/x", "version_id": 3,
                                     "fields": [{"name": "b", "type": "uint16"}]}]}},
    ],
    "subsections": [{"name": "dev/sub", "version_id": 2,
                     "fields": [{"name": "c", "type": "uint32"}]}],
})


def state() -> VMStateData:
    inner = DEV.fields[4].struct
    assert inner is not None and inner.subsections
    x = VMStateData(inner.subsections[0], 3, (("b", 7),))
    elems = (VMStateData(inner, 1, (("a", -1),)), VMStateData(inner, 1, (("a", 2),), (x,)))
    return VMStateData(DEV, 1, (("env.regs", (1, 2, 3, 4)), ("cur_offset[1]", 5),
                                ("flag", True), ("buf", b"abcd"), ("s", elems)),
                       (VMStateData(DEV.subsections[0], 2, (("c", 9),)),))


def test_leaves_match_the_encoding() -> None:
    st = state()
    raw = encode_state(st)
    assert state_size(st) == len(raw)
    for leaf in leaves(st, 100):
        if leaf.info == "subsection":
            assert raw[leaf.offset - 100] == 0x05
            continue
        if leaf.info == "uint32" and leaf.path == "cur_offset[1]":
            assert raw[leaf.offset - 100:leaf.offset - 96] == struct.pack(">I", 5)
    paths = [leaf.path for leaf in leaves(st, 0)]
    assert paths == ["env.regs", "cur_offset[1]", "flag", "buf", "s[0].a", "s[1].a",
                     "s[1].inner/x", "s[1].inner/x.b", "dev/sub", "dev/sub.c"]


@pytest.mark.parametrize(("path", "text", "old", "new"), [
    ("env.regs[2]", "0x30", 3, 0x30),
    ("env.regs", "9,8,7,6", (1, 2, 3, 4), (9, 8, 7, 6)),
    ("cur_offset[1]", "17", 5, 17),
    ("flag", "off", True, False),
    ("buf", "hex:01020304", b"abcd", b"\x01\x02\x03\x04"),
    ("buf[1]", "0x7a", ord("b"), 0x7A),
    ("s[1].a", "-5", 2, -5),
    ("s[1].inner/x.b", "65535", 7, 65535),
    ("dev/sub.c", "1", 9, 1),
])
def test_set_path(path: str, text: str, old: object, new: object) -> None:
    changed, got_old, got_new = set_path(state(), path, text)
    assert (got_old, got_new) == (old, new)
    assert len(encode_state(changed)) == len(encode_state(state()))


@pytest.mark.parametrize(("path", "text", "message"), [
    ("nosuch", "1", "no field or subsection"),
    ("env.regs[9]", "1", "out of range"),
    ("buf", "0102", "2 bytes given"),
    ("flag", "maybe", "not a boolean"),
    ("s", "1", "struct cannot be set"),
    ("dev/sub", "1", "subsection cannot be set"),
    ("env.regs[1", "1", "unclosed"),
])
def test_set_path_errors(path: str, text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        set_path(state(), path, text)


def test_edit_specs() -> None:
    edit = parse_set("0000:00:01.0/virtio-blk@0.virtio=00")
    assert edit.match("0000:00:01.0/virtio-blk", 0) == "virtio"
    assert edit.match("0000:00:01.0/virtio-blk", 1) is None
    assert parse_set("cpu.env.regs[0]=1").match("cpu", 0) == "env.regs[0]"
    assert parse_set("cpu.env.regs[0]=1").match("cpu_common", 0) is None
    page = parse_page("0000:00:02.0/e1000.rom:0x1000=hex:ff", lambda p: b"")
    assert (page.block, page.offset, page.data[:2]) == ("0000:00:02.0/e1000.rom", 0x1000,
                                                        b"\xff\x00")
    assert parse_page("pc.ram:0=@f", lambda p: b"x" * 10).data == b"x" * 10 + bytes(4086)
    for bad in ("pc.ram=fill:1", "pc.ram:0=fill:256", "pc.ram:0=zzz", "pc.ram:1=fill:0"):
        with pytest.raises(UsageError):
            parse_page(bad, lambda p: b"")
    with pytest.raises(UsageError):
        parse_set("noequals")


def test_vmdesc_marker_with_0x06_in_its_length() -> None:
    body = b"QEVM" + bytes(40) + b"\x06\x06"  # 0x06 bytes before the EOF
    for length in (0x06F9, 0x0606, 0x06, 0x060606):
        js = b"{" + b" " * (length - 2) + b"}"
        data = body + b"\x00\x06" + struct.pack(">I", length) + js
        marker = len(body) + 1
        assert locate_vmdesc(lambda n, d=data: d[len(d) - n:], len(data)) == (marker, length)
        found = find_vmdesc(data)
        assert found is not None and found[0] == marker
    no = body + b"\x00"
    assert locate_vmdesc(lambda n: no[len(no) - n:], len(no)) is None


def test_vmdesc_search_is_bounded() -> None:
    reads: list[int] = []
    data = b"QEVM" + bytes(1 << 20)

    def tail(n: int) -> bytes:
        reads.append(n)
        return data[len(data) - n:]

    assert locate_vmdesc(tail, len(data), limit=1 << 16) is None
    assert max(reads) <= (1 << 16) + 6


def pci_config() -> bytes:
    cfg = bytearray(256)
    cfg[0:4] = b"\xf4\x1a\x01\x10"
    cfg[0x34] = 0x98
    cfg[0x98:0xA4] = bytes([0x11, 0x84, 0x01, 0x00, 1, 0, 0, 0, 1, 8, 0, 0])  # MSI-X
    cfg[0x84:0x88] = bytes([0x09, 0x70, 0x14, 0x05])  # virtio PCI cfg access capability
    cfg[0x70:0x74] = bytes([0x09, 0x00, 0x10, 0x01])
    return bytes(cfg)


def test_pci_masks_and_check() -> None:
    cfg = pci_config()
    cmask, wmask, _ = masks(cfg)
    assert cmask[0x9A] == 0xFF and wmask[0x9A] == 0 and wmask[0x9B] == 0xC0
    assert wmask[0x84 + 8] == 0xFF and cmask[0x84 + 3] == 0xFF
    assert cmask[0x10] == 0  # BARs are not checked
    changed = bytearray(cfg)
    changed[0x9B] |= 0x80  # MSI-X enabled by the guest: writable, accepted
    changed[0x04] = 0x07  # command register: writable
    assert check_config(bytes(changed), cfg) is None
    changed[0x9A] = 3
    bad = check_config(bytes(changed), cfg)
    assert bad is not None and bad.message() == (
        "get_pci_config_device: Bad config data: i=0x9a read: 3 device: 1 cmask: ff "
        "wmask: 0 w1cmask:0")
    blob = struct.pack(">I", 2) + cfg + bytes(16)
    assert virtio_pci_config(blob) == (4, cfg)
    assert virtio_pci_config(b"\0" * 300) is None


def test_schema_files() -> None:
    dump = {"vmschkmachine": {"Name": "pc-q35-7.2"}, "fw_cfg_io": {
        "Name": "fw_cfg_io", "version_id": 1, "minimum_version_id": 1,
        "Description": {"name": "fw_cfg", "version_id": 2, "minimum_version_id": 1,
                        "Fields": [{"field": "cur_entry", "version_id": 0,
                                    "field_exists": False, "size": 2}]}}}
    src = parse_schema_json(json.dumps(dump).encode(), "d.json")
    assert src.kind == "dump" and src.dump is not None and src.dump.machine == "pc-q35-7.2"
    vmsd = src.resolver("fw_cfg", 0, 2)
    assert vmsd is not None and vmsd.fields[0].size == 2
    desc = {"page_size": 4096, "devices": [{"name": "timer", "instance_id": 0,
                                            "vmsd_name": "timer", "version": 2, "fields": []}]}
    src = parse_schema_json(json.dumps(desc).encode(), "desc.json")
    assert src.kind == "vmdesc" and src.resolver("timer", 0, 2) is not None
    for bad in (b"[]", b"{}", b"not json", b"[" * 100000):
        with pytest.raises(SchemaFileError):
            parse_schema_json(bad, "x")
    assert vmsd_name_of("0000:00:1f.0/ICH9LPC") == "ICH9LPC"
    assert machine_sends_configuration("pc-i440fx-2.3") is False
    assert machine_sends_configuration("pc-q35-7.2") is True
    assert machine_sends_configuration("microvm") is None
