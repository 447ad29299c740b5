"""Loader: QEMU's load checks and their texts, RAM storage, vmdesc leniency."""

from __future__ import annotations

import dataclasses

import pytest
from stream_samples import DEV, PAGE_A, PAGE_B, PROPERTIES, SAMPLE_EVENTS, eof_offset, resolver

from migcompat.errors import StreamError
from migcompat.stream import (
    Destination,
    Loader,
    RamBlock,
    SectionFull,
    SectionState,
    encode_events,
    load_stream,
)
from migcompat.vmstate import SectionSchema, VMStateDescription

BLOCKS = (RamBlock("pc.ram", 0x4000), RamBlock("/rom@etc/acpi/tables", 0x1000))
DEST = Destination(resolver, machine="pc-q35-7.2", ram_blocks=BLOCKS)  # type: ignore[arg-type]


def load_error(data: bytes, dest: Destination = DEST) -> StreamError:
    with pytest.raises(StreamError) as info:
        load_stream(data, dest)
    return info.value


def test_loads_sample(sample: bytes) -> None:
    state = load_stream(sample, DEST)
    assert state.machine == "pc-q35-7.2"
    assert state.warnings == []
    assert state.ram["pc.ram"][0x1000:0x2000] == PAGE_A
    assert state.ram["pc.ram"][0x3000:0x4000] == PAGE_B
    assert state.ram["/rom@etc/acpi/tables"] == bytearray(PAGE_B)
    assert (state.pages, state.zero_pages) == (3, 2)
    dev = state.sections[("0000:00:01.0/dev", 0)]
    assert dev["queues"] == (10, 11)
    extra = dev.subsection("dev/extra")
    assert extra is not None and extra["x"] == 1 << 40
    assert state.bytes_read == len(sample)


def test_sparse_ram(sample: bytes) -> None:
    state = load_stream(sample, DEST, ram="sparse")
    assert set(state.ram_pages["pc.ram"]) == {0x1000, 0x3000}
    assert bytes(state.ram_pages["pc.ram"][0x1000]) == PAGE_A


def test_fed_byte_by_byte(sample: bytes) -> None:
    loader = Loader(DEST)
    for i in range(len(sample)):
        loader.feed(sample[i : i + 1])
    state = loader.close()
    assert state.ram["pc.ram"][0x1000:0x2000] == PAGE_A


def test_machine_type_is_compared_exactly(sample: bytes) -> None:
    err = load_error(sample, dataclasses.replace(DEST, machine="pc-q35-7.2x"))
    assert err.message == "Machine type received is 'pc-q35-7.2' and local is 'pc-q35-7.2x'"


def test_ram_block_checks(sample: bytes) -> None:
    bigger = (RamBlock("pc.ram", 0x8000), BLOCKS[1])
    err = load_error(sample, dataclasses.replace(DEST, ram_blocks=bigger))
    assert err.message == "Size mismatch: pc.ram: 0x4000 != 0x8000: Invalid argument"
    resizable = (RamBlock("pc.ram", 0x8000, max_length=0x10000), BLOCKS[1])
    assert load_stream(sample, dataclasses.replace(DEST, ram_blocks=resizable)).warnings == []
    err = load_error(sample, dataclasses.replace(DEST, ram_blocks=BLOCKS[:1]))
    assert err.message == 'Unknown ramblock "/rom@etc/acpi/tables", cannot accept migration'


def test_illegal_ram_offset() -> None:
    from migcompat.stream import MemSize, Page, RamBlockInfo

    events = list(SAMPLE_EVENTS)
    i = events.index(
        MemSize(
            0x5000, (RamBlockInfo("pc.ram", 0x4000), RamBlockInfo("/rom@etc/acpi/tables", 0x1000))
        )
    )
    j = next(k for k, e in enumerate(events) if isinstance(e, Page) and e.offset == 0x3000)
    events[j] = Page("pc.ram", 0x4000, PAGE_B, True)
    data = encode_events(events)
    err = load_error(data)
    assert err.message == "Illegal RAM offset 4000"
    assert err.offset == data.index(PAGE_B) - 8
    assert i < j


