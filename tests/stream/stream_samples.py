"""A small, hand-built stream that exercises every framing element (used by many tests)."""

from __future__ import annotations

from migcompat.stream import (
    EOF,
    Configuration,
    Footer,
    Header,
    MemSize,
    Page,
    RamBlockInfo,
    RamEOS,
    SectionEnd,
    SectionFull,
    SectionPart,
    SectionStart,
    SectionState,
    VMDescription,
    ZeroPage,
    encode_events,
)
from migcompat.vmstate import VMStateData, VMStateDescription, vmsd_from_dict

TIMER = vmsd_from_dict(
    {
        "name": "timer",
        "version_id": 2,
        "minimum_version_id": 1,
        "fields": [
            {"name": "cpu_ticks_offset", "type": "int64"},
            {"name": "dummy", "type": "int64"},
            {"name": "cpu_clock_offset", "type": "int64", "version_id": 2},
        ],
    }
)

DEV = vmsd_from_dict(
    {
        "name": "dev",
        "version_id": 3,
        "minimum_version_id": 2,
        "fields": [
            {"name": "n", "type": "uint8"},
            {"name": "arr", "type": "uint16", "count": {"field": "n"}},
            {"name": "config", "type": "pci config", "size": 8},
            {"name": "flag", "type": "bool"},
            {"name": "queues", "type": "uint32", "count": {"property": "num-queues"}},
            {
                "name": "inner",
                "type": "struct",
                "struct": {
                    "name": "inner",
                    "version_id": 1,
                    "fields": [
                        {"name": "a", "type": "uint32"},
                        {"name": "version", "type": "int32 le", "local": 2},
                    ],
                    "subsections": [
                        {
                            "name": "inner/sub",
                            "version_id": 1,
                            "needed": "always",
                            "fields": [{"name": "s", "type": "uint8"}],
                        }
                    ],
                },
            },
            {"name": "magic", "type": "uint32 equal", "local": 0x1234},
        ],
        "subsections": [
            {
                "name": "dev/extra",
                "version_id": 1,
                "minimum_version_id": 1,
                "needed": {"property": "x-extra", "equals": True},
                "fields": [{"name": "x", "type": "uint64"}],
            },
            {
                "name": "dev/other",
                "version_id": 1,
                "needed": "never",
                "fields": [{"name": "y", "type": "uint8"}],
            },
        ],
    }
)
PROPERTIES = {"num-queues": 2, "x-extra": True}
SCHEMAS: dict[tuple[str, int], VMStateDescription] = {
    ("timer", 0): TIMER,
    ("0000:00:01.0/dev", 0): DEV,
}


def resolver(idstr: str, instance_id: int, version_id: int) -> object:
    from migcompat.vmstate import SectionSchema

    vmsd = SCHEMAS.get((idstr, instance_id))
    return None if vmsd is None else SectionSchema(vmsd, PROPERTIES)


def _inner() -> VMStateData:
    inner = DEV.field_named("inner")
    assert inner is not None and inner.struct is not None
    sub = inner.struct.subsection("inner/sub")
    assert sub is not None
    return VMStateData(
        inner.struct, 1, (("a", 7), ("version", 2)), (VMStateData(sub, 1, (("s", 9),)),)
    )


def dev_state(version: int = 3) -> VMStateData:
    extra = DEV.subsection("dev/extra")
    assert extra is not None
    values = (
        ("n", 2),
        ("arr", (0xBEEF, 1)),
        ("config", bytes(range(8))),
        ("flag", True),
        ("queues", (10, 11)),
        ("inner", _inner()),
        ("magic", 0x1234),
    )
    return VMStateData(DEV, version, values, (VMStateData(extra, 1, (("x", 1 << 40),)),))


TIMER_STATE = VMStateData(
    TIMER, 2, (("cpu_ticks_offset", -5), ("dummy", 0), ("cpu_clock_offset", 99))
)
PAGE_A = bytes(range(256)) * 16
PAGE_B = b"\xaa" * 4096

SAMPLE_EVENTS = (
    Header(),
    Configuration("pc-q35-7.2"),
    SectionStart(2, "ram", 0, 4),
    MemSize(0x5000, (RamBlockInfo("pc.ram", 0x4000), RamBlockInfo("/rom@etc/acpi/tables", 0x1000))),
    RamEOS(),
    Footer(2),
    SectionPart(2),
    ZeroPage("pc.ram", 0, 0, False),
    Page("pc.ram", 0x1000, PAGE_A, True),
    ZeroPage("pc.ram", 0x2000, 0, True),
    Page("pc.ram", 0x3000, PAGE_B, True),
    Page("/rom@etc/acpi/tables", 0, PAGE_B, False),
    RamEOS(),
    Footer(2),
    SectionEnd(2),
    RamEOS(),
    Footer(2),
    SectionFull(0, "timer", 0, 2),
    SectionState(TIMER_STATE),
    Footer(0),
    SectionFull(47, "0000:00:01.0/dev", 0, 3),
    SectionState(dev_state()),
    Footer(47),
    EOF(),
    VMDescription.from_json({"page_size": 4096, "devices": []}),
)


def sample_bytes() -> bytes:
    return encode_events(SAMPLE_EVENTS)


def eof_offset(data: bytes) -> int:
    """The offset of the EOF byte (the vmdesc marker follows it)."""
    return data.rindex(b"\x00\x06")
