"""Seeded, deterministic device state that fits a VMState schema.

A realized device holds values for every field its schema says it sends, at the schema's
own version: counts come from properties or earlier fields, "equal" fields hold the local
property value they are checked against, and subsections are present when their ``needed``
rule holds for the device's properties. The same (seed, section) always gives the same state.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping

from migcompat.errors import StateError
from migcompat.vmstate.data import Value, VMStateData
from migcompat.vmstate.infos import Kind
from migcompat.vmstate.rules import RuleContext
from migcompat.vmstate.schema import Amount, Field, FromField, VMStateDescription

Props = Mapping[str, object]


def _amount(amount: Amount, props: Props, fields: Mapping[str, Value], where: str) -> int:
    if isinstance(amount, int):
        return amount
    raw: object
    if isinstance(amount, FromField):
        raw = fields.get(amount.field)
        source = f"field '{amount.field}'"
    else:
        raw = props.get(amount.property)
        source = f"property '{amount.property}'"
    if not isinstance(raw, int) or isinstance(raw, bool):
        raise StateError(f"{where}: its size comes from {source}, which is not set")
    return raw * amount.multiply


def _scalar(f: Field, rng: random.Random, props: Props, where: str) -> Value:
    kind = f.spec.kind
    if f.local is not None:
        local = f.local if isinstance(f.local, int) else props.get(f.local.property)
        if not isinstance(local, int):
            raise StateError(f"{where}: its local value property is not set")
        return int(local)
    if kind is Kind.BOOL:
        return rng.random() < 0.5
    if kind is Kind.INT:
        width = f.spec.width * 8
        if f.spec.signed:
            return rng.randrange(-(1 << (width - 1)), 1 << (width - 1))
        return rng.getrandbits(width)
    if kind is Kind.COUNTED:
        raise StateError(f"{where}: counted strings are configuration-only")
    return b""  # filled by the caller with the element size


def fill(vmsd: VMStateDescription, props: Props, rng: random.Random,
         version_id: int | None = None, where: str = "") -> VMStateData:
    version = vmsd.version_id if version_id is None else version_id
    values: list[tuple[str, Value]] = []
    known: dict[str, Value] = {}
    for f in vmsd.fields:
        here = f"{where or vmsd.name}:{f.name}"
        ctx = RuleContext(props, known)
        if f.version_id > version or (f.exists is not None and not f.exists.evaluate(ctx)):
            continue
        count = None if f.count is None else _amount(f.count, props, known, here)
        elements = [_element(f, props, known, rng, here) for _ in range(count or 1)]
        value: Value = tuple(elements) if count is not None else elements[0]
        values.append((f.name, value))
        known[f.name] = value
    subs = []
    ctx = RuleContext(props, known)
    for sub in vmsd.subsections:
        if sub.needed.evaluate(ctx):
            subs.append(fill(sub, props, rng, where=sub.name))
    return VMStateData(vmsd, version, tuple(values), tuple(subs))


def _element(f: Field, props: Props, known: Mapping[str, Value], rng: random.Random,
             where: str) -> Value:
    if f.struct is not None:
        version = f.struct_version if f.struct_version is not None else f.struct.version_id
        return fill(f.struct, props, rng, version, where)
    value = _scalar(f, rng, props, where)
    if isinstance(value, bytes):
        size = _amount(f.element_size(), props, known, where)
        # unused_buffer is written as zeros by QEMU; everything else gets seeded bytes.
        return bytes(size) if f.info == "unused_buffer" else rng.randbytes(size)
    return value


def seeded_state(vmsd: VMStateDescription, props: Props, seed: int, key: str) -> VMStateData:
    """The state of one section: seeded by the VM seed and the section's idstr/instance."""
    digest = hashlib.blake2b(f"{seed}/{key}".encode(), digest_size=8).digest()
    return fill(vmsd, props, random.Random(int.from_bytes(digest, "big")))
