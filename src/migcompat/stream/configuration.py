"""The configuration section's schema (reference §1.2).

QEMU saves ``vmstate_configuration`` with no version on the wire and loads it as version 0:
be32 ``len``, then ``len`` bytes of machine type name, then optional subsections.
"""

from __future__ import annotations

from migcompat.vmstate.data import VMStateData
from migcompat.vmstate.schema import Field, FromField, VMStateDescription

TARGET_PAGE_BITS = VMStateDescription(
    "configuration/target-page-bits", 1, 1, (Field("target_page_bits", "uint32"),)
)
CAPABILITIES = VMStateDescription(
    "configuration/capabilities",
    1,
    1,
    (
        Field("caps_count", "uint32"),
        Field("capabilities", "capability", count=FromField("caps_count")),
    ),
)
UUID = VMStateDescription("configuration/uuid", 1, 1, (Field("uuid", "buffer", size=16),))

CONFIGURATION = VMStateDescription(
    "configuration",
    1,
    0,
    (Field("len", "uint32"), Field("name", "buffer", size=FromField("len"))),
    (TARGET_PAGE_BITS, CAPABILITIES, UUID),
)
LOAD_VERSION = 0  # the version the configuration is loaded with


def configuration_state(machine: str, subsections: tuple[VMStateData, ...] = ()) -> VMStateData:
    name = machine.encode()
    return VMStateData(
        CONFIGURATION, LOAD_VERSION, (("len", len(name)), ("name", name)), subsections
    )


def capabilities(subsections: tuple[VMStateData, ...]) -> tuple[str, ...]:
    """The capability names a configuration announces (empty when it sends none)."""
    for sub in subsections:
        if sub.name == CAPABILITIES.name:
            caps = sub["capabilities"]
            assert isinstance(caps, tuple)
            return tuple(c.decode(errors="replace") for c in caps if isinstance(c, bytes))
    return ()
