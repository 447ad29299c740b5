"""Start-up: ``migcompat --help`` lists every command without importing any of them, and
a release's second load comes from the catalog cache (catalog/cache.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from migcompat.catalog import cache
from migcompat.catalog.load import open_catalog
from migcompat.cli.main import COMMAND_MODULES, SUMMARIES, cli


def test_help_lists_every_command_on_one_line_without_importing_them() -> None:
    assert set(SUMMARIES) == set(COMMAND_MODULES)
    code = ("import sys; from migcompat.cli.main import main\n"
            "try:\n main(['--help'])\nexcept SystemExit: pass\n"
            "print([m for m in sys.modules if m.startswith('migcompat.cli.') and "
            "m.rpartition('.')[2] in {v[0] for v in "
            "__import__('migcompat.cli.main').cli.main.COMMAND_MODULES.values()}])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    listing, imported = out.rsplit("\n", 2)[0], out.rsplit("\n", 2)[1]
    assert imported == "[]", imported
    for name in COMMAND_MODULES:
        line = next(ln for ln in listing.splitlines() if ln.strip().startswith(name + " "))
        assert SUMMARIES[name] in line  # one line each: no wrapped summary
    assert sorted(cli.list_commands(None)) == sorted(COMMAND_MODULES)  # type: ignore[arg-type]


def test_every_listed_command_imports() -> None:
    for name in COMMAND_MODULES:
        assert cli.get_command(None, name) is not None, name  # type: ignore[arg-type]


def _fresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MIGCOMPAT_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "catalogs"


def test_a_release_is_built_once_then_loaded(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    where = _fresh(tmp_path, monkeypatch)
    first = open_catalog("qemu").release("7.2")
    entries = list(where.glob("*.pickle"))
    assert len(entries) == 1 and entries[0].stat().st_mode & 0o077 == 0
    second = open_catalog("qemu").release("7.2")
    assert second is not first
    assert second.machines.default() == first.machines.default()
    assert sorted(second.types.properties("virtio-blk-device")) == \
        sorted(first.types.properties("virtio-blk-device"))
    assert second.capture_loader is not None  # the loaders are attached after the cache


def test_a_changed_catalog_file_is_a_new_entry(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    where = _fresh(tmp_path, monkeypatch)
    src = Path(open_catalog("tutorial").path)
    copy = tmp_path / "cat"
    subprocess.run(["cp", "-r", str(src.parent), str(copy)], check=True)
    cat = open_catalog(str(copy / src.name))
    rid = cat.release_ids()[0]
    cat.release(rid)
    one = set(where.glob("*.pickle"))
    edited = copy / src.name
    edited.write_text(edited.read_text() + "\n# edited\n")
    open_catalog(str(edited)).release(rid)
    assert len(set(where.glob("*.pickle")) - one) == 1


def test_a_broken_or_foreign_entry_is_rebuilt(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    where = _fresh(tmp_path, monkeypatch)
    open_catalog("qemu").release("5.2")
    (entry,) = where.glob("*.pickle")
    entry.write_bytes(b"not a pickle")
    assert open_catalog("qemu").release("5.2").id == "5.2"  # rebuilt, and stored again
    assert entry.read_bytes() != b"not a pickle"
    os.chmod(entry, 0o666)  # writable by others: never loaded
    assert not cache.trusted(entry)


def test_the_cache_can_be_turned_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    where = _fresh(tmp_path, monkeypatch)
    monkeypatch.setenv("MIGCOMPAT_CATALOG_CACHE", "off")
    open_catalog("qemu").release("5.2")
    assert not where.exists()
