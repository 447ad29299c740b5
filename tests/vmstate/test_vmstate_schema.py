"""Schemas from catalog dicts, from a stream's vmdesc and from -dump-vmstate; rules."""

from __future__ import annotations

import pytest

from migcompat.errors import CatalogError
from migcompat.vmstate import (
    FromField,
    FromProperty,
    RuleContext,
    RuleError,
    rule_from_data,
    schemas_from_dump,
    schemas_from_vmdesc,
    vmsd_from_dict,
    vmsd_to_dict,
)

VIRTIO_BLK = {
    "name": "virtio-blk",
    "version_id": 2,
    "minimum_version_id": 2,
    "fields": [
        {"name": "num_queues", "type": "uint16"},
        {
            "name": "queues",
            "type": "struct",
            "count": {"property": "num-queues"},
            "struct": {
                "name": "virtio-blk/queue",
                "version_id": 1,
                "fields": [{"name": "desc", "type": "uint64"}],
            },
        },
        {"name": "config_len", "type": "uint32"},
        {"name": "config", "type": "buffer", "size": {"field": "config_len"}},
        {"name": "cfg", "type": "pci config", "size": 256, "version_id": 2},
        {"name": "check", "type": "uint32 equal", "local": {"property": "num-queues"}},
    ],
    "subsections": [
        {
            "name": "virtio-blk/feature",
            "version_id": 1,
            "needed": {"property": "x-feature", "equals": True},
            "fields": [{"name": "f", "type": "bool", "exists": {"field": "f0", "nonzero": True}}],
        }
    ],
}


def test_catalog_dict_builds_and_round_trips() -> None:
    vmsd = vmsd_from_dict(VIRTIO_BLK)
    queues = vmsd.field_named("queues")
    assert queues is not None and queues.count == FromProperty("num-queues")
    config = vmsd.field_named("config")
    assert config is not None and config.size == FromField("config_len")
    assert vmsd.subsections[0].needed.evaluate(RuleContext({"x-feature": "on"}))
    assert vmsd_from_dict(vmsd_to_dict(vmsd)) == vmsd


def test_catalog_dict_reports_every_problem_with_its_path() -> None:
    bad = {
        "name": "dev",
        "version_id": 1,
        "minimum_version_id": 3,
        "feilds": [],
        "fields": [
            {"name": "a", "type": "uint23"},
            {"name": "b", "type": "buffer"},
            {"name": "c", "type": "uint8", "count": {"field": "later"}},
            {"name": "later", "type": "uint8"},
            {"name": "s", "type": "struct"},
        ],
        "subsections": [{"name": "other/x", "version_id": 1, "needed": {"property": "p"}}],
    }
    with pytest.raises(CatalogError) as info:
        vmsd_from_dict(bad, "$.releases['7.2'].vmstate['dev']", file="qemu.toml")
    problems = {
        (p.path.removeprefix("$.releases['7.2'].vmstate['dev']"), p.code)
        for p in info.value.problems
    }
    assert (".feilds", "unknown-key") in problems
    assert (".minimum_version_id", "version") in problems
    assert (".fields[0].type", "unknown-type") in problems
    assert (".fields[1].size", "missing") in problems
    assert (".fields[2].count.field", "count-field") in problems
    assert (".fields[4].struct", "missing") in problems
    assert (".subsections[0].name", "subsection-name") in problems
    assert (".subsections[0].needed", "rule") in problems
    hints = {p.hint for p in info.value.problems}
    assert "did you mean 'fields'?" in hints and "did you mean 'uint32'?" in hints
    assert all(p.file == "qemu.toml" for p in info.value.problems)


@pytest.mark.parametrize(
    ("rule", "ctx", "expected"),
    [
        ("always", RuleContext(), True),
        ("never", RuleContext(), False),
        ({"property": "p", "equals": 4}, RuleContext({"p": "4"}), True),
        ({"property": "p", "nonzero": True}, RuleContext({"p": 0}), False),
        ({"field": "f", "equals": 1}, RuleContext(fields={"f": 1}), True),
        ({"not": {"field": "f", "nonzero": True}}, RuleContext(fields={"f": 0}), True),
        ({"all": ["always", {"property": "b", "equals": False}]}, RuleContext({"b": "off"}), True),
        ({"any": ["never", "never"]}, RuleContext(), False),
    ],
)
def test_rules(rule: object, ctx: RuleContext, expected: bool) -> None:
    problems: list[tuple[str, str, object]] = []
    parsed = rule_from_data(rule, "$", problems)
    assert problems == []
    assert parsed.evaluate(ctx) is expected
    assert rule_from_data(parsed.to_data(), "$", problems) == parsed


def test_rule_on_missing_property_is_an_error() -> None:
    with pytest.raises(RuleError):
        rule_from_data({"property": "p", "equals": 1}, "$", []).evaluate(RuleContext())


