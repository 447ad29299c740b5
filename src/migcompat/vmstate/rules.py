"""Declarative rules: when a subsection is ``needed`` and when a field exists.

QEMU decides both with C callbacks (``needed(opaque)``, ``field_exists(opaque, version_id)``).
Catalog data may not hold code (DESIGN.md "Behaviour in catalogs is declarative and closed"),
so a rule is one of a small, closed set of shapes, evaluated against a :class:`RuleContext`
that the caller fills with device property values and the values of the struct's fields.

Catalog spelling (see docs/stream.md):

- ``"always"`` / ``"never"``
- ``{"property": NAME, "equals": VALUE}`` / ``{"property": NAME, "nonzero": true}``
- ``{"field": NAME, "equals": VALUE}`` / ``{"field": NAME, "nonzero": true}``
- ``{"all": [RULE, ...]}`` / ``{"any": [RULE, ...]}`` / ``{"not": RULE}``
- ``"unknown"``: QEMU has a callback we cannot see (``-dump-vmstate`` only says that one
  exists); evaluating it is an error.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from migcompat.errors import RuleError


@dataclass(frozen=True)
class RuleContext:
    """What a rule can look at: device properties and the current struct's field values."""

    properties: Mapping[str, object] = field(default_factory=dict)
    fields: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Always:
    value: bool = True

    def evaluate(self, ctx: RuleContext) -> bool:
        return self.value

    def to_data(self) -> object:
        return "always" if self.value else "never"


@dataclass(frozen=True)
class Unknown:
    """A QEMU callback whose logic the source of the schema did not say."""

    def evaluate(self, ctx: RuleContext) -> bool:
        raise RuleError("this rule comes from a QEMU callback that the schema does not describe")

    def to_data(self) -> object:
        return "unknown"


@dataclass(frozen=True)
class Compare:
    """``{"property"|"field": NAME, "equals": VALUE}`` or ``{..., "nonzero": true}``."""

    source: str  # "property" or "field"
    name: str
    equals: object = None
    nonzero: bool = False

    def evaluate(self, ctx: RuleContext) -> bool:
        table = ctx.properties if self.source == "property" else ctx.fields
        if self.name not in table:
            raise RuleError(f"rule reads {self.source} '{self.name}', which is not set")
        value = table[self.name]
        if self.nonzero:
            return bool(value)
        return _same(value, self.equals)

    def to_data(self) -> object:
        if self.nonzero:
            return {self.source: self.name, "nonzero": True}
        return {self.source: self.name, "equals": self.equals}


@dataclass(frozen=True)
class AllOf:
    rules: tuple[Rule, ...]

    def evaluate(self, ctx: RuleContext) -> bool:
        return all(r.evaluate(ctx) for r in self.rules)

    def to_data(self) -> object:
        return {"all": [r.to_data() for r in self.rules]}


@dataclass(frozen=True)
class AnyOf:
    rules: tuple[Rule, ...]

    def evaluate(self, ctx: RuleContext) -> bool:
        return any(r.evaluate(ctx) for r in self.rules)

    def to_data(self) -> object:
        return {"any": [r.to_data() for r in self.rules]}


@dataclass(frozen=True)
class Not:
    rule: Rule

    def evaluate(self, ctx: RuleContext) -> bool:
        return not self.rule.evaluate(ctx)

    def to_data(self) -> object:
        return {"not": self.rule.to_data()}


Rule = Always | Unknown | Compare | AllOf | AnyOf | Not

ALWAYS = Always(True)
NEVER = Always(False)


def _same(value: object, expected: object) -> bool:
    # Property values arrive as Python values or as QEMU-style strings ("on", "true", "4").
    if isinstance(expected, bool):
        if isinstance(value, str):
            return (
                value.lower() in ("on", "true", "yes")
                if expected
                else value.lower()
                in (
                    "off",
                    "false",
                    "no",
                )
            )
        return bool(value) is expected
    if isinstance(expected, int) and isinstance(value, str):
        try:
            return int(value, 0) == expected
        except ValueError:
            return False
    return value == expected


def rule_from_data(data: object, path: str, problems: list[tuple[str, str, object]]) -> Rule:
    """Parse the catalog spelling of a rule; append (path, message, value) for each problem."""
    if data == "always" or data is True:
        return ALWAYS
    if data == "never" or data is False:
        return NEVER
    if data == "unknown":
        return Unknown()
    if not isinstance(data, Mapping):
        problems.append((path, "a rule is 'always', 'never' or an object", data))
        return NEVER
    keys = set(data)
    for combinator in ("all", "any"):
        if keys == {combinator}:
            items = data[combinator]
            if not isinstance(items, list) or not items:
                problems.append(
                    (f"{path}.{combinator}", "expected a non-empty list of rules", items)
                )
                return NEVER
            parsed = tuple(
                rule_from_data(item, f"{path}.{combinator}[{i}]", problems)
                for i, item in enumerate(items)
            )
            return AllOf(parsed) if combinator == "all" else AnyOf(parsed)
    if keys == {"not"}:
        return Not(rule_from_data(data["not"], f"{path}.not", problems))
    for source in ("property", "field"):
        if source in keys:
            name = data[source]
            if not isinstance(name, str) or not name:
                problems.append((f"{path}.{source}", "expected a name", name))
                return NEVER
            rest = keys - {source}
            if rest == {"equals"}:
                return Compare(source, name, equals=data["equals"])
            if rest == {"nonzero"} and data["nonzero"] is True:
                return Compare(source, name, nonzero=True)
            problems.append(
                (path, f"a {source} rule takes exactly one of 'equals' or 'nonzero: true'", data)
            )
            return NEVER
    problems.append((path, "unknown rule; expected all/any/not/property/field", sorted(keys)))
    return NEVER
