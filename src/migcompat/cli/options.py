"""Options shared by many commands, each defined once (the pip-tools habit)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from migcompat.errors import UsageError
from migcompat.model.devspec import DeviceSpec, parse_device
from migcompat.model.globals import GlobalProperty, parse_global
from migcompat.model.props import parse_size

F = TypeVar("F", bound=Callable[..., Any])

catalog_option = click.option(
    "--catalog", "catalog", metavar="NAME|PATH", default=None,
    help="Bundled catalog name (tutorial, qemu) or a catalog/release file path. "
         "Default: the bundled catalog that has the release.")
format_option = click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
    help="Output format. JSON is versioned (\"schema\": 1), see docs/json.md.")
device_option = click.option(
    "--device", "devices", multiple=True, metavar="SPEC",
    help="A device, QEMU syntax: virtio-blk-pci,id=vb0,num-queues=2. Repeatable.")
global_option = click.option(
    "--global", "globals_", multiple=True, metavar="D.P=V",
    help="A user global property, QEMU syntax: virtio-blk-device.num-queues=1. Repeatable.")
smp_option = click.option("--smp", type=click.IntRange(1, 4096), default=1, show_default=True,
                          help="Boot vCPUs.")
mem_option = click.option("-m", "--memory", "mem", default="128M", show_default=True,
                          metavar="SIZE", help="Guest RAM size (QEMU size syntax: 64M, 1G).")


def parse_devices(specs: tuple[str, ...]) -> list[DeviceSpec]:
    return [parse_device(s) for s in specs]


def parse_globals(specs: tuple[str, ...]) -> list[GlobalProperty]:
    return [parse_global(s) for s in specs]


def parse_mem(text: str) -> int:
    # -m without a suffix means MiB in QEMU.
    if text.isdigit():
        return int(text) << 20
    try:
        return parse_size("m", text)
    except Exception as exc:
        raise UsageError(f"invalid memory size '{text}'") from exc


def vm_options(func: F) -> F:
    for opt in reversed([device_option, global_option, smp_option]):
        func = opt(func)
    return func
