"""Names of a package imported on first use (PEP 562), so that a command needing one module
of the package does not pay for all of them at start-up. The package keeps its imports
under ``TYPE_CHECKING`` for type checkers, and says where each name lives at run time::

    __getattr__ = lazy_names(globals(), {"migcompat.stream.decoder": ("Decoder",)})
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_names(namespace: dict[str, Any],
               where: Mapping[str, tuple[str, ...]]) -> Callable[[str], Any]:
    """The package's ``__getattr__``: each name imported from its module when first asked
    for, then kept in ``namespace`` (the package's globals)."""
    module_of = {name: module for module, names in where.items() for name in names}

    def get(name: str) -> Any:
        module = module_of.get(name)
        if module is None:
            raise AttributeError(f"module {namespace['__name__']!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value
    return get
