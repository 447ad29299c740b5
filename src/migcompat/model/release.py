"""A release: one version of an emulator product with its types, machines and tables."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from migcompat.model.capture import Capture
from migcompat.model.machines import MachineSet
from migcompat.model.types import TypeRegistry
from migcompat.vmstate.schema import VMStateDescription


@dataclass(frozen=True)
class BoardSection:
    """A section the board itself sends: one per vCPU (``per_cpu``) or one in all."""

    vmsd: str
    per_cpu: bool = False
    idstr: str = ""


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
    # Device-state schemas by vmsd name.
    vmstate: Mapping[str, VMStateDescription] = field(default_factory=dict)
    # Sections every VM of this release sends besides its devices' (cpu, timer...).
    board: tuple[BoardSection, ...] = ()
    # What the real build's VMs send, captured from the binary: read when first asked for
    # (the catalog gives the reader, catalog/capture_loader.py); None without a capture.
    capture_loader: Callable[[], Capture] | None = field(default=None, compare=False,
                                                          repr=False)
    # The machine options each family takes, as the build lists them: option -> QAPI type
    # (catalog/options_loader.py); None when nobody read them from a build.
    options_loader: Callable[[str], Mapping[str, str] | None] | None = field(
        default=None, compare=False, repr=False)

    @property
    def has_capture(self) -> bool:
        return self.capture_loader is not None

    def capture(self) -> Capture | None:
        return self.capture_loader() if self.capture_loader is not None else None

    def machine_options(self, family: str) -> Mapping[str, str] | None:
        return self.options_loader(family) if self.options_loader is not None else None

    def label(self) -> str:
        return f"{self.product} {self.version}".strip() if self.version else self.id
