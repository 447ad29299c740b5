"""-smp beyond what a machine type takes: the model refuses it in QEMU's words, and takes
what QEMU takes (isapc and none one vCPU, pc-i440fx 255, pc-q35 288/1024/4096 by version,
microvm 288), on the real 7.2 and 10.0 builds."""

from __future__ import annotations

import subprocess

import pytest

from migcompat.catalog.load import open_catalog
from migcompat.errors import DeviceError
from migcompat.model.vm import VMConfig, realize_vm

pytestmark = pytest.mark.qemu

CATALOG = open_catalog("qemu")


def real(release: str, machine: str, smp: int) -> str | None:
    """QEMU's refusal of ``-smp`` (None when it starts), without the program name."""
    from qemu_migrations.migration_cases import get_build

    b = get_build(release)
    proc = subprocess.run([b.binary, *b.args(), "-nodefaults", "-display", "none", "-S",
                           "-M", machine, "-smp", str(smp), "-qmp", "stdio"], env=b.env,
                          input='{"execute":"qmp_capabilities"}\n{"execute":"quit"}\n',
                          capture_output=True, text=True, timeout=60)
    if proc.returncode == 0:
        return None
    return proc.stderr.strip().splitlines()[-1].split(": ", 1)[1]


def ours(release: str, machine: str, smp: int) -> str | None:
    try:
        realize_vm(VMConfig(CATALOG.release(release), machine, [], smp=smp))
    except DeviceError as exc:
        return str(exc)
    return None


@pytest.mark.parametrize(("release", "machine", "smp"), [
    ("7.2", "isapc", 2), ("7.2", "none", 2), ("7.2", "isapc", 1),
    ("7.2", "pc-q35-7.2", 289), ("7.2", "pc-i440fx-7.2", 256), ("7.2", "pc-i440fx-5.1", 255),
    ("7.2", "microvm", 289),
    ("10.0", "pc-q35-10.0", 4097), ("10.0", "pc-q35-9.0", 4097), ("10.0", "pc-q35-8.2", 1025),
    ("10.0", "pc-q35-8.1", 1025), ("10.0", "pc-q35-8.0", 289), ("10.0", "pc-q35-5.2", 289),
    ("10.0", "pc-i440fx-10.0", 256), ("10.0", "none", 2),
])
def test_the_most_vcpus_a_machine_takes_are_qemus(release: str, machine: str,
                                                   smp: int) -> None:
    assert ours(release, machine, smp) == real(release, machine, smp)