VMDESC = {
    "page_size": 4096,
    "devices": [
        {
            "name": "0000:00:1f.2/ich9_ahci",
            "instance_id": 0,
            "vmsd_name": "ahci",
            "version": 1,
            "fields": [
                {"name": "regs", "array_len": 4, "type": "uint32", "size": 4},
                {
                    "name": "dev",
                    "index": 0,
                    "type": "struct",
                    "struct": {
                        "vmsd_name": "port",
                        "version": 1,
                        "fields": [{"name": "x", "type": "uint8", "size": 1}],
                    },
                    "size": 1,
                },
                {
                    "name": "dev",
                    "index": 1,
                    "type": "struct",
                    "struct": {
                        "vmsd_name": "port",
                        "version": 1,
                        "fields": [{"name": "x", "type": "uint8", "size": 1}],
                        "subsections": [{"vmsd_name": "port/extra", "version": 2, "fields": []}],
                    },
                    "size": 9,
                },
                {
                    "name": "tmp",
                    "type": "tmp",
                    "vmsd_name": "fpreg_tmp",
                    "version": 0,
                    "fields": [{"name": "m", "type": "uint64", "size": 8}],
                    "size": 8,
                },
                {"name": "virtio", "type": "virtio", "size": 45680},
            ],
            "subsections": [{"vmsd_name": "ahci/sub", "version": 3, "fields": []}],
        }
    ],
}


def test_vmdesc_schemas() -> None:
    schemas = schemas_from_vmdesc(VMDESC)
    vmsd = schemas("0000:00:1f.2/ich9_ahci", 0, 1)
    assert vmsd is not None and schemas("0000:00:1f.2/ich9_ahci", 1, 1) is None
    regs, dev, tmp, virtio = vmsd.fields
    assert regs.count == 4 and regs.info == "uint32"
    assert dev.count == 2 and dev.struct is not None
    assert [s.name for s in dev.struct.subsections] == ["port/extra"]  # merged over elements
    assert tmp.struct is not None and tmp.struct.name == "fpreg_tmp"
    assert virtio.size == 45680
    assert vmsd.subsections[0].version_id == 3


def test_vmdesc_bad_shapes_are_stream_errors() -> None:
    from migcompat.errors import StreamError

    with pytest.raises(StreamError):
        schemas_from_vmdesc({"devices": [{"name": "x"}]})
    with pytest.raises(StreamError):
        schemas_from_vmdesc(b"not json")
    bad = {
        "devices": [
            {
                "name": "x",
                "instance_id": 0,
                "vmsd_name": "x",
                "version": 1,
                "fields": [{"name": "a", "type": "uint32", "size": 2}],
            }
        ]
    }
    with pytest.raises(StreamError):
        schemas_from_vmdesc(bad)


DUMP = {
    "vmschkmachine": {"Name": "pc-q35-7.2"},
    "fw_cfg_io": {
        "Name": "fw_cfg_io",
        "version_id": 2,
        "minimum_version_id": 1,
        "Description": {
            "name": "fw_cfg",
            "version_id": 2,
            "minimum_version_id": 1,
            "Fields": [
                {"field": "cur_entry", "version_id": 0, "field_exists": False, "size": 2},
                {"field": "cur_offset", "version_id": 0, "field_exists": True, "size": 4},
            ],
            "Subsections": [
                {"name": "fw_cfg/dma", "version_id": 0, "minimum_version_id": 0, "Fields": []}
            ],
        },
    },
}


def test_dump_schemas_are_incomplete() -> None:
    from migcompat.errors import StreamError
    from migcompat.vmstate import DecodeContext, decode_section

    dump = schemas_from_dump(DUMP)
    assert dump.machine == "pc-q35-7.2"
    fw = dump.types["fw_cfg_io"]
    assert (fw.name, fw.version_id, fw.minimum_version_id, fw.complete) == ("fw_cfg", 2, 1, False)
    assert fw.fields[1].exists is not None
    assert [s.name for s in fw.subsections] == ["fw_cfg/dma"]
    with pytest.raises(StreamError):
        decode_section(fw, "fw_cfg", 2, b"\0" * 16, 0, DecodeContext())


def test_vmdesc_old_style_entry_is_named_not_described() -> None:
    # QEMU lists a save_state section (slirp for -netdev user) with no vmsd_name or fields
    vmdesc = {"page_size": 4096, "devices": [
        {"name": "slirp", "instance_id": 0},
        {"name": "timer", "instance_id": 0, "vmsd_name": "timer", "version": 2,
         "fields": [{"name": "cpu_ticks_offset", "type": "int64", "size": 8}]}]}
    schemas = schemas_from_vmdesc(vmdesc)
    assert schemas("slirp", 0, 1) is None
    assert schemas("timer", 0, 2) is not None
