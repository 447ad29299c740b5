"""Machine options compared as QEMU reads them, whichever side typed them."""

from __future__ import annotations

from migcompat.analysis.check import check
from migcompat.catalog.load import open_catalog
from migcompat.model.vm import VMConfig


def test_a_machine_option_typed_on_one_side_only_is_the_same_option() -> None:
    # 10.2 is a source import without the family's option list: "off" stays text there
    cat = open_catalog("qemu")
    a, b = (VMConfig(cat.release(r), "pc-q35-7.2", [], machine_options=(("usb", "off"),))
            for r in ("10.0", "10.2"))
    res = check(a, b)
    assert not [r for r in res.reasons if r.code == "machine-option-differs"]
    c = VMConfig(cat.release("10.2"), "pc-q35-7.2", [], machine_options=(("usb", "on"),))
    assert [r.property for r in check(a, c).reasons if r.code == "machine-option-differs"] \
        == ["usb"]
