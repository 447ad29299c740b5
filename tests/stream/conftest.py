"""Fixtures for the stream tests: a small synthetic stream and real QEMU 7.2 streams."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # for stream_samples
from stream_samples import SAMPLE_EVENTS, sample_bytes

from qemu_helpers import VIRTIO_BLK_ARGS, make_stream, require_qemu


@pytest.fixture(scope="session")
def sample() -> bytes:
    return sample_bytes()


@pytest.fixture(scope="session")
def sample_events() -> list[object]:
    return list(SAMPLE_EVENTS)


@pytest.fixture(scope="session")
def qemu_streams(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """``qemu_streams(machine)`` -> a stream QEMU wrote (made once per session)."""
    made: dict[str, Path] = {}

    def get(machine: str) -> Path:
        require_qemu()
        if machine not in made:
            out = tmp_path_factory.mktemp("qemu-streams")
            if machine == "pc-i440fx-2.3":
                made[machine] = make_stream(out, machine, [], smp=1, mem=64)
            else:
                made[machine] = make_stream(out, machine, VIRTIO_BLK_ARGS, smp=4, mem=64)
        return made[machine]

    return get
