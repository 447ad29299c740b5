"""A release: one version of an emulator product with its types, machines and tables."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from migcompat.model.machines import MachineSet
from migcompat.model.types import TypeRegistry


@dataclass
class Release:
    id: str
    types: TypeRegistry
    machines: MachineSet
    product: str = "qemu"
    version: str = ""
    debian_version: str = ""
    description: str = ""
    origin: str = ""
    file: str = ""
    enums: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # Device-state schemas by vmsd name; filled by the vmstate layer (migration issue).
    vmstate: Mapping[str, Any] = field(default_factory=dict)
    # Sections every VM of this release sends besides its devices' (e.g. timer, ram).
    board: Mapping[str, Any] = field(default_factory=dict)

    def label(self) -> str:
        return f"{self.product} {self.version}".strip() if self.version else self.id
