"""Read ``machine-options.json`` beside a catalog: each release's machine options, per
machine family, as the real build lists them (tools/build_machine_options.py).

Format 1: ``{"format": 1, "<release>": {"<family>": {"<option>": "<QAPI type>"}}}``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path

from migcompat.errors import CatalogError, CatalogProblem

FILE = "machine-options.json"


@cache
def _read(path: str) -> Mapping[str, Mapping[str, Mapping[str, str]]]:
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise CatalogError([CatalogProblem(path, "$", "unreadable", str(exc))]) from None
    if not isinstance(doc, dict) or doc.get("format") != 1:
        raise CatalogError([CatalogProblem(path, "$.format", "bad-format",
                                           "expected format 1")])
    for rid, families in doc.items():
        if rid == "format":
            continue
        if not isinstance(families, dict) or not all(
                isinstance(opts, dict) and all(isinstance(v, str) for v in opts.values())
                for opts in families.values()):
            raise CatalogError([CatalogProblem(path, f"$['{rid}']", "bad-options",
                                               "expected {family: {option: type}}")])
    return {k: v for k, v in doc.items() if k != "format"}


def machine_options(path: str, release: str, family: str) -> Mapping[str, str] | None:
    """The options of ``family`` in ``release``, or None when the file does not say."""
    return _read(path).get(release, {}).get(family)
