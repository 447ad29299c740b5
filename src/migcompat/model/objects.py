"""User-created objects (``-object memory-backend-ram,id=mb1,size=64M``): the backends that
devices link to (``ivshmem-plain,memdev=mb1``), checked as QEMU's ``-object`` and link
properties check them (qom/object_interfaces.c, backends/hostmem.c, qom/object.c).

A memory backend's RAM becomes a RAM block of the migration once a device maps it
(ivshmem, pc-dimm, nvdimm register it): its size must then match on the destination.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from migcompat.errors import DeviceError, PropertyValueError, UsageError
from migcompat.model.devspec import split_options
from migcompat.model.props import parse_bool, parse_size
from migcompat.model.release import Release

BACKEND = "memory-backend"
# The properties of a memory backend that say what RAM the guest gets (hostmem.c): its size,
# and whether it is shared with other processes (a shared backend's RAM is migrated only
# with x-ignore-shared off). Others (prealloc, policy, host-nodes...) are host-side.
SIZED = ("size",)
FLAGS = ("share",)


@dataclass(frozen=True)
class ObjectSpec:
    qom_type: str
    id: str
    options: tuple[tuple[str, str], ...] = ()

    def text(self) -> str:
        return ",".join([self.qom_type, f"id={self.id}",
                         *(f"{k}={v.replace(',', ',,')}" for k, v in self.options)])


@dataclass(frozen=True)
class UserObject:
    """A created object: for a memory backend, its size in bytes and ``share``."""

    qom_type: str
    id: str
    size: int | None = None
    share: bool = False

    def is_backend(self, release: Release) -> bool:
        return release.types.is_a(self.qom_type, BACKEND)


def parse_object(text: str) -> ObjectSpec:
    """``TYPE,id=ID,KEY=VALUE...`` (or ``qom-type=TYPE``), QEMU's -object syntax."""
    qom_type, obj_id, options = "", "", []
    for pos, item in enumerate(split_options(text)):
        key, eq, value = item.partition("=")
        if pos == 0 and not eq:
            qom_type = key
        elif not eq:
            raise UsageError(f"invalid object spec '{text}': '{item}' is not KEY=VALUE")
        elif key == "qom-type":
            qom_type = value
        elif key == "id":
            obj_id = value
        else:
            options.append((key, value))
    if not qom_type:
        raise UsageError(f"invalid object spec '{text}': Parameter 'qom-type' is missing")
    if not obj_id:
        raise UsageError(f"invalid object spec '{text}': Parameter 'id' is missing")
    return ObjectSpec(qom_type, obj_id, tuple(options))


def create_objects(release: Release, specs: Sequence[ObjectSpec]) -> dict[str, UserObject]:
    """The objects, by id, or QEMU's refusal (it will not start)."""
    out: dict[str, UserObject] = {}
    for spec in specs:
        info = release.types.get(spec.qom_type)
        if info is None or info.abstract:
            raise DeviceError(f"Parameter 'qom-type' does not accept value '{spec.qom_type}'")
        if spec.id in out:
            raise DeviceError(f"Duplicate ID '{spec.id}' for object")
        opts = dict(spec.options)
        size, share = None, False
        if release.types.is_a(spec.qom_type, BACKEND):
            if "size" not in opts:
                raise DeviceError("Parameter 'size' is missing")
            try:
                size = parse_size("size", opts["size"])
                share = parse_bool("share", opts.get("share", "off"))
            except PropertyValueError as exc:
                raise DeviceError(str(exc)) from None
        out[spec.id] = UserObject(spec.qom_type, spec.id, size, share)
    return out
