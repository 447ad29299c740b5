"""Collects every problem in a catalog file, each with a path, a stable code and a hint.

Modelled on pydantic/cattrs error reports: validation never stops at the first problem.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from migcompat.errors import CatalogProblem

# Stable problem codes (docs/catalog-format.md lists them with examples).
CODES = {
    "syntax": "the file is not valid TOML/JSON",
    "duplicate-key": "a key repeated in one JSON object (JSON would keep the last)",
    "unreadable": "the file cannot be read",
    "format-version": "missing or unsupported `format` number",
    "unknown-key": "a key the format does not define",
    "missing-key": "a required key is absent",
    "wrong-type": "a value of the wrong JSON/TOML type",
    "unknown-kind": "a property kind migcompat does not know",
    "bad-default": "a default that does not parse as the property's kind",
    "bad-equivalent": "an equivalence group that is not two or more values of the kind's type",
    "unknown-enum": "a property names an enum the release does not define",
    "unknown-type": "a reference to a type the release does not define",
    "parent-cycle": "a type is its own ancestor",
    "unknown-table": "a machine or family names a compat table that does not exist",
    "unknown-family": "a machine names a family that does not exist",
    "bad-version": "a machine version that is not dotted numbers",
    "duplicate-alias": "two machines share an alias, or an alias equals a machine name",
    "default-count": "not exactly one default machine type",
    "bad-rule": "a realize rule that cannot be applied",
    "unknown-release": "a release extends or names a release not in the catalog",
    "id-mismatch": "a release file's id differs from the id the catalog gives it",
    "bad-vmstate": "a device-state schema or board section that does not validate",
}


_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def path_key(path: str, key: str) -> str:
    """``$.machines`` for identifiers, ``$.machines['pc-5.1']`` for anything else."""
    return f"{path}.{key}" if _IDENT.match(key) else f"{path}['{key}']"


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else ""


class Checker:
    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[CatalogProblem] = []

    def add(self, path: str, code: str, message: str, value: object = None,
            hint: str = "") -> None:
        assert code in CODES, code
        self.problems.append(CatalogProblem(self.file, path, code, message, value, hint))

    def keys(self, obj: Mapping[str, Any], path: str, allowed: Iterable[str],
             required: Iterable[str] = ()) -> None:
        known = allowed if isinstance(allowed, (tuple, frozenset, set)) else tuple(allowed)
        for key in obj:
            if key not in known:
                self.add(path_key(path, key), "unknown-key", f"unknown key '{key}'", key,
                         did_you_mean(key, known))
        for key in required:
            if key not in obj:
                self.add(path, "missing-key", f"missing required key '{key}'")

    def table(self, obj: Any, path: str) -> dict[str, Any] | None:
        if isinstance(obj, dict):
            return obj
        self.add(path, "wrong-type", f"expected a table/object, got {_tname(obj)}", obj)
        return None

    def tables(self, data: Mapping[str, Any], path: str, key: str
               ) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """Each table of ``data[key]`` (a table of tables) as (name, path, table); anything
        that is not a table is reported."""
        kpath = path_key(path, key)
        for name, body in (self.table(data.get(key, {}), kpath) or {}).items():
            p = path_key(kpath, name)
            table = self.table(body, p)
            if table is not None:
                yield name, p, table

    def typed(self, obj: Mapping[str, Any], key: str, path: str, kinds: tuple[type, ...],
              default: Any = None) -> Any:
        if key not in obj:
            return default
        value = obj[key]
        ok = isinstance(value, kinds) and not (bool not in kinds and isinstance(value, bool)
                                               and int in kinds)
        if not ok:
            want = " or ".join(_TYPE_NAMES.get(k, k.__name__) for k in kinds)
            self.add(path_key(path, key), "wrong-type",
                     f"'{key}' must be {want}, got {_tname(value)}", value)
            return default
        return value

    def str_list(self, obj: Mapping[str, Any], key: str, path: str) -> list[str]:
        value = obj.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.add(path_key(path, key), "wrong-type", f"'{key}' must be a list of strings",
                     value)
            return []
        return value


_TYPE_NAMES = {str: "a string", int: "an integer", bool: "a boolean", list: "a list",
               dict: "a table", float: "a number", type(None): "null"}


def _tname(value: object) -> str:
    return _TYPE_NAMES.get(type(value), type(value).__name__)
