"""-object memory backends and the devices that map them: QEMU's errors, proven on the
system QEMU, and what check compares (the RAM block a mapped backend becomes)."""

from __future__ import annotations

import re
import subprocess

import pytest

from migcompat.analysis.check import check
from migcompat.catalog.load import open_catalog
from migcompat.errors import DeviceError, UsageError
from migcompat.model.devspec import parse_device
from migcompat.model.objects import parse_object
from migcompat.model.vm import VMConfig, realize_vm
from qemu_helpers import require_qemu

QEMU = open_catalog("qemu")


def config(objects: tuple[str, ...], devices: tuple[str, ...], release: str = "7.2",
           machine: str = "pc-q35-7.2") -> VMConfig:
    return VMConfig(QEMU.release(release), machine, [parse_device(d) for d in devices],
                    objects=[parse_object(o) for o in objects])


def real_qemu(objects: tuple[str, ...], devices: tuple[str, ...]) -> str | None:
    args = [require_qemu(), "-nodefaults", "-display", "none", "-S", "-M", "pc-q35-7.2",
            "-qmp", "stdio"]
    for o in objects:
        args += ["-object", o]
    for d in devices:
        args += ["-device", d]
    proc = subprocess.run(args, input='{"execute":"qmp_capabilities"}\n{"execute":"quit"}\n',
                          capture_output=True, text=True, timeout=30)
    if proc.returncode == 0:
        return None
    line = [ln for ln in proc.stderr.splitlines() if "qemu-system" in ln][-1]
    return re.sub(r"^\S*qemu-system-x86_64: (-(device|object) [^:]*: )?", "", line)


def ours(objects: tuple[str, ...], devices: tuple[str, ...]) -> str | None:
    try:
        realize_vm(config(objects, devices))
    except DeviceError as exc:
        return str(exc)
    return None


@pytest.mark.qemu
@pytest.mark.parametrize("objects,devices", [
    (("memory-backend-ram,id=mb1,size=4M",), ("ivshmem-plain,memdev=mb1",)),
    ((), ("ivshmem-plain,memdev=nope",)),
    (("memory-backend-ram,id=mb1,size=4M", "memory-backend-ram,id=mb1,size=4M"), ()),
    (("nosuch,id=x",), ()),
    (("memory-backend-ram,id=mb1",), ()),
    (("rng-builtin,id=r0",), ("ivshmem-plain,memdev=r0",)),
    (("memory-backend-ram,id=mb1,size=4M,share=on",), ("ivshmem-plain,memdev=mb1",)),
])
def test_objects_and_links_are_checked_as_qemu_does(objects: tuple[str, ...],
                                                    devices: tuple[str, ...]) -> None:
    assert ours(objects, devices) == real_qemu(objects, devices)


def test_object_syntax() -> None:
    spec = parse_object("memory-backend-ram,id=mb1,size=64M,share=on")
    assert (spec.qom_type, spec.id, spec.options) == (
        "memory-backend-ram", "mb1", (("size", "64M"), ("share", "on")))
    assert parse_object("qom-type=memory-backend-ram,id=m,size=1G").qom_type == \
        "memory-backend-ram"
    with pytest.raises(UsageError, match="Parameter 'id' is missing"):
        parse_object("memory-backend-ram,size=1G")


def test_a_mapped_backend_must_have_the_same_size_on_the_destination() -> None:
    mine = config(("memory-backend-ram,id=mb1,size=4M",), ("ivshmem-plain,memdev=mb1",))
    same = check(mine, config(("memory-backend-ram,id=mb1,size=4M",),
                              ("ivshmem-plain,memdev=mb1",), release="10.0"))
    assert not [r for r in same.breaking() if r.section == "ram" and r.property]
    bigger = check(mine, config(("memory-backend-ram,id=mb1,size=8M",),
                                ("ivshmem-plain,memdev=mb1",), release="10.0"))
    assert [r.code for r in bigger.breaking() if r.property == "memdev"] == ["ramblock-size"]
    unused = check(config(("memory-backend-ram,id=mb1,size=4M",), ()), config((), ()))
    assert unused.loads  # a backend no device maps is not migrated
