"""Trees as releases (qemu/source/cached.py): trees not yet cached are imported side by
side, one process each, and each lands in the cache; a cached tree is not imported again.
The import itself is stood in for by a bundled release (the lint tree tests run the real
one): what is tested is who imports what, and what comes back."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from qemu_source_trees import build_tree

from migcompat.catalog.cache import store
from migcompat.catalog.load import open_catalog
from migcompat.errors import UsageError
from migcompat.model.release import Release
from migcompat.qemu.source import cached


@pytest.fixture
def imports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each stand-in import appends 'PID TREE' to the returned log (children too: they are
    forks of this process, patched module and all)."""
    monkeypatch.setenv("MIGCOMPAT_CACHE", str(tmp_path / "cache"))
    log = tmp_path / "imports.log"
    releases = {"a": "qemu-5.1", "b": "qemu-5.2"}

    def stand_in(root: Path, key: str) -> Release:
        with log.open("a") as f:
            f.write(f"{os.getpid()} {root.name}\n")
        release = open_catalog("tutorial").release(releases[root.name])
        store(cached._entry(key), release)
        return release
    monkeypatch.setattr(cached, "_import", stand_in)
    return log


def _trees(tmp_path: Path) -> list[Path]:
    return [build_tree(tmp_path / "a", "gen1"), build_tree(tmp_path / "b", "gen2")]


def test_two_new_trees_are_imported_in_two_processes(tmp_path: Path, imports: Path) -> None:
    got = cached.tree_releases(_trees(tmp_path))
    assert [r.id for r, _ in got] == ["qemu-5.1", "qemu-5.2"]
    done = [line.split() for line in imports.read_text().splitlines()]
    assert sorted(tree for _, tree in done) == ["a", "b"]
    assert len({pid for pid, _ in done}) == 2
    assert str(os.getpid()) in {pid for pid, _ in done}  # one of them here
    assert all(cached._cached(k) is not None for _, k in got)
    again = cached.tree_releases(_trees(tmp_path))  # both cached: no import at all
    assert [r.id for r, _ in again] == ["qemu-5.1", "qemu-5.2"]
    assert len(imports.read_text().splitlines()) == 2


def test_one_new_tree_is_imported_here(tmp_path: Path, imports: Path) -> None:
    a, b = _trees(tmp_path)
    cached.tree_releases([a])
    got = cached.tree_releases([a, b])
    assert [r.id for r, _ in got] == ["qemu-5.1", "qemu-5.2"]
    assert [line.split() for line in imports.read_text().splitlines()] == [
        [str(os.getpid()), "a"], [str(os.getpid()), "b"]]


def test_a_directory_that_is_not_a_tree_is_refused_before_any_import(
        tmp_path: Path, imports: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="not a QEMU source tree"):
        cached.tree_releases([_trees(tmp_path)[0], tmp_path / "empty"])
    assert not imports.exists()
