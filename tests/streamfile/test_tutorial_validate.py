"""``validate --dest`` on streams written by ``migcompat migrate`` (the tutorial catalog)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli_run import run

VM = ["--device", "virtio-blk-pci", "--smp", "4", "-m", "16M"]


@pytest.fixture(scope="module")
def broken(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tutorial") / "broken.mig"
    from migcompat.cli.main import main

    with pytest.raises(SystemExit) as info:
        main(["migrate", "qemu-5.2-broken", "pc-5.1", *VM, "--to", f"file:{out}"])
    assert info.value.code == 0
    return out


def test_num_queues_case(broken: Path, capsys: pytest.CaptureFixture[str]) -> None:
    res = run(capsys, "validate", broken, "--dest", "qemu-5.1:pc-5.1", *VM, "--format", "json")
    assert res.code == 1, res.err
    doc = res.json()
    assert doc["loads"] is False
    assert doc["error"]["message"] == "1 != 4"
    assert doc["error"]["field"] == "virtio-blk:num-queues"
    assert doc["error"]["section"].endswith("/virtio-blk")
    res = run(capsys, "validate", broken, "--dest", "qemu-5.2-broken:pc-5.1", *VM)
    assert res.code == 0 and "will load" in res.out
    res = run(capsys, "validate", broken, "--dest", "qemu-5.1:pc-5.1", "--device",
              "virtio-blk-pci", "-m", "16M")
    assert res.code == 1 and "Unknown savevm section or instance 'cpu' 1" in res.out


def test_analyze_and_rewrite_migcompat_streams(broken: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    res = run(capsys, "analyze", broken, "--format", "json")
    assert res.code == 0, res.err
    doc = res.json()
    assert doc["configuration"]["machine"] == "pc-5.1"
    assert [i["idstr"] for i in doc["items"] if i["type"] == "full"][:2] == ["timer", "cpu"]
    out = tmp_path / "copy.mig"
    assert run(capsys, "rewrite", broken, out).code == 0
    assert out.read_bytes() == broken.read_bytes()


def test_dest_form_needs_schemas(broken: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # 10.2 is imported from source only: no binary ran here, so no captured state
    res = run(capsys, "validate", broken, "--dest", "10.2:pc-q35-7.2")
    assert res.code == 2 and "no device-state schemas" in res.err
    res = run(capsys, "validate", broken)
    assert res.code == 2 and "--schema, --against or --dest" in res.err
    res = run(capsys, "validate", broken, "--dest", "qemu-5.1:pc-5.1", "--against", broken)
    assert res.code == 2


def test_cut_stream_is_unreadable(broken: Path, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    cut = tmp_path / "cut.mig"
    cut.write_bytes(broken.read_bytes()[:5000])
    res = run(capsys, "validate", cut, "--dest", "qemu-5.1:pc-5.1", *VM)
    assert res.code == 2 and "at byte 5000" in res.err
