"""The pure side of ``validate``: the destination a dump or a machine type describes, what
each form cannot see, and the verdict's JSON (analysis/stream_tools/destination.py)."""

from __future__ import annotations

from migcompat.analysis.stream_tools.destination import cannot_see, describe_destination
from migcompat.analysis.stream_tools.validate import DestModel, Verdict
from migcompat.errors import StreamError
from migcompat.vmstate.dump import schemas_from_dump

DUMP = schemas_from_dump({
    "vmschkmachine": {"Name": "pc-q35-7.2"},
    "virtio-blk-pci": {"Description": {"name": "virtio-blk", "version_id": 2,
                                       "minimum_version_id": 2, "Fields": []}},
})


def test_a_machine_type_alone_sets_configuration_and_footers() -> None:
    dest = describe_destination(None, None, "pc-q35-7.2")
    assert (dest.machine, dest.configuration, dest.footers) == ("pc-q35-7.2", True, True)
    assert dest.sections is None and dest.dump is None  # not guessed
    # machine types <= 2.3 send neither (reference §1.1)
    old = describe_destination(None, None, "pc-i440fx-2.3")
    assert (old.configuration, old.footers) == (False, False)


def test_the_dump_gives_the_machine_unless_one_is_named() -> None:
    dest = describe_destination(None, DUMP, None)
    assert dest.machine == "pc-q35-7.2" and dest.dump is not None
    assert set(dest.dump) == {"virtio-blk"}  # by vmsd name, not QOM type
    assert describe_destination(None, DUMP, "pc-i440fx-2.3").configuration is False


def test_each_form_says_what_it_cannot_see() -> None:
    nothing = cannot_see(DestModel(), against=False, dump=False)
    assert any("which devices" in c for c in nothing)
    assert any("minimum_version_id" in c for c in nothing)
    dump_only = describe_destination(None, DUMP, None).cannot_see
    assert dump_only == cannot_see(DestModel(), against=False, dump=True)
    assert not any("minimum_version_id" in c for c in dump_only)
    assert any("the dump does not list them" in c for c in dump_only)
    both = cannot_see(DestModel(), against=True, dump=True)
    assert not any("which devices" in c for c in both)
    assert any("beyond --against" in c for c in both)
    for form in (nothing, dump_only, both):  # no form sees the device callbacks
        assert form[-1].startswith("needed()/field_exists() callbacks")


def test_the_verdict_json_names_where_it_failed() -> None:
    err = StreamError("Invalid argument", 1234, "0000:00:04.0/virtio-blk", "num_queues")
    doc = Verdict(False, err, ["load of migration failed"], ["w"], ["c"]).to_json()
    assert doc == {"loads": False, "refused": False,
                   "error": {"message": "Invalid argument", "offset": 1234,
                             "section": "0000:00:04.0/virtio-blk", "field": "num_queues"},
                   "qemu": ["load of migration failed"], "warnings": ["w"],
                   "cannot_see": ["c"]}
    assert list(doc) == ["loads", "refused", "error", "qemu", "warnings", "cannot_see"]  # docs
    assert Verdict(True).to_json()["error"] is None
