"""Catalogs: sets of releases read from TOML (hand-written) or JSON (generated) files.

A catalog file has ``format``, ``name``, ``description`` and ``releases``; each release is
inline or a reference ``{file = "7.2.json"}`` to a release file beside it (optionally with
``state = "7.2.state.json"``, the device state captured from the build), loaded only when
asked for (so ``check`` between two releases reads two files, not all of them). A single
release file (the output of ``import-source`` or ``probe``) is also a catalog of one.
"""

from __future__ import annotations

import copy
import functools
import json
import tomllib
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from migcompat.catalog.cache import cached
from migcompat.catalog.cache import key as cache_key
from migcompat.catalog.capture_loader import cached_capture
from migcompat.catalog.checker import Checker, did_you_mean, path_key
from migcompat.catalog.options_loader import FILE as OPTIONS_FILE
from migcompat.catalog.options_loader import machine_options
from migcompat.catalog.release_loader import build_release
from migcompat.errors import CatalogError, UsageError
from migcompat.model.capture import Capture
from migcompat.model.release import Release

FORMAT_VERSION = 1
DATA_DIR = Path(__file__).parent / "data"
CATALOG_KEYS = ("format", "name", "description", "releases")


class _DuplicateKey(ValueError):
    pass


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose keys are all different: JSON allows a repeated key and keeps the
    last, so a catalog with a release listed twice would silently lose one (TOML refuses)."""
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        twice = next(k for k, _ in pairs if k in seen or seen.add(k))  # type: ignore[func-returns-value]
        raise _DuplicateKey(twice)
    return out


def read_data(path: Path) -> dict[str, Any]:
    """Read a TOML or JSON file; every failure becomes a CatalogError naming the file."""
    chk = Checker(str(path))
    try:
        raw = path.read_bytes()
    except OSError as exc:
        chk.add("$", "unreadable", f"cannot read file: {exc.strerror or exc}")
        raise CatalogError(chk.problems) from None
    try:
        is_json = path.suffix == ".json"
        data = (json.loads(raw, object_pairs_hook=_unique) if is_json
                else tomllib.loads(raw.decode("utf-8")))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        chk.add("$", "syntax", f"invalid TOML: {exc}")
        raise CatalogError(chk.problems) from None
    except _DuplicateKey as exc:
        chk.add("$", "duplicate-key", f"invalid JSON: the key '{exc}' appears twice in one "
                "object (the first would be silently lost)")
        raise CatalogError(chk.problems) from None
    except json.JSONDecodeError as exc:
        chk.add("$", "syntax", f"invalid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})")
        raise CatalogError(chk.problems) from None
    if not isinstance(data, dict):
        chk.add("$", "wrong-type", "the top level must be a table/object")
        raise CatalogError(chk.problems)
    return data


def _check_format(data: dict[str, Any], chk: Checker, path: str = "$") -> None:
    fmt = data.get("format")
    if fmt != FORMAT_VERSION:
        chk.add(path_key(path, "format"), "format-version",
                f"unsupported catalog format {fmt!r}; this migcompat reads format "
                f"{FORMAT_VERSION}", fmt)


@dataclass
class ReleaseRef:
    id: str
    file: Path
    path: str  # JSON path of the release inside its file
    data: dict[str, Any] | None = None  # inline data, or None until a file is read
    state: Path | None = None  # the captured device state beside it (probe-state)


@functools.cache
def _capture(file: str) -> Capture:
    """A release's captured state, read once per process (catalog/capture_loader.py)."""
    return cached_capture(file)


