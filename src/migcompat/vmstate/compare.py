"""Compare the VMState schemas of two builds: what QEMU's ``vmstate-static-checker.py``
checks, and what it misses (docs/lint-vmstate.md).

**Direction.** Every finding is about a stream that OLD saves and NEW loads: QEMU's
destination reads the stream with its *own* descriptions (reference §2.6). For the way back
call ``compare_schemas(new, old)``.

**How.** QEMU's loader matches bytes, never names (reference §2.3). So each description is
flattened into the leaves that go on the wire, nested structs inline, and the two leaf lists
are aligned by path; what does not align is paired by position and size. The same bytes under
another name are a note; a size change, or a field only one side has at the stream's version,
is an error. Versions travel on the wire for sections and subsections only; a nested struct is
written and read with each side's own version, so there a version change is a note and its
effect shows up as fields added or removed.

The usual input is ``schemas_from_dump(...).types`` (QOM type -> description): element sizes,
but no info kinds and no counts. A size-0 field is a custom info (``virtio``, ``pci config``)
whose bytes the dump does not give, and an array retired into an ``unused`` buffer looks like
a size change; both are warnings rather than notes or errors.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from difflib import SequenceMatcher

from migcompat.errors import RuleError
from migcompat.vmstate.dump import VMStateDump
from migcompat.vmstate.findings import KINDS, FindingKind, VmstateFinding, finding
from migcompat.vmstate.rules import Rule, RuleContext
from migcompat.vmstate.schema import Field, VMStateDescription

__all__ = ["KINDS", "FindingKind", "VmstateFinding", "compare_dumps", "compare_schemas"]


def compare_dumps(old: VMStateDump, new: VMStateDump) -> list[VmstateFinding]:
    """compare_schemas, plus the machine check the peer makes on ``vmschkmachine``."""
    out = []
    if old.machine != new.machine:
        out.append(finding("vmstate-machine-differs", "", "", old.machine, new.machine,
                           f"OLD was dumped for machine '{old.machine}', NEW for "
                           f"'{new.machine}'."))
    return out + compare_schemas(old.types, new.types)


def compare_schemas(old: Mapping[str, VMStateDescription],
                    new: Mapping[str, VMStateDescription]) -> list[VmstateFinding]:
    """Findings for a stream saved by OLD and loaded by NEW, section by section (sorted)."""
    out: list[VmstateFinding] = []
    renamed = _renames(old, new)
    for key in sorted(old):
        run = _Run(key, out)
        if key in new:
            _compare(run, "", old[key], new[key], "section")
        elif key in renamed:
            run.add("vmstate-section-renamed", "", key, renamed[key],
                    f"NEW has no type '{key}'; '{renamed[key]}' carries its description "
                    f"'{old[key].name}'.")
            _compare(run, "", old[key], new[renamed[key]], "section")
        else:
            run.add("vmstate-section-removed", "", old[key].name, None,
                    f"NEW has no state description for type '{key}'.")
    for key in sorted(set(new) - set(old) - set(renamed.values())):
        _Run(key, out).add("vmstate-section-added", "", None, new[key].name,
                           f"NEW has state for type '{key}', which OLD lacks.")
    return out


@dataclass
class _Run:
    section: str
    out: list[VmstateFinding]

    def add(self, kind: str, field: str, old: object, new: object, message: str,
            severity: str | None = None) -> None:
        self.out.append(finding(kind, self.section, field, old, new, message, severity))


def _renames(old: Mapping[str, VMStateDescription],
             new: Mapping[str, VMStateDescription]) -> dict[str, str]:
    """Old-only types whose description is carried by exactly one new-only type (the peer
    keeps a hand-made table of these, e.g. e1000-82540em -> e1000)."""
    added = [k for k in new if k not in old]
    found = {}
    for key in (k for k in old if k not in new):
        same = [k for k in added if new[k].name == old[key].name]
        if len(same) == 1:
            found[key] = same[0]
    return found


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _compare(run: _Run, path: str, old: VMStateDescription, new: VMStateDescription,
             level: str) -> None:
    """``level``: "section" and "subsection" carry name and version on the wire; "struct"
    (nested, its fields already compared in the parent's leaves) carries neither."""
    at = f"'{path}'" if path else "the section"
    if old.name != new.name:
        run.add("vmstate-description-renamed", path, old.name, new.name,
                f"The description of {at} is '{old.name}' in OLD and '{new.name}' in NEW.",
                "error" if level == "section" else "note")
    ov, om, nv, nm = old.version_id, old.minimum_version_id, new.version_id, new.minimum_version_id
    if level != "struct" and ov > nv:
        run.add("vmstate-version-too-new", path, ov, nv,
                f"OLD sends {at} at version {ov}; NEW knows versions up to {nv}.")
    elif level != "struct" and ov < nm:
        run.add("vmstate-version-too-old", path, ov, nm,
                f"OLD sends {at} at version {ov}; NEW needs at least version {nm}.")
    elif (ov, om) != (nv, nm):
        why = "NEW still accepts OLD's" if level != "struct" else "nested, it is not sent"
        run.add("vmstate-version-changed", path, (ov, om), (nv, nm),
                f"The version of {at} is {ov} (min {om}) in OLD and {nv} (min {nm}) in NEW; "
                f"{why}.")
    if level != "struct":
        _fields(run, path, old, new)
    for sub in old.subsections:
        here, mine = _join(path, f"[{sub.name}]"), new.subsection(sub.name)
        if mine is not None:
            _compare(run, here, sub, mine, "subsection")
            continue
        sent = _evaluate(sub.needed)  # a dump never says: a warning then
        verb = {True: "sends", None: "may send", False: "never sends"}[sent]
        run.add("vmstate-subsection-removed", here, sub.name, None,
                f"OLD {verb} subsection '{sub.name}', which NEW does not know.",
                _SEVERITY[sent])
    for sub in new.subsections:
        if old.subsection(sub.name) is None:
            run.add("vmstate-subsection-added", _join(path, f"[{sub.name}]"), None, sub.name,
                    f"NEW knows subsection '{sub.name}', which OLD never sends.")


@dataclass(frozen=True)
class _Leaf:
    path: str
    field: Field
    on: bool | None  # on the wire at this version: yes, no, or a field_exists callback decides

    @property
    def size(self) -> int | None:
        """Bytes of the whole field when the schema says (element size x count)."""
        size, count = self.field.element_size(), self.field.count
        if not isinstance(size, int) or not isinstance(count, int | None):
            return None
        return size if count is None else size * count

    def shape(self) -> tuple[object, object]:
        return self.field.element_size(), self.field.count

    def text(self) -> str:
        size, count = self.shape()
        each = _bytes(size) if isinstance(size, int) else f"sized by {size}"
        return each if count is None else f"{count} x {each}"


_SEVERITY = {True: "error", None: "warning", False: "note"}  # by "is it on the wire?"
_ONE_SIDE = {"vmstate-field-removed": ("OLD", "send", "NEW does not read it"),
             "vmstate-field-added": ("NEW", "read", "OLD does not send it")}


def _bytes(n: int) -> str:
    return "1 byte" if n == 1 else f"{n} bytes"


def _evaluate(rule: Rule) -> bool | None:
    try:
        return rule.evaluate(RuleContext())
    except RuleError:
        return None  # a callback, or a rule on values only a real device has


def _flatten(vmsd: VMStateDescription, version: int, prefix: str, on: bool | None,
             leaves: list[_Leaf], structs: list[_Leaf]) -> None:
    for f in vmsd.fields:
        # QEMU asks field_exists when there is one, and then ignores version_id (§2.3).
        if on is False:
            here: bool | None = False
        elif f.exists is not None:
            here = None if (got := _evaluate(f.exists)) is None else (on if got else False)
        else:
            here = on if f.version_id <= version else False
        path = prefix + f.name
        if f.struct is None:
            leaves.append(_Leaf(path, f, here))
            continue
        structs.append(_Leaf(path, f, here))
        # A nested struct is written and read with its own version (reference §2.6).
        child = f.struct_version if f.struct_version is not None else f.struct.version_id
        _flatten(f.struct, child, path + ".", here, leaves, structs)


def _fields(run: _Run, path: str, old: VMStateDescription, new: VMStateDescription) -> None:
    a: list[_Leaf] = []
    b: list[_Leaf] = []
    sa: list[_Leaf] = []
    sb: list[_Leaf] = []
    prefix = path + "." if path else ""
    # Both sides gate this level by the stream's version, which is OLD's.
    _flatten(old, old.version_id, prefix, True, a, sa)
    _flatten(new, old.version_id, prefix, True, b, sb)
    matcher = SequenceMatcher(None, [x.path for x in a], [y.path for y in b], autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            for x, y in zip(a[i1:i2], b[j1:j2], strict=True):
                _pair(run, x, y)
        else:  # a move shows as removed + added, which is what it does to the bytes
            _replaced(run, a[i1:i2], b[j1:j2])
    _structs(run, sa, sb, {x.path for x in a}, {y.path for y in b})


def _structs(run: _Run, sa: list[_Leaf], sb: list[_Leaf], leaves_a: set[str],
             leaves_b: set[str]) -> None:
    """Pair nested structs by path (k-th with k-th: e1000e has two 'parent_obj'), then by
    description name, and compare what the leaves do not show: names, versions, subsections."""
    left, right = list(sa), list(sb)
    for key in (lambda s: s.path, _struct_name):
        for x in list(left):
            y = next((y for y in right if key(y) == key(x)), None)
            if y is not None and x.field.struct is not None and y.field.struct is not None:
                left.remove(x)
                right.remove(y)
                _meta(run, x, y)
                _compare(run, x.path, x.field.struct, y.field.struct, "struct")
    for s in (s for s in left if s.path in leaves_b):
        run.add("vmstate-field-struct-changed", s.path, _struct_name(s), None,
                f"'{s.path}' is a nested '{_struct_name(s)}' in OLD, a plain field in NEW.")
    for s in (s for s in right if s.path in leaves_a):
        run.add("vmstate-field-struct-changed", s.path, None, _struct_name(s),
                f"'{s.path}' is a plain field in OLD, a nested '{_struct_name(s)}' in NEW.")


def _struct_name(leaf: _Leaf) -> str:
    return leaf.field.struct.name if leaf.field.struct is not None else ""


def _meta(run: _Run, x: _Leaf, y: _Leaf) -> None:
    """What a pair of fields may differ in besides the bytes: version_id, field_exists."""
    fx, fy = x.field, y.field
    if fx.version_id != fy.version_id:
        split = {x.on, y.on} == {True, False}
        run.add("vmstate-field-version", x.path, fx.version_id, fy.version_id,
                f"'{x.path}' has version_id {fx.version_id} in OLD and {fy.version_id} in "
                f"NEW; {'only one side has it' if split else 'both agree'} at the stream's "
                "version.", "error" if split else "note")
    if (fx.exists is None) != (fy.exists is None):
        which = "NEW" if fy.exists is not None else "OLD"
        run.add("vmstate-field-exists-changed", x.path, fx.exists is not None,
                fy.exists is not None, f"'{x.path}' has a field_exists callback in {which} only.")


def _pair(run: _Run, x: _Leaf, y: _Leaf) -> None:
    """OLD's field x is read as NEW's y (the same name, or the same position)."""
    _meta(run, x, y)
    if x.shape() == y.shape():
        if x.path != y.path:
            run.add("vmstate-field-renamed", x.path, x.path, y.path,
                    f"OLD's '{x.path}' is read as '{y.path}' in NEW ({x.text()}).",
                    None if x.size else "warning")  # size 0: a custom info, bytes unknown
        return
    severity = "note" if x.on is False and y.on is False else None
    sizes = [s for s in (x.size, y.size) if s]
    unused = any(leaf.field.info == "unused_buffer" or
                 leaf.path.rsplit(".", 1)[-1].startswith("unused") for leaf in (x, y))
    if unused and len(sizes) == 2 and max(sizes) % min(sizes) == 0 and x.path != y.path:
        severity = "warning"  # bool[5] -> VMSTATE_UNUSED(5): the dump gives no counts
    renamed = f" (read as '{y.path}')" if y.path != x.path else ""
    run.add("vmstate-field-size-changed", x.path, x.text(), y.text(),
            f"'{x.path}'{renamed} is {x.text()} in OLD and {y.text()} in NEW.", severity)


def _one_side(run: _Run, leaf: _Leaf, kind: str) -> None:
    who, verb, tail = _ONE_SIDE[kind]
    how = {True: f"{verb}s", None: f"may {verb}", False: f"never {verb}s"}[leaf.on]
    old, new = (leaf.size, None) if who == "OLD" else (None, leaf.size)
    run.add(kind, leaf.path, old, new, f"{who} {how} '{leaf.path}' at this version; {tail}.",
            _SEVERITY[leaf.on])


def _replaced(run: _Run, olds: list[_Leaf], news: list[_Leaf]) -> None:
    """Fields whose names do not align: pair them by position, or by bytes when one field
    stands for several (a buffer split into fields, fields retired into one unused buffer)."""
    for leaves, kind in ((olds, "vmstate-field-removed"), (news, "vmstate-field-added")):
        for leaf in leaves:
            if leaf.on is False:  # off the wire at this version: it takes no position
                _one_side(run, leaf, kind)
    a = [x for x in olds if x.on is not False]
    b = [y for y in news if y.on is not False]
    groups = _by_bytes(a, b) if len(a) != len(b) else None
    if groups is None:
        groups = [([x], [y]) for x, y in zip(a, b, strict=False)]
        for x in a[len(b):]:
            _one_side(run, x, "vmstate-field-removed")
        for y in b[len(a):]:
            _one_side(run, y, "vmstate-field-added")
    for ga, gb in groups:
        if len(ga) == len(gb) == 1:
            _pair(run, ga[0], gb[0])
            continue
        names_a, names_b = ", ".join(x.path for x in ga), ", ".join(y.path for y in gb)
        run.add("vmstate-field-renamed", ga[0].path, names_a, names_b,
                f"OLD's {names_a} ({_bytes(sum(x.size or 0 for x in ga))}) are read as "
                f"{names_b} in NEW.")


def _by_bytes(a: list[_Leaf], b: list[_Leaf]) -> list[tuple[list[_Leaf], list[_Leaf]]] | None:
    """Runs of equal byte totals, one field on at least one side of each; else None."""
    if not all(x.size for x in a + b):
        return None  # a size-0 (custom) or data-sized field: bytes cannot be added up
    groups: list[tuple[list[_Leaf], list[_Leaf]]] = []
    i = j = 0
    while i < len(a) and j < len(b):
        ga, gb = [a[i]], [b[j]]
        i, j = i + 1, j + 1
        while (sa := sum(x.size or 0 for x in ga)) != (sb := sum(y.size or 0 for y in gb)):
            if sa < sb and i < len(a) and len(gb) == 1:
                ga.append(a[i])
                i += 1
            elif sb < sa and j < len(b) and len(ga) == 1:
                gb.append(b[j])
                j += 1
            else:
                return None
        groups.append((ga, gb))
    return groups if i == len(a) and j == len(b) else None
