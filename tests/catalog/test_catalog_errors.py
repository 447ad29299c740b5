"""Catalog validation: every problem collected, each with file, path, code and hint."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from migcompat.catalog.checker import CODES
from migcompat.catalog.load import open_catalog, validate_catalog
from migcompat.errors import CatalogError

GOOD_RELEASE: dict[str, Any] = {
    "types": {"device": {"abstract": True},
              "widget": {"parent": "device",
                         "properties": {"level": {"kind": "uint8", "default": 1}}}},
    "compat_tables": {"hw_compat_1_0": {"entries": [
        {"driver": "widget", "property": "level", "value": "2"}]}},
    "families": {"pc": {"defaults": []}},
    "machines": {"pc-1.1": {"family": "pc", "version": "1.1", "default": True},
                 "pc-1.0": {"family": "pc", "version": "1.0", "compat": ["hw_compat_1_0"]}},
}


def write_catalog(tmp_path: Path, release: dict[str, Any], extra: dict[str, Any] | None = None,
                  name: str = "cat.json") -> Path:
    doc = {"format": 1, "name": "t", "releases": {"r1": release, **(extra or {})}}
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


def problems_of(path: Path) -> list[Any]:
    with pytest.raises(CatalogError) as exc:
        validate_catalog(open_catalog(str(path)))
    return exc.value.problems


def mutate(**changes: Any) -> dict[str, Any]:
    rel = json.loads(json.dumps(GOOD_RELEASE))
    for dotted, value in changes.items():
        keys = dotted.split("__")
        target = rel
        for k in keys[:-1]:
            target = target[k]
        target[keys[-1]] = value
    return rel


def test_good_catalog_loads(tmp_path: Path) -> None:
    cat = open_catalog(str(write_catalog(tmp_path, GOOD_RELEASE)))
    [rel] = validate_catalog(cat)
    assert rel.machines.resolve("pc-1.0").compat == ("hw_compat_1_0",)


# One case per stable error code: (code, release data, expected path).
CASES: list[tuple[str, dict[str, Any], str]] = [
    ("unknown-key", mutate(machnes={}), "$.releases.r1.machnes"),
    ("missing-key", mutate(machines={"pc-1.1": {"family": "pc", "default": True}}),
     "$.releases.r1.machines['pc-1.1']"),
    ("wrong-type", mutate(types__widget__abstract="no"),
     "$.releases.r1.types.widget.abstract"),
    ("unknown-kind", mutate(types__widget__properties__level={"kind": "unit8"}),
     "$.releases.r1.types.widget.properties.level.kind"),
    ("bad-default", mutate(types__widget__properties__level={"kind": "uint8", "default": 300}),
     "$.releases.r1.types.widget.properties.level.default"),
    ("bad-equivalent", mutate(types__widget__properties__level={
        "kind": "uint8", "default": 1, "equivalent": [[1, "one"]]}),
     "$.releases.r1.types.widget.properties.level.equivalent[0]"),
    ("unknown-enum", mutate(types__widget__properties__level={"kind": "enum", "enum": "Nope"}),
     "$.releases.r1.types.widget.properties.level.enum"),
    ("unknown-type", mutate(types__widget__parent="devcie"),
     "$.releases.r1.types.widget.parent"),
    ("parent-cycle", mutate(types__device={"parent": "widget"}),
     "$.releases.r1.types.device.parent"),
    ("unknown-table", mutate(machines__pc_1_0={"family": "pc", "version": "1.0",
                                               "compat": ["hw_compat_1_O"]}),
     "$.releases.r1.machines.pc_1_0.compat[0]"),
    ("unknown-family", mutate(machines__pc_1_0={"family": "pcc", "version": "1.0"}),
     "$.releases.r1.machines.pc_1_0.family"),
    ("bad-version", mutate(machines__pc_1_0={"family": "pc", "version": "one"}),
     "$.releases.r1.machines.pc_1_0.version"),
    ("duplicate-alias", mutate(machines__pc_1_0={"family": "pc", "version": "1.0",
                                                 "alias": "pc-1.1"}),
     "$.releases.r1.machines.pc_1_0.alias"),
    ("default-count", mutate(machines__pc_1_0={"family": "pc", "version": "1.0",
                                               "default": True}),
     "$.releases.r1.machines"),
    ("bad-rule", mutate(types__widget__realize=[{"property": "level", "when": 0,
                                                 "op": "vcpu"}]),
     "$.releases.r1.types.widget.realize[0].op"),
    ("unknown-release", {**GOOD_RELEASE, "extends": "r9"}, "$.releases.r1.extends"),
    ("bad-vmstate", {**GOOD_RELEASE, "vmstate": {"w": {"version_id": 1, "fields": [
        {"name": "a", "type": "uint8"}, {"name": "b", "type": "no-such-info"}]}}},
     "$.releases.r1.vmstate.w.fields[1].type"),
    ("format-version", {}, "$.format"),
    ("syntax", {}, "$"),
    ("duplicate-key", {}, "$"),  # a release listed twice: JSON would keep the second
    ("unreadable", {}, "$"),
    ("id-mismatch", {}, "$.id"),
]


@pytest.mark.parametrize("code,release,path", CASES, ids=[c[0] for c in CASES])
def test_one_error_per_code(tmp_path: Path, code: str, release: dict[str, Any],
                            path: str) -> None:
    if code == "format-version":
        target = tmp_path / "cat.json"
        target.write_text(json.dumps({"format": 7, "releases": {}}))
    elif code == "syntax":
        target = tmp_path / "cat.toml"
        target.write_text("format = 1\n[releases\n")
    elif code == "duplicate-key":
        target = tmp_path / "cat.json"
        one = json.dumps(GOOD_RELEASE)
        target.write_text(f'{{"format": 1, "releases": {{"r1": {one}, "r1": {one}}}}}')
    elif code == "unreadable":
        target = tmp_path / "missing.json"
        target.mkdir()
    elif code == "id-mismatch":
        (tmp_path / "r1.json").write_text(json.dumps({"format": 1, "id": "other",
                                                      **GOOD_RELEASE}))
        target = tmp_path / "cat.json"
        target.write_text(json.dumps({"format": 1, "releases": {"r1": {"file": "r1.json"}}}))
    else:
        target = write_catalog(tmp_path, release)
    if code == "unreadable":
        with pytest.raises(CatalogError) as exc:
            from migcompat.catalog.load import read_data
            read_data(target)
        problems = exc.value.problems
    else:
        problems = problems_of(target)
    assert {p.code for p in problems} == {code}, [p.format() for p in problems]
    assert problems[0].path == path
    assert problems[0].file == str(target if code != "id-mismatch" else tmp_path / "r1.json")


def test_every_code_has_a_case() -> None:
    assert {c[0] for c in CASES} == set(CODES)


def test_hints(tmp_path: Path) -> None:
    [p] = problems_of(write_catalog(tmp_path, mutate(machnes={})))
    assert p.hint == "did you mean 'machines'?"
    [p] = problems_of(write_catalog(tmp_path, mutate(types__widget__parent="devcie")))
    assert p.hint == "did you mean 'device'?"


def test_several_mistakes_all_listed_by_the_cli(tmp_path: Path) -> None:
    bad = mutate(machnes={}, types__widget__abstract="no",
                 types__widget__properties__level={"kind": "unit8"})
    bad["machines"]["pc-1.0"]["compat"] = ["nope"]
    path = write_catalog(tmp_path, bad)
    run = subprocess.run([sys.executable, "-m", "migcompat", "releases", "--catalog", str(path)],
                         capture_output=True, text=True)
    assert run.returncode == 2
    assert "Traceback" not in run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 4, run.stderr
    assert all(line.startswith(f"migcompat: error: {path}: $.releases.r1") for line in lines)
    assert run.stdout == ""
