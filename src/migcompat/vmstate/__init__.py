"""VMState: schemas of device state and the field codec (pure, no I/O).

See docs/stream.md for the catalog spelling of a schema and for the decoded value model.
"""

# The names are imported on first use (migcompat/lazy.py); type checkers see the imports.
from typing import TYPE_CHECKING

from migcompat.lazy import lazy_names

if TYPE_CHECKING:
    from migcompat.errors import DumpFormatError, EncodeError, RuleError, SchemaError
    from migcompat.vmstate.codec import DecodeContext, NeedData, decode_section, decode_state
    from migcompat.vmstate.data import Value, VMStateData
    from migcompat.vmstate.dump import VMStateDump, schemas_from_dump
    from migcompat.vmstate.encode import encode_state, encode_subsection
    from migcompat.vmstate.rules import ALWAYS, NEVER, Rule, RuleContext, rule_from_data
    from migcompat.vmstate.schema import (
        Amount,
        Field,
        FromField,
        FromProperty,
        SchemaResolver,
        SectionSchema,
        VMStateDescription,
    )
    from migcompat.vmstate.schema_dicts import vmsd_from_dict, vmsd_to_dict
    from migcompat.vmstate.vmdesc import VMDescSchemas, schemas_from_vmdesc, vmsd_from_vmdesc

__getattr__ = lazy_names(globals(), {
    "migcompat.errors": ("DumpFormatError", "EncodeError", "RuleError", "SchemaError"),
    "migcompat.vmstate.codec": ("DecodeContext", "NeedData", "decode_section", "decode_state"),
    "migcompat.vmstate.data": ("VMStateData", "Value"),
    "migcompat.vmstate.dump": ("VMStateDump", "schemas_from_dump"),
    "migcompat.vmstate.encode": ("encode_state", "encode_subsection"),
    "migcompat.vmstate.rules": ("ALWAYS", "NEVER", "Rule", "RuleContext", "rule_from_data"),
    "migcompat.vmstate.schema": ("Amount", "Field", "FromField", "FromProperty", "SchemaResolver",
        "SectionSchema", "VMStateDescription"),
    "migcompat.vmstate.schema_dicts": ("vmsd_from_dict", "vmsd_to_dict"),
    "migcompat.vmstate.vmdesc": ("VMDescSchemas", "schemas_from_vmdesc", "vmsd_from_vmdesc"),
})


__all__ = [
    "ALWAYS",
    "NEVER",
    "Amount",
    "DecodeContext",
    "DumpFormatError",
    "EncodeError",
    "Field",
    "FromField",
    "FromProperty",
    "NeedData",
    "Rule",
    "RuleContext",
    "RuleError",
    "SchemaError",
    "SchemaResolver",
    "SectionSchema",
    "VMDescSchemas",
    "VMStateData",
    "VMStateDescription",
    "VMStateDump",
    "Value",
    "decode_section",
    "decode_state",
    "encode_state",
    "encode_subsection",
    "rule_from_data",
    "schemas_from_dump",
    "schemas_from_vmdesc",
    "vmsd_from_dict",
    "vmsd_from_vmdesc",
    "vmsd_to_dict",
]
