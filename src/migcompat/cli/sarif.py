"""Lint findings as a SARIF 2.1.0 log, the format GitHub and GitLab code scanning read.

One rule per finding kind, one result per finding, located at the ``DEFINE_PROP_*`` line of
the property (the catalog's provenance); the fix entry goes in the message and in the
result's properties, so a reviewer sees it beside the line.
"""

from __future__ import annotations

from typing import Any

from migcompat import __version__
from migcompat.analysis.lint import KINDS, Finding
from migcompat.model.globals import entry_text
from migcompat.vmstate.findings import KINDS as VMSTATE_KINDS

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def _rules(findings: list[Finding]) -> list[dict[str, Any]]:
    meanings = {**KINDS, **{k: spec.meaning for k, spec in VMSTATE_KINDS.items()}}
    kinds = sorted({f.kind for f in findings} | set(KINDS))
    return [{"id": kind, "name": kind.title().replace("-", ""),
             "shortDescription": {"text": meanings.get(kind, kind)},
             "help": {"text": f"See docs/lint.md, kind {kind}."}} for kind in kinds]


def _result(f: Finding, rule_index: dict[str, int]) -> dict[str, Any]:
    text = f.message
    entries = f.entries or ([f.entry] if f.entry else [])
    if entries:
        text += ". Fix: " + " ".join(f"in {e.table}: {entry_text(e)}" for e in entries)
    result: dict[str, Any] = {
        "ruleId": f.kind, "ruleIndex": rule_index[f.kind], "level": f.severity,
        "message": {"text": text},
        "properties": {"driver": f.driver, "property": f.property, "old_value": f.old_value,
                       "new_value": f.new_value, "table": f.table or None,
                       "fix": f.fix or None, "verified": f.verified, "machines": f.machines},
        "partialFingerprints": {"migcompat/v1": f"{f.kind}:{f.driver}:{f.property}"},
    }
    if f.file:
        region = {"startLine": f.line} if f.line > 0 else {}
        result["locations"] = [{"physicalLocation": {
            "artifactLocation": {"uri": f.file, "uriBaseId": "SRCROOT"},
            **({"region": region} if region else {})}}]
    return result


def sarif_log(findings: list[Finding], old: str, new: str) -> dict[str, Any]:
    rules = _rules(findings)
    index = {r["id"]: i for i, r in enumerate(rules)}
    return {
        "$schema": SCHEMA, "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "migcompat-lint", "version": __version__,
                                "rules": rules}},
            "originalUriBaseIds": {"SRCROOT": {"description": {"text": f"the tree of {new}"}}},
            "properties": {"old": old, "new": new},
            "results": [_result(f, index) for f in findings],
        }],
    }