def test_unknown_section_and_instance(sample: bytes) -> None:
    err = load_error(sample, dataclasses.replace(DEST, sections=[("timer", 0)]))
    assert err.message.startswith(
        "Unknown savevm section or instance '0000:00:01.0/dev' 0. Make sure that your current VM"
    )
    assert err.offset == sample.index(b"\x04\x00\x00\x00\x2f")


def test_extra_device_on_destination_is_fine(sample: bytes) -> None:
    dest = dataclasses.replace(DEST, sections=[("timer", 0), ("0000:00:01.0/dev", 0), ("x", 0)])
    assert load_stream(sample, dest).warnings == []


def with_dev_schema(
    vmsd: VMStateDescription, props: dict[str, object] | None = None
) -> Destination:
    def res(idstr: str, inst: int, version: int) -> object:
        if idstr == "0000:00:01.0/dev":
            return SectionSchema(vmsd, PROPERTIES if props is None else props)
        return resolver(idstr, inst, version)

    return dataclasses.replace(DEST, resolver=res)  # type: ignore[arg-type]


def test_version_too_new_and_too_old(sample: bytes) -> None:
    err = load_error(
        sample, with_dev_schema(dataclasses.replace(DEV, version_id=2, minimum_version_id=1))
    )
    assert err.message == "savevm: unsupported version 3 for '0000:00:01.0/dev' v2"
    err = load_error(
        sample, with_dev_schema(dataclasses.replace(DEV, version_id=5, minimum_version_id=4))
    )
    assert err.message == "dev: incoming version_id 3 is too old for local minimum version_id  4"


def test_equal_check_uses_qemu_text(sample: bytes) -> None:
    magic = DEV.field_named("magic")
    assert magic is not None
    fields = tuple(dataclasses.replace(f, local=0x99) if f is magic else f for f in DEV.fields)
    err = load_error(sample, with_dev_schema(dataclasses.replace(DEV, fields=fields)))
    assert err.message == "99 != 1234"
    assert err.field == "dev:magic"
    assert err.section == "0000:00:01.0/dev"


def test_count_from_property_mismatch_fails(sample: bytes) -> None:
    # num-queues 3 on the destination reads one element too many: everything after shifts.
    with pytest.raises(StreamError):
        load_stream(sample, with_dev_schema(DEV, {"num-queues": 3, "x-extra": True}))


def test_unknown_subsection_is_fatal_missing_is_fine(sample: bytes) -> None:
    without = dataclasses.replace(DEV, subsections=DEV.subsections[1:])
    err = load_error(sample, with_dev_schema(without))
    assert "unknown subsection 'dev/extra'" in err.message
    assert err.message.startswith("error while loading state for instance 0x0 of device")
    events = [
        SectionState(dataclasses.replace(e.state, subsections=()))
        if isinstance(e, SectionState) and e.state.name == "dev"
        else e
        for e in SAMPLE_EVENTS
    ]
    state = load_stream(encode_events(events), DEST)
    assert state.sections[("0000:00:01.0/dev", 0)].subsections == ()


def test_vmdesc_missing_or_cut_only_warns(sample: bytes) -> None:
    end = eof_offset(sample) + 1
    state = load_stream(sample[:end], DEST)
    assert state.warnings == ["Expected vmdescription section, but got 0"]
    state = load_stream(sample[:end] + b"\x42", DEST)
    assert state.warnings == ["Expected vmdescription section, but got 66"]
    for cut in range(end + 1, len(sample)):
        state = load_stream(sample[:cut], DEST)
        assert len(state.warnings) == 1 and "vmdesc" in state.warnings[0]
        assert state.sections  # the device state loaded


def test_cut_before_eof_fails_with_offset(sample: bytes) -> None:
    end = eof_offset(sample)
    for cut in range(0, end + 1, 7):
        err = load_error(sample[:cut])
        assert err.offset == cut


def test_ram_section_version() -> None:
    events = [SectionFull(2, "ram", 0, 5) if e == SAMPLE_EVENTS[2] else e for e in SAMPLE_EVENTS]
    from migcompat.stream import SectionStart

    events = [
        SectionStart(2, "ram", 0, 5) if isinstance(e, SectionFull) and e.idstr == "ram" else e
        for e in events
    ]
    err = load_error(encode_events(events))
    assert "device 'ram'" in err.message