@dataclass
class Catalog:
    name: str
    path: Path
    description: str = ""
    refs: dict[str, ReleaseRef] = field(default_factory=dict)
    _cache: dict[str, Release] = field(default_factory=dict)

    def release_ids(self) -> list[str]:
        return list(self.refs)

    def has(self, release_id: str) -> bool:
        return release_id in self.refs

    def release(self, release_id: str) -> Release:
        if release_id in self._cache:
            return self._cache[release_id]
        if release_id not in self.refs:
            hint = did_you_mean(release_id, self.refs)
            raise UsageError(
                f"unknown release '{release_id}' in catalog '{self.name}'"
                f"{'; ' + hint if hint else ''}; known: {', '.join(self.refs)}")
        release = cached(release_id, self._files(), partial(self._build, release_id))
        ref = self.refs[release_id]
        if ref.state is not None:
            release.capture_loader = partial(_capture, str(ref.state))
        options = ref.file.parent / OPTIONS_FILE
        if options.is_file():
            release.options_loader = partial(machine_options, str(options), release_id)
        self._cache[release_id] = release
        return release

    def content_key(self, release_id: str) -> str:
        """A hash of what ``release_id`` is built from and of the code that builds it (the
        key under which results computed from it may be cached); raises OSError."""
        return cache_key(release_id, self._files())

    def _files(self) -> list[Path]:
        """Every file the catalog's releases are read from (the cache's key)."""
        return sorted({self.path, *(r.file for r in self.refs.values())})

    def _build(self, release_id: str) -> Release:
        data, chk, path = self._raw(release_id, set())
        release = build_release(data, chk, path, release_id)
        if chk.problems or release is None:
            raise CatalogError(chk.problems)
        return release

    def _raw(self, release_id: str, seen: set[str]) -> tuple[dict[str, Any], Checker, str]:
        ref = self.refs[release_id]
        if ref.data is None:
            ref.data = read_data(ref.file)
            fchk = Checker(str(ref.file))
            _check_format(ref.data, fchk)
            if fchk.problems:
                raise CatalogError(fchk.problems)
        data = dict(ref.data)
        data.pop("format", None)
        chk = Checker(str(ref.file))
        base_id = data.pop("extends", None)
        if base_id is not None:
            if base_id not in self.refs or base_id in seen | {release_id}:
                chk.add(path_key(ref.path, "extends"), "unknown-release",
                        f"release '{release_id}' extends unknown release '{base_id}'",
                        base_id, did_you_mean(str(base_id), self.refs))
                raise CatalogError(chk.problems)
            base, _, _ = self._raw(base_id, seen | {release_id})
            base.pop("id", None)
            data = merge(base, data)
        data.setdefault("id", release_id)
        return data, chk, ref.path


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Deep merge for ``extends``: tables merge key by key, anything else is replaced."""
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def bundled_names() -> list[str]:
    names = [p.stem for p in DATA_DIR.glob("*.toml")]
    names += [p.parent.name for p in DATA_DIR.glob("*/catalog.toml")]
    return sorted(names)


def is_path(value: str) -> bool:
    return "/" in value or value.endswith((".toml", ".json"))


def open_catalog(name_or_path: str) -> Catalog:
    """A bundled catalog by name, or a catalog/release file by path."""
    if is_path(name_or_path):
        path = Path(name_or_path)
        if not path.exists():
            raise UsageError(f"catalog file not found: {path}")
        if path.is_dir():
            path = path / "catalog.toml"
        return load_catalog_file(path)
    for candidate in (DATA_DIR / f"{name_or_path}.toml", DATA_DIR / name_or_path / "catalog.toml"):
        if candidate.exists():
            return load_catalog_file(candidate)
    hint = did_you_mean(name_or_path, bundled_names())
    raise UsageError(f"unknown catalog '{name_or_path}'{'; ' + hint if hint else ''}; "
                     f"bundled: {', '.join(bundled_names())} (or give a path)")


def load_catalog_file(path: Path) -> Catalog:
    data = read_data(path)
    chk = Checker(str(path))
    _check_format(data, chk)
    if "releases" not in data and "id" in data:
        # A single release file is a catalog of one.
        rid = str(data["id"])
        cat = Catalog(name=path.stem, path=path, description=str(data.get("description", "")))
        # `probe --state` names the captured-state file beside the release file.
        state = data.pop("state", None)
        if state is not None and not (isinstance(state, str) and (path.parent / state).is_file()):
            chk.add("$.state", "unreadable", f"captured state file not found: {state}")
        cat.refs[rid] = ReleaseRef(rid, path, "$", data,
                                   state=path.parent / state if isinstance(state, str) else None)
        if chk.problems:
            raise CatalogError(chk.problems)
        return cat
    chk.keys(data, "$", CATALOG_KEYS, ("releases",))
    cat = Catalog(name=chk.typed(data, "name", "$", (str,), path.stem), path=path,
                  description=chk.typed(data, "description", "$", (str,), ""))
    releases = chk.table(data.get("releases", {}), "$.releases") or {}
    for rid, body in releases.items():
        p = path_key("$.releases", rid)
        body = chk.table(body, p)
        if body is None:
            continue
        if "file" in body and set(body) <= {"file", "state"}:
            if not all(isinstance(body[k], str) for k in body):
                chk.add(p, "wrong-type", "'file' and 'state' must be strings")
                continue
            state = path.parent / body["state"] if "state" in body else None
            if state is not None and not state.is_file():
                chk.add(path_key(p, "state"), "unreadable",
                        f"captured state file not found: {state}")
                continue
            cat.refs[rid] = ReleaseRef(rid, path.parent / body["file"], "$", state=state)
        else:
            cat.refs[rid] = ReleaseRef(rid, path, p, body)
    if chk.problems:
        raise CatalogError(chk.problems)
    return cat


def validate_catalog(cat: Catalog) -> list[Release]:
    """Load every release, collecting the problems of all of them before raising."""
    problems = []
    releases = []
    for rid in cat.release_ids():
        try:
            releases.append(cat.release(rid))
        except CatalogError as exc:
            problems.extend(exc.problems)
    if problems:
        raise CatalogError(problems)
    return releases


def find_release(release_id: str, catalog: str | None) -> tuple[Catalog, Release]:
    """Resolve a release id in the given catalog, or in the bundled ones when none is given."""
    if catalog is not None:
        cat = open_catalog(catalog)
        return cat, cat.release(release_id)
    known: list[str] = []
    for name in bundled_names():
        cat = open_catalog(name)
        if cat.has(release_id):
            return cat, cat.release(release_id)
        known += cat.release_ids()
    hint = did_you_mean(release_id, known)
    raise UsageError(f"unknown release '{release_id}'{'; ' + hint if hint else ''}; "
                     f"known: {', '.join(known)} (use --catalog NAME|PATH)")
