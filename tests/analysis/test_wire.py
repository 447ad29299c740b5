"""Wire layouts: what two builds' captured schemas must agree on, and what they need not."""

from __future__ import annotations

from migcompat.analysis.wire import describe, first_difference, tokens
from migcompat.vmstate.schema import Field, VMStateDescription


def vmsd(*fields: Field, version: int = 1) -> VMStateDescription:
    return VMStateDescription("dev", version, 1, tuple(fields))


def diff(a: VMStateDescription, b: VMStateDescription) -> str | None:
    found = first_difference(tokens(a, a.version_id), tokens(b, b.version_id))
    return None if found is None else f"{describe(found[0])} / {describe(found[1])}"


def test_names_and_splits_of_plain_bytes_do_not_matter() -> None:
    # globalstate in 10.0: the 100-byte runstate buffer became 32 + 1 + 1 + 66 bytes
    old = vmsd(Field("size", "uint32"), Field("runstate", "buffer", size=100))
    new = vmsd(Field("size", "uint32"), Field("runstate", "buffer", size=32),
               Field("has_vm_was_suspended", "bool"), Field("vm_was_suspended", "bool"),
               Field("unused", "buffer", size=66))
    assert diff(old, new) is None
    assert diff(vmsd(Field("common", "uint8")), vmsd(Field("parent_obj", "uint8"))) is None


def test_struct_arrays_however_described() -> None:
    elem = VMStateDescription("port", 1, 1, (Field("cmd", "uint8"), Field("x", "pci config",
                                                                           size=8)))
    six = vmsd(Field("dev", "struct", count=6, struct=elem))
    five_and_one = vmsd(Field("dev", "struct", count=5, struct=elem),
                        Field("dev", "struct", struct=elem))
    assert diff(six, five_and_one) is None
    assert diff(six, vmsd(Field("dev", "struct", count=5, struct=elem))) is not None


def test_sizes_checks_and_device_infos_matter() -> None:
    assert diff(vmsd(Field("a", "buffer", size=100)), vmsd(Field("a", "buffer", size=99))) \
        == "100 bytes at offset 0 ('a') / 99 bytes at offset 0 ('a')"
    # an equal check reads like bytes but refuses a different value: it is its own token
    assert diff(vmsd(Field("n", "uint32 equal")), vmsd(Field("n", "uint32"))) is not None
    # signedness of a checked integer does not change the bytes or the check
    assert diff(vmsd(Field("n", "int32 equal")), vmsd(Field("n", "uint32 equal"))) is None
    assert diff(vmsd(Field("c", "pci config", size=256)),
                vmsd(Field("c", "buffer", size=256))) is not None
    assert diff(vmsd(Field("a", "uint8")), vmsd(Field("a", "uint8"), Field("b", "uint8"))) \
        == "1 byte at offset 0 ('a') / 2 bytes at offset 0 ('a')"


def test_fields_of_later_versions_are_left_out() -> None:
    a = vmsd(Field("a", "uint8"), Field("b", "uint32", version_id=2), version=1)
    assert [(t.kind, t.size) for t in tokens(a, 1)] == [("bytes", 1)]
    assert [(t.kind, t.size) for t in tokens(a, 2)] == [("bytes", 5)]
