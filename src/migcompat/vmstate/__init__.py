"""VMState: schemas of device state and the field codec (pure, no I/O).

See docs/stream.md for the catalog spelling of a schema and for the decoded value model.
"""
# The names are imported on first use (PEP 562): a command that needs one module of the
# package does not pay for all of them at start-up. Type checkers see the imports.
import importlib
from typing import TYPE_CHECKING, Any

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

_LAZY = {
    "ALWAYS": ("migcompat.vmstate.rules", "ALWAYS"),
    "Amount": ("migcompat.vmstate.schema", "Amount"),
    "DecodeContext": ("migcompat.vmstate.codec", "DecodeContext"),
    "DumpFormatError": ("migcompat.errors", "DumpFormatError"),
    "EncodeError": ("migcompat.errors", "EncodeError"),
    "Field": ("migcompat.vmstate.schema", "Field"),
    "FromField": ("migcompat.vmstate.schema", "FromField"),
    "FromProperty": ("migcompat.vmstate.schema", "FromProperty"),
    "NEVER": ("migcompat.vmstate.rules", "NEVER"),
    "NeedData": ("migcompat.vmstate.codec", "NeedData"),
    "Rule": ("migcompat.vmstate.rules", "Rule"),
    "RuleContext": ("migcompat.vmstate.rules", "RuleContext"),
    "RuleError": ("migcompat.errors", "RuleError"),
    "SchemaError": ("migcompat.errors", "SchemaError"),
    "SchemaResolver": ("migcompat.vmstate.schema", "SchemaResolver"),
    "SectionSchema": ("migcompat.vmstate.schema", "SectionSchema"),
    "VMDescSchemas": ("migcompat.vmstate.vmdesc", "VMDescSchemas"),
    "VMStateData": ("migcompat.vmstate.data", "VMStateData"),
    "VMStateDescription": ("migcompat.vmstate.schema", "VMStateDescription"),
    "VMStateDump": ("migcompat.vmstate.dump", "VMStateDump"),
    "Value": ("migcompat.vmstate.data", "Value"),
    "decode_section": ("migcompat.vmstate.codec", "decode_section"),
    "decode_state": ("migcompat.vmstate.codec", "decode_state"),
    "encode_state": ("migcompat.vmstate.encode", "encode_state"),
    "encode_subsection": ("migcompat.vmstate.encode", "encode_subsection"),
    "rule_from_data": ("migcompat.vmstate.rules", "rule_from_data"),
    "schemas_from_dump": ("migcompat.vmstate.dump", "schemas_from_dump"),
    "schemas_from_vmdesc": ("migcompat.vmstate.vmdesc", "schemas_from_vmdesc"),
    "vmsd_from_dict": ("migcompat.vmstate.schema_dicts", "vmsd_from_dict"),
    "vmsd_from_vmdesc": ("migcompat.vmstate.vmdesc", "vmsd_from_vmdesc"),
    "vmsd_to_dict": ("migcompat.vmstate.schema_dicts", "vmsd_to_dict"),
}


def __getattr__(name: str) -> Any:
    where = _LAZY.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(where[0]), where[1])
    globals()[name] = value
    return value


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
