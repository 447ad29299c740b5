"""Real QEMU streams for the analyze/rewrite/validate tests, each made once per session.

Every stream is small (-m 64) and quick to make (~0.1 s). ``streams(name)`` makes one on
first use, so a test run that selects a few tests pays only for what they use.
"""

from __future__ import annotations

import random
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from streamfile_support import BLOB_ADDR, BLOB_SIZE, SPECS, make_stream_with_capabilities

from qemu_helpers import make_stream, require_qemu


@pytest.fixture(scope="session")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("streamfile")


@pytest.fixture(scope="session")
def blob(workdir: Path) -> bytes:
    data = random.Random(2024).randbytes(BLOB_SIZE)
    (workdir / "random.bin").write_bytes(data)
    return data


@pytest.fixture(scope="session")
def streams(workdir: Path, blob: bytes) -> Callable[[str], Path]:
    made: dict[str, Path] = {}

    def get(name: str) -> Path:
        require_qemu()
        if name not in made:
            if name == "capabilities":
                made[name] = make_stream_with_capabilities(
                    workdir / "capabilities.mig", "pc-q35-7.2",
                    ["-uuid", "12345678-1234-5678-1234-567812345678"], 1, 64,
                    ["x-ignore-shared", "validate-uuid"])
            elif name == "dense":
                extra = ["-device", f"loader,file={workdir / 'random.bin'},"
                         f"addr={BLOB_ADDR:#x},force-raw=on"]
                made[name] = make_stream(workdir, "pc-q35-7.2", extra, smp=1, mem=64,
                                         name="dense.mig")
            else:
                machine, extra, smp, mem = SPECS[name]
                made[name] = make_stream(workdir, machine, extra, smp=smp, mem=mem,
                                         name=f"{name}.mig")
        return made[name]

    return get


@pytest.fixture(scope="session")
def dump(workdir: Path) -> Path:
    """The -dump-vmstate of the installed QEMU for pc-q35-7.2."""
    qemu = require_qemu()
    out = workdir / "dump-q35-7.2.json"
    if not out.exists():
        subprocess.run([qemu, "-M", "pc-q35-7.2", "-nodefaults", "-display", "none",
                        "-dump-vmstate", str(out)], check=True, capture_output=True,
                       timeout=60)
    return out
