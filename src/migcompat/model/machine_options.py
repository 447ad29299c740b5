"""Machine options: ``-machine pc-q35-7.2,smm=off,vmport=off``, parsed and checked as QEMU
does against the options the build lists for the family (catalog/options_loader.py).

What they do to the migration: most change the board (vmport=off drops vmport and
vmmouse, hpet=off the HPET, sata=off q35's AHCI, usb=on adds a controller, kernel= adds
option ROMs...), so two sides must agree on them; a few are the host's alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from migcompat.errors import DeviceError, PropertyValueError
from migcompat.model.devspec import split_options
from migcompat.model.props import ON_OFF_AUTO, Value, parse_bool, parse_enum, parse_int, parse_size

# Options that do not change what the guest has or what migrates: memory merging and
# core dumps, the vmdesc's presence (the stream's description, not the state), device-tree
# knobs x86 does not use, and the bus-lock rate limit (host throttling).
HOST_ONLY = frozenset({"dump-guest-core", "mem-merge", "suppress-vmdesc", "dumpdtb",
                       "phandle-start", "dt-compatible", "bus-lock-ratelimit", "accel"})
# accel=kvm|tcg in -machine is QEMU's legacy spelling of -accel; the accelerator is
# outside the machine's properties.
LEGACY = frozenset({"accel"})


def parse_machine(text: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    """``pc-q35-7.2,smm=off`` -> ("pc-q35-7.2", (("smm", "off"),)); ``type=`` names it."""
    items = split_options(text)
    name, options = "", []
    for pos, item in enumerate(items):
        key, eq, value = item.partition("=")
        if pos == 0 and not eq:
            name = key
        elif key == "type":
            name = value
        else:
            options.append((key, value))
    return name, tuple(options)


def _value(name: str, kind: str, text: str) -> Value:
    if kind == "OnOffAuto":
        return parse_enum(name, text, ON_OFF_AUTO)
    if kind == "bool":
        return parse_bool(name, text)
    if kind == "size":
        return parse_size(name, text)
    if kind in ("int", "uint64_t", "uint64", "uint32", "int64"):
        return parse_int(name, text, 64, kind == "int", kind)
    return text  # strings, links, and the structured ones (-smp's, -boot's) as written


def machine_values(machine_type: str, known: Mapping[str, str] | None,
                   given: Sequence[tuple[str, str]]) -> dict[str, Value]:
    """The options given, typed; QEMU's refusal for an unknown one or a bad value. With no
    list for the family (``known`` None), the values are kept as written."""
    out: dict[str, Value] = {}
    for name, text in given:
        if name in LEGACY or known is None:
            out[name] = text
            continue
        kind = known.get(name)
        if kind is None:
            raise DeviceError(f"Property '{machine_type}-machine.{name}' not found")
        try:
            out[name] = _value(name, kind, text)
        except PropertyValueError as exc:
            raise DeviceError(str(exc)) from None
    return out
