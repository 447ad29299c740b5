"""The methods dataclasses writes are compiled once and then served from the kept code
(cli/startup.py): the second process compiles none, its classes behave as dataclasses
made them, and a file others may write is not used."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from migcompat.cli import startup

# A process that imports the CLI (installing the cache), then makes a frozen dataclass and
# prints how many functions it had to compile, and what the class does.
PROBE = """
import dataclasses, builtins
import migcompat.cli
made = []
real = builtins.compile
builtins.compile = lambda src, *a, **k: (made.append(src), real(src, *a, **k))[1]
@dataclasses.dataclass(frozen=True)
class Point:
    x: int
    y: int = 2
p = Point(1)
try:
    p.x = 5
    frozen = False
except dataclasses.FrozenInstanceError:
    frozen = True
print(sum('__create_fn__' in s for s in made), repr(p), p == Point(1, 2), frozen,
      hash(p) == hash(Point(1, 2)))
"""

needs_311 = pytest.mark.skipif(sys.version_info[:2] != (3, 11) or
                               sys.implementation.name != "cpython",
                               reason="the cache serves CPython 3.11's dataclasses only")


def _run(cache: Path) -> list[str]:
    env = {**os.environ, "MIGCOMPAT_CACHE": str(cache)}
    env.pop("MIGCOMPAT_CATALOG_CACHE", None)
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                         check=True, env=env).stdout
    return out.split()


@needs_311
def test_second_process_compiles_none_and_classes_behave(tmp_path: Path) -> None:
    first = _run(tmp_path)
    assert int(first[0]) > 0  # __init__, __repr__, __eq__, __hash__, __setattr__ ...
    second = _run(tmp_path)
    assert second[0] == "0"
    assert first[1:] == second[1:] == ["Point(x=1,", "y=2)", "True", "True", "True"]
    (kept,) = (tmp_path / "startup").iterdir()
    assert kept.stat().st_mode & 0o077 == 0


@needs_311
def test_a_file_others_can_write_is_not_used(tmp_path: Path) -> None:
    _run(tmp_path)
    (kept,) = (tmp_path / "startup").iterdir()
    kept.chmod(0o666)
    assert int(_run(tmp_path)[0]) > 0


@needs_311
def test_a_broken_file_means_compiling(tmp_path: Path) -> None:
    _run(tmp_path)
    (kept,) = (tmp_path / "startup").iterdir()
    kept.write_bytes(b"\x00not marshal")
    assert int(_run(tmp_path)[0]) > 0
    assert _run(tmp_path)[0] == "0"  # and the next run has it again


def test_another_shape_of_create_fn_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    import dataclasses

    def _create_fn(text: str) -> None:  # not 3.11's signature
        raise AssertionError("never called")
    monkeypatch.setattr(dataclasses, "_create_fn", _create_fn)
    startup.install()
    assert dataclasses._create_fn is _create_fn  # type: ignore[attr-defined]


def test_cache_off_leaves_dataclasses_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    import dataclasses

    monkeypatch.setenv("MIGCOMPAT_CATALOG_CACHE", "off")
    before = dataclasses._create_fn  # type: ignore[attr-defined]
    startup.install()
    assert dataclasses._create_fn is before  # type: ignore[attr-defined]
