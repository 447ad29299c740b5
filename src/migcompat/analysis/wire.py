"""Section layouts as the bytes on the wire, for comparing two builds' captured schemas.

QEMU's loader reads fields by position, never by name, so two builds agree on a section
when they read the same bytes the same way. Field names may change (``common`` became
``parent_obj`` in ps2kbd), a buffer may be split into fields of the same total size
(globalstate's 100-byte ``runstate`` in 10.0), and builds describe the same array of structs
differently in their vmdesc (10.0 leaves the last element without an index). So a layout
becomes a list of tokens: runs of plain bytes (integers, bools, buffers) merged into one
count, fields QEMU checks on load (the ``equal`` and ``le`` infos) by width and check, and
device-specific infos (``pci config``, ``virtio``...) by name and size. Struct boundaries
vanish; subsections are compared by name and version elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass

from migcompat.analysis.stream_tools.layout import Leaf, leaves
from migcompat.vmstate.data import VMStateData
from migcompat.vmstate.infos import PLAIN_BYTES, Check, Kind, lookup
from migcompat.vmstate.schema import VMStateDescription

MAX_TOKENS = 1 << 16  # a hostile schema cannot make the comparison unbounded


@dataclass
class Token:
    kind: str  # "bytes", "equal 4", "le 4", or an info name
    size: int
    field: str  # the first field that makes up the token, for messages
    offset: int  # byte offset in the section body


# The tokens of one schema object at one version, kept with the object (so its id is not
# reused while cached): a fleet plan compares the same captured schemas thousands of times,
# and walking them was most of its time. Bounded, as the schemas a process loads are.
_CACHE: dict[tuple[int, int], tuple[VMStateDescription, tuple[Token, ...]]] = {}
CACHE_LIMIT = 1 << 14


def tokens(vmsd: VMStateDescription, version: int) -> list[Token]:
    """The section's tokens (a new list; its tokens are not to be changed)."""
    found = _CACHE.get((id(vmsd), version))
    if found is not None and found[0] is vmsd:
        return list(found[1])
    out: list[Token] = []
    _walk(vmsd, version, "", out, [0])
    if len(_CACHE) >= CACHE_LIMIT:
        _CACHE.clear()
    _CACHE[(id(vmsd), version)] = (vmsd, tuple(out))
    return out


def _add(out: list[Token], kind: str, size: int, field: str, at: list[int]) -> None:
    if kind == "bytes" and out and out[-1].kind == "bytes":
        out[-1].size += size
    elif len(out) < MAX_TOKENS:
        out.append(Token(kind, size, field, at[0]))
    at[0] += size


def _walk(vmsd: VMStateDescription, version: int, prefix: str, out: list[Token],
          at: list[int]) -> None:
    for f in vmsd.fields:
        if f.version_id > version:
            continue
        count = f.count if isinstance(f.count, int) else 1
        name = f"{prefix}{f.name}"
        if f.struct is not None:
            sv = f.struct_version if f.struct_version is not None else f.struct.version_id
            for i in range(min(count, MAX_TOKENS)):
                _walk(f.struct, sv, f"{name}[{i}]." if count > 1 else f"{name}.", out, at)
            continue
        size = f.element_size()
        if not isinstance(size, int) or not isinstance(f.count, int | None):
            _add(out, f"varying {f.info}", 0, name, at)  # sized at run time: compare kinds
            continue
        spec = f.spec
        if spec.check is not Check.NONE:
            for _ in range(min(count, MAX_TOKENS)):
                _add(out, f"{spec.check.value} {size}", size, name, at)
        elif spec.kind in (Kind.INT, Kind.BOOL) or f.info in PLAIN_BYTES:
            _add(out, "bytes", size * count, name, at)
        else:
            for _ in range(min(count, MAX_TOKENS)):
                _add(out, f.info, size, name, at)


def first_difference(a: list[Token], b: list[Token]) -> tuple[Token | None, Token | None] | None:
    """The first pair of tokens that differ (None for a side that ran out), or None."""
    for x, y in zip(a, b, strict=False):
        if (x.kind, x.size) != (y.kind, y.size):
            return x, y
    if len(a) != len(b):
        n = min(len(a), len(b))
        return (a[n] if n < len(a) else None), (b[n] if n < len(b) else None)
    return None


def describe(t: Token | None) -> str:
    if t is None:
        return "nothing more"
    n = f"{t.size} byte{'' if t.size == 1 else 's'}"
    what = n if t.kind == "bytes" else f"{t.kind} ({n})"
    return f"{what} at offset {t.offset} ('{t.field}')"


# -- decoded states (validate --against): the same comparison on values' sizes ----------

def _plain(info: str) -> bool:
    spec = lookup(info)
    return info in PLAIN_BYTES or (spec is not None and spec.kind in (Kind.INT, Kind.BOOL))


def body_leaves(state: VMStateData) -> list[Leaf]:
    """A decoded section's own fields in wire order, up to its first subsection
    (subsections are compared by name and version)."""
    out = []
    for leaf in leaves(state, 0):
        if leaf.info == "subsection":
            break
        out.append(leaf)
    return out


def data_runs(body: list[Leaf]) -> list[tuple[str, int, Leaf]]:
    """Plain bytes merged into runs; device-specific infos (pci config, virtio...) kept."""
    out: list[tuple[str, int, Leaf]] = []
    for leaf in body:
        if _plain(leaf.info) and out and out[-1][0] == "bytes":
            out[-1] = ("bytes", out[-1][1] + leaf.size, out[-1][2])
        else:
            out.append(("bytes" if _plain(leaf.info) else leaf.info, leaf.size, leaf))
    return out
