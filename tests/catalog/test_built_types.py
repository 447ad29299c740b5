"""Which types a release's real build has: the catalog's `built` and `built_default` keys
(docs/catalog-format.md), read into TypeInfo.built and TypeRegistry.built."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from migcompat.catalog.load import DATA_DIR, open_catalog, validate_catalog
from migcompat.errors import CatalogError

RELEASE: dict[str, Any] = {
    "types": {"device": {"abstract": True},
              "arm-only": {"parent": "device", "built": False},
              "x86-dev": {"parent": "device"},
              "said-built": {"parent": "device", "built": True}},
    "families": {"pc": {"defaults": []}},
    "machines": {"pc-1.0": {"family": "pc", "version": "1.0", "default": True}},
}


def catalog(tmp_path: Path, release: dict[str, Any], **extra: Any) -> Path:
    path = tmp_path / "cat.json"
    path.write_text(json.dumps({"format": 1, "name": "t",
                                "releases": {"r1": release, **extra}}))
    return path


def problems(path: Path) -> list[Any]:
    with pytest.raises(CatalogError) as exc:
        validate_catalog(open_catalog(str(path)))
    return exc.value.problems


def test_without_built_default_unmarked_types_are_unknown(tmp_path: Path) -> None:
    [rel] = validate_catalog(open_catalog(str(catalog(tmp_path, RELEASE))))
    assert rel.types["arm-only"].built is False
    assert rel.types.built("arm-only") is False
    assert rel.types.built("said-built") is True
    assert rel.types.built("x86-dev") is None
    assert rel.types.built("device") is None
    assert rel.types.built("no-such-type") is None


def test_built_default_gives_unmarked_types(tmp_path: Path) -> None:
    [rel] = validate_catalog(open_catalog(str(catalog(
        tmp_path, {**RELEASE, "built_default": True}))))
    assert rel.types.built("arm-only") is False
    assert rel.types.built("x86-dev") is True
    assert rel.types.built("device") is True
    assert rel.types.built("no-such-type") is None  # not in the catalog: unknown


def test_a_parent_mark_is_not_inherited(tmp_path: Path) -> None:
    rel_data = json.loads(json.dumps(RELEASE))
    rel_data["types"]["arm-child"] = {"parent": "arm-only"}
    [rel] = validate_catalog(open_catalog(str(catalog(tmp_path, rel_data))))
    assert rel.types.built("arm-child") is None


def test_extends_inherits_built_default(tmp_path: Path) -> None:
    path = catalog(tmp_path, {**RELEASE, "built_default": True},
                   r2={"extends": "r1", "types": {"x86-dev": {"built": False}}})
    cat = open_catalog(str(path))
    r2 = cat.release("r2")
    assert r2.types.built("x86-dev") is False
    assert r2.types.built("said-built") is True
    assert r2.types.built("device") is True
    assert cat.release("r1").types.built("x86-dev") is True


def test_toml_catalog(tmp_path: Path) -> None:
    path = tmp_path / "cat.toml"
    path.write_text("""format = 1
name = "t"
[releases.r1]
built_default = true
[releases.r1.types.device]
abstract = true
[releases.r1.types.arm-only]
parent = "device"
built = false
[releases.r1.families.pc]
defaults = []
[releases.r1.machines."pc-1.0"]
family = "pc"
version = "1.0"
default = true
""")
    [rel] = validate_catalog(open_catalog(str(path)))
    assert (rel.types.built("arm-only"), rel.types.built("device")) == (False, True)


@pytest.mark.parametrize("value,got", [("no", "a string"), (0, "an integer"), (None, "null"),
                                       ([False], "a list")])
def test_bad_built_is_a_wrong_type_with_its_path(tmp_path: Path, value: Any, got: str) -> None:
    bad = json.loads(json.dumps(RELEASE))
    bad["types"]["arm-only"]["built"] = value
    path = catalog(tmp_path, bad)
    [p] = problems(path)
    assert (p.code, p.path, p.file) == ("wrong-type", "$.releases.r1.types['arm-only'].built",
                                        str(path))
    assert p.format() == (f"{path}: $.releases.r1.types['arm-only'].built: 'built' must be "
                          f"a boolean, got {got} [wrong-type]")


def test_bad_built_default_is_a_wrong_type_with_its_path(tmp_path: Path) -> None:
    path = catalog(tmp_path, {**RELEASE, "built_default": "yes"})
    [p] = problems(path)
    assert (p.code, p.path) == ("wrong-type", "$.releases.r1.built_default")


def test_misspelt_key_is_an_unknown_key(tmp_path: Path) -> None:
    bad = json.loads(json.dumps(RELEASE))
    bad["types"]["arm-only"]["biult"] = False
    [p] = problems(catalog(tmp_path, bad))
    assert (p.code, p.hint) == ("unknown-key", "did you mean 'built'?")


def test_the_cli_reports_a_bad_value_on_one_line(tmp_path: Path) -> None:
    bad = json.loads(json.dumps(RELEASE))
    bad["types"]["arm-only"]["built"] = "no"
    path = catalog(tmp_path, bad)
    run = subprocess.run([sys.executable, "-m", "migcompat", "releases", "--catalog",
                          str(path)], capture_output=True, text=True)
    assert run.returncode == 2
    assert run.stdout == ""
    assert run.stderr.strip().splitlines() == [
        f"migcompat: error: {path}: $.releases.r1.types['arm-only'].built: 'built' must be "
        "a boolean, got a string [wrong-type]"]


# -- the bundled catalogs -------------------------------------------------------------------

PROBED = ("5.2", "7.2", "10.0")


@pytest.mark.parametrize("rid", PROBED)
def test_bundled_probed_releases_mark_what_the_build_lacks(rid: str) -> None:
    types = open_catalog("qemu").release(rid).types
    assert types.built("a15mpcore_priv") is False  # an ARM MPCore: not in x86_64
    assert types.built("riscv.sifive.plic") is False
    for name in ("virtio-blk-pci", "pvpanic", "nec-usb-xhci", "device", "pci-device"):
        assert types.built(name) is True, name
    # the file marks only the missing ones; the rest come from built_default
    raw = json.loads((DATA_DIR / "qemu" / f"{rid}.json").read_text(encoding="utf-8"))
    assert raw["built_default"] is True
    assert {t["built"] for t in raw["types"].values() if "built" in t} == {False}
    for name in ("virtio-blk-pci", "pvpanic", "nec-usb-xhci"):
        assert "built" not in raw["types"][name]


@pytest.mark.parametrize("rid", PROBED)
def test_bundled_built_types_need_no_type_the_build_lacks(rid: str) -> None:
    types = open_catalog("qemu").release(rid).types
    built = [n for n in types.names() if types.built(n)]
    assert len(built) > 500
    for name in built:
        info = types[name]
        needed = [*types.ancestors(name)[1:], *info.interfaces,
                  *([info.child.type] if info.child else [])]
        assert all(types.built(n) for n in needed), (name, needed)


def test_bundled_unprobed_releases_say_nothing() -> None:
    rel = open_catalog("qemu").release("10.2")
    assert {rel.types.built(n) for n in rel.types.names()} == {None}
    for rel in validate_catalog(open_catalog("tutorial")):
        assert {rel.types.built(n) for n in rel.types.names()} == {None}, rel.id
