"""Global properties: ``{driver, property, value, optional}`` and QEMU's way of applying them.

Reference §1 and §2.3: entries are applied in list order to every object whose type *is a*
``driver`` (exact type, ancestor or interface); every matching entry applies and the later
one wins, whatever the specificity. A missing property is an error unless ``optional``.
"""

from __future__ import annotations

from dataclasses import dataclass

from migcompat.errors import GlobalPropertyError, UsageError


@dataclass(frozen=True)
class GlobalProperty:
    driver: str
    property: str
    value: str
    optional: bool = False
    # Where the entry comes from, for provenance.
    source: str = "global"  # compat | sugar | global
    table: str = ""
    index: int = -1
    file: str = ""
    line: int = 0

    def spec(self) -> str:
        return f"{self.driver}.{self.property}={self.value}"


def parse_global(text: str) -> GlobalProperty:
    """Parse ``-global`` syntax: ``DRIVER.PROP=VALUE`` or ``driver=D,property=P,value=V``.

    Short form: the driver stops at the first ``.`` (QEMU also stops at ``=``), the property
    at ``=``, and the value is the rest, commas included (qemu_global_option).
    """
    if text.startswith("driver=") or ",property=" in text:
        parts: dict[str, str] = {}
        for item in text.split(","):
            key, sep, val = item.partition("=")
            if not sep or key not in ("driver", "property", "value"):
                raise UsageError(f"invalid global '{text}': unknown key '{key}'")
            parts[key] = val
        missing = [k for k in ("driver", "property", "value") if k not in parts]
        if missing:
            raise UsageError(f"invalid global '{text}': missing {', '.join(missing)}")
        return GlobalProperty(parts["driver"], parts["property"], parts["value"])
    head, eq, value = text.partition("=")
    driver, dot, prop = head.partition(".")
    if not eq or not dot or not driver or not prop:
        raise UsageError(f"invalid global '{text}': expected DRIVER.PROPERTY=VALUE")
    if len(driver) > 63 or len(prop) > 63:
        raise UsageError(f"invalid global '{text}': names are at most 63 characters")
    return GlobalProperty(driver, prop, value)


__all__ = ["GlobalProperty", "GlobalPropertyError", "parse_global"]


def entry_text(entry: GlobalProperty) -> str:
    """The entry as QEMU writes it in a compat table: ``{ "driver", "prop", "value" },``."""
    return f'{{ "{entry.driver}", "{entry.property}", "{entry.value}" }},'
