"""Real streams at both ends of the range of machine types. QEMU 10.0 on its own machine
types sends the SWITCHOVER_START command (MIG_CMD 0x0b) before the device state; machine
types up to 2.3 send no configuration and no footers, and pc-i440fx-1.6 names root-bus
devices without the bus number. analyze, rewrite and validate --dest must read them, and
real QEMU must load what validate says it will."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest

from migcompat.cli.main import main as cli_main
from migcompat.errors import BuildUnavailable
from qemu_helpers import VIRTIO_BLK_ARGS, load_stream, make_stream
from qemu_migrations.migration_cases import get_build

pytestmark = pytest.mark.qemu
MACHINE = "pc-q35-10.0"


def cli(*args: object) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as info:
        cli_main([str(a) for a in args])
    code = info.value.code
    return (code if isinstance(code, int) else 0), out.getvalue()


def test_switchover_start_is_read(tmp_path: Path) -> None:
    qemu = get_build("10.0")
    stream = make_stream(tmp_path, MACHINE, VIRTIO_BLK_ARGS, smp=2, qemu=qemu)
    code, out = cli("analyze", stream, "--format", "json")
    assert code == 0, out
    report = json.loads(out)
    commands = [i for i in report["items"] if i["type"] == "command"]
    assert [c["name"] for c in commands] == ["SWITCHOVER_START"], commands
    code, _ = cli("rewrite", stream, tmp_path / "copy.mig")
    assert code == 0
    assert (tmp_path / "copy.mig").read_bytes() == stream.read_bytes()
    code, out = cli("validate", stream, "--catalog", "qemu", "--dest", f"10.0:{MACHINE}",
                    "--device", "virtio-blk-pci", "--smp", "2", "-m", "64M")
    assert code == 0, out
    assert load_stream(stream, MACHINE, VIRTIO_BLK_ARGS, smp=2, qemu=qemu).ok


@pytest.mark.parametrize("machine", ["pc-i440fx-2.3", "pc-i440fx-1.6"])
def test_old_machine_types_validate_against_captured_state(tmp_path: Path,
                                                           machine: str) -> None:
    # <= 2.3: no configuration, no footers; 1.6 also names root-bus devices without the bus
    src, dst = get_build("7.2"), get_build("5.2")
    stream = make_stream(tmp_path, machine, VIRTIO_BLK_ARGS, qemu=src)
    base = ["validate", stream, "--catalog", "qemu", "--smp", "1", "-m", "64M"]
    code, out = cli(*base, "--dest", f"5.2:{machine}", "--device", "virtio-blk-pci")
    assert code == 0, out
    assert load_stream(stream, machine, VIRTIO_BLK_ARGS, qemu=dst).ok
    code, out = cli(*base, "--dest", f"5.2:{machine}")  # the destination lacks the disk
    assert code == 1 and "Unknown savevm section or instance '0000:" in out
    assert not load_stream(stream, machine, [], qemu=dst).ok


def test_private_7_2_build_migrates_with_the_system_one(tmp_path: Path) -> None:
    """The fallback a host without Debian 12's QEMU takes (Debian 13): 7.2 unpacked from
    bookworm's packages. Here it must load a stream of the system 7.2, and the other way."""
    from migcompat.qemu.debian.builds import build
    from qemu_migrations.migration_cases import in_ci

    try:
        private = build("7.2", use="private", fetch_missing=in_ci())
    except BuildUnavailable as exc:
        if in_ci():
            raise
        pytest.skip(str(exc))
    assert private.private and "/7.2/" in private.binary
    system = get_build("7.2")
    for src, dst in ((system, private), (private, system)):
        stream = make_stream(tmp_path, "pc-q35-5.1", VIRTIO_BLK_ARGS, smp=2, qemu=src,
                             name=f"from-{'private' if src.private else 'system'}.mig")
        assert load_stream(stream, "pc-q35-5.1", VIRTIO_BLK_ARGS, smp=2, qemu=dst).ok
