"""Start-up: the methods ``@dataclass`` writes, compiled once and kept between runs.

``@dataclass`` writes each class's ``__init__``, ``__eq__``, ``__repr__``... as source text
and compiles it when the class is created. A command imports about 60 dataclasses, and
compiling their 300 small functions was a third of its imports (about 35 ms of a 0.25 s
``check``). The text is the same on every run, so its code objects are kept, as ``.pyc``
files keep a module's (marshal, one file per Python version, in ``cache_root("startup")``),
and reused: what runs is exactly what dataclasses would have compiled from the same text.

Only CPython 3.11 is served: its dataclasses builds every method through
``_create_fn(name, args, body, *, globals, locals, return_type)``, which is replaced by one
that builds the same text and looks the code up before compiling it. Another version, a
``_create_fn`` of another shape, ``MIGCOMPAT_CATALOG_CACHE=off`` or any problem with the
file leaves dataclasses as it is. The file is used only when it is as trusted as the
catalog's pickles (``catalog.cache.trusted``): marshalled code runs when it is called.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import marshal
import sys
from pathlib import Path
from types import CodeType
from typing import Any

from migcompat.catalog.cache import cache_root, enabled, trusted, write_whole

KEEP = 4000  # entries; beyond it, only those the last run used are kept
_SHAPE = ("name", "args", "body", "globals", "locals", "return_type")


def _path() -> Path:
    return cache_root("startup") / f"dataclasses-{sys.implementation.cache_tag}.marshal"


def _load(path: Path) -> dict[str, CodeType]:
    with contextlib.suppress(Exception):
        if trusted(path):
            codes = marshal.loads(path.read_bytes())
            if isinstance(codes, dict):
                return codes
    return {}


def _save(path: Path, codes: dict[str, CodeType], used: set[str]) -> None:
    if len(codes) > KEEP:
        codes = {text: code for text, code in codes.items() if text in used}
    with contextlib.suppress(Exception):  # no file: the next run compiles again
        write_whole(path, marshal.dumps(codes))


def install() -> None:
    """Serve dataclasses' methods from the kept code, when this Python is one it knows."""
    original = getattr(dataclasses, "_create_fn", None)
    if (sys.implementation.name != "cpython" or sys.version_info[:2] != (3, 11)
            or original is None or not enabled()
            or original.__code__.co_varnames[:len(_SHAPE)] != _SHAPE):
        return
    path = _path()
    codes = _load(path)
    used: set[str] = set()
    compiled = [0]

    # The text is built exactly as CPython 3.11's dataclasses._create_fn builds it.
    def create_fn(name: str, args: list[str], body: list[str], *,
                  globals: dict[str, Any] | None = None,
                  locals: dict[str, Any] | None = None,
                  return_type: Any = dataclasses.MISSING) -> Any:
        if locals is None:
            locals = {}
        annotation = ""
        if return_type is not dataclasses.MISSING:
            locals["_return_type"] = return_type
            annotation = "->_return_type"
        inner = "\n".join(f"  {b}" for b in body)
        text = (f"def __create_fn__({', '.join(locals.keys())}):\n"
                f" def {name}({','.join(args)}){annotation}:\n{inner}\n return {name}")
        code = codes.get(text)
        if code is None:
            code = codes[text] = compile(text, "<string>", "exec")
            compiled[0] += 1
        used.add(text)
        ns: dict[str, Any] = {}
        exec(code, globals, ns)  # dataclasses' own text, as it would run it
        return ns["__create_fn__"](**locals)

    def save() -> None:
        if compiled[0]:  # nothing new: the file is already what this run would write
            _save(path, codes, used)

    dataclasses._create_fn = create_fn  # type: ignore[attr-defined]
    atexit.register(save)
