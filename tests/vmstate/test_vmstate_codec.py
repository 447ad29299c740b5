"""Field codec: QEMU's load semantics, NeedData on every prefix, hypothesis round-trips."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from migcompat.errors import StreamError
from migcompat.vmstate import (
    DecodeContext,
    EncodeError,
    NeedData,
    VMStateData,
    decode_section,
    decode_state,
    encode_state,
    vmsd_from_dict,
)

DEV = vmsd_from_dict(
    {
        "name": "fw_cfg",
        "version_id": 2,
        "minimum_version_id": 1,
        "fields": [
            {"name": "cur_entry", "type": "uint16"},
            {"name": "old", "type": "uint32", "version_id": 2},
            {"name": "gated", "type": "uint8", "exists": {"property": "x-gated", "equals": True}},
            {"name": "len", "type": "uint8"},
            {"name": "data", "type": "buffer", "size": {"field": "len"}},
            {"name": "le", "type": "int32 le", "local": 2},
        ],
        "subsections": [
            {
                "name": "fw_cfg/dma",
                "version_id": 0,
                "fields": [{"name": "dma_addr", "type": "uint64"}],
            },
            {
                "name": "fw_cfg/acpi_mr",
                "version_id": 1,
                "minimum_version_id": 1,
                "fields": [{"name": "size", "type": "uint64"}],
            },
        ],
    }
)
PROPS = {"x-gated": True}
BODY = (
    struct.pack(">HIBB", 1, 2, 3, 3)
    + b"abc"
    + struct.pack(">i", 2)
    + b"\x05\x0afw_cfg/dma"
    + struct.pack(">IQ", 0, 0x1000)
    + b"\x05\x0efw_cfg/acpi_mr"
    + struct.pack(">IQ", 1, 0x20000)
)


def ctx(**props: object) -> DecodeContext:
    return DecodeContext(props or PROPS, section="fw_cfg")


def test_decode_and_encode() -> None:
    data, end = decode_section(DEV, "fw_cfg", 2, BODY + b"\x7e", 0, ctx())
    assert end == len(BODY)
    assert dict(zip(data, (data[k] for k in data), strict=True)) == {
        "cur_entry": 1,
        "old": 2,
        "gated": 3,
        "len": 3,
        "data": b"abc",
        "le": 2,
    }
    assert [s.name for s in data.subsections] == ["fw_cfg/dma", "fw_cfg/acpi_mr"]
    assert encode_state(data) == BODY


def test_every_prefix_needs_data() -> None:
    for cut in range(len(BODY) + 1):
        with pytest.raises(NeedData) as info:
            decode_section(DEV, "fw_cfg", 2, BODY[:cut], 0, ctx())
        assert info.value.upto > cut


def test_version_gating_and_field_exists() -> None:
    body = struct.pack(">HB", 1, 0) + struct.pack(">i", 0) + b"\x00"
    data, _ = decode_section(DEV, "fw_cfg", 1, body, 0, ctx(**{"x-gated": False}))
    assert "old" not in data and "gated" not in data
    assert encode_state(data) + b"\x00" == body


def test_version_errors() -> None:
    with pytest.raises(StreamError) as info:
        decode_section(DEV, "fw_cfg", 3, BODY, 0, ctx())
    assert info.value.message == "savevm: unsupported version 3 for 'fw_cfg' v2"
    with pytest.raises(StreamError) as info:
        decode_section(DEV, "fw_cfg", 0, BODY, 0, ctx())
    assert info.value.message == (
        "fw_cfg: incoming version_id 0 is too old for local minimum version_id  1"
    )


def test_subsection_rules() -> None:
    head = BODY[: BODY.index(b"\x05")]
    # Too new.
    body = head + b"\x05\x0efw_cfg/acpi_mr" + struct.pack(">IQ", 2, 0) + b"\x7e"
    with pytest.raises(StreamError) as info:
        decode_section(DEV, "fw_cfg", 2, body, 0, ctx())
    assert info.value.message == (
        "fw_cfg/acpi_mr: incoming version_id 2 is too new for local version_id 1"
    )
    # Unknown with the parent prefix: fatal.
    body = head + b"\x05\x0afw_cfg/xyz" + struct.pack(">I", 0) + b"\x7e"
    with pytest.raises(StreamError) as info:
        decode_section(DEV, "fw_cfg", 2, body, 0, ctx())
    assert info.value.field == "fw_cfg/xyz" and info.value.offset == len(head)
    # Another prefix: left for the caller (QEMU then fails on the footer).
    body = head + b"\x05\x05othe/" + b"\x7e"
    data, end = decode_section(DEV, "fw_cfg", 2, body, 0, ctx())
    assert end == len(head) and data.subsections == ()


def test_le_check() -> None:
    body = BODY.replace(struct.pack(">i", 2) + b"\x05", struct.pack(">i", 3) + b"\x05", 1)
    with pytest.raises(StreamError) as info:
        decode_section(DEV, "fw_cfg", 2, body, 0, ctx())
    assert info.value.message == "Invalid value 3 expecting positive value <= 2"
    assert info.value.field == "fw_cfg:le"


def test_encode_rejects_bad_values() -> None:
    data, _ = decode_section(DEV, "fw_cfg", 2, BODY + b"\x7e", 0, ctx())
    bad = VMStateData(DEV, 2, (("cur_entry", 1 << 16),))
    with pytest.raises(EncodeError):
        encode_state(bad)
    wrong_len = VMStateData(DEV, 2, tuple((k, b"abcd" if k == "data" else data[k]) for k in data))
    with pytest.raises(EncodeError):
        encode_state(wrong_len)
    with pytest.raises(EncodeError):
        encode_state(VMStateData(DEV, 2, (("nope", 1),)))


ARRAYS = vmsd_from_dict(
    {
        "name": "arrays",
        "version_id": 1,
        "fields": [
            {"name": "n", "type": "uint32"},
            {"name": "i8", "type": "int8", "count": {"field": "n"}},
            {"name": "u64", "type": "uint64", "count": 2},
            {"name": "b", "type": "bool", "count": 3},
            {"name": "t", "type": "timer"},
            {"name": "blobs", "type": "virtio", "size": 3, "count": 2},
            {
                "name": "s",
                "type": "struct",
                "count": {"property": "k"},
                "struct": {
                    "name": "elt",
                    "version_id": 1,
                    "fields": [{"name": "v", "type": "int16"}],
                },
            },
        ],
    }
)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.integers(-128, 127), max_size=10),
    st.tuples(st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1)),
    st.tuples(st.booleans(), st.booleans(), st.booleans()),
    st.integers(-(2**63), 2**63 - 1),
    st.tuples(st.binary(min_size=3, max_size=3), st.binary(min_size=3, max_size=3)),
    # Elements must not start with 0x05: QEMU peeks for a subsection after each struct.
    st.lists(st.integers(-1024, 1023), max_size=5),
)
def test_round_trip(
    i8: list[int],
    u64: tuple[int, int],
    b: tuple[bool, bool, bool],
    t: int,
    blobs: tuple[bytes, bytes],
    shorts: list[int],
) -> None:
    elt = ARRAYS.fields[-1].struct
    assert elt is not None
    structs = tuple(VMStateData(elt, 1, (("v", v),)) for v in shorts)
    data = VMStateData(
        ARRAYS,
        1,
        (
            ("n", len(i8)),
            ("i8", tuple(i8)),
            ("u64", u64),
            ("b", b),
            ("t", t),
            ("blobs", blobs),
            ("s", structs),
        ),
    )
    raw = encode_state(data)
    back, end = decode_state(ARRAYS, 1, raw + b"\x00", 0, DecodeContext({"k": len(shorts)}))
    assert back == data and end == len(raw)
