"""`run`, `migrate` and `demo` as separate processes: URIs, exit codes, output."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

MIG = [sys.executable, "-m", "migcompat"]
VM = ["--device", "virtio-blk-pci,id=vb0", "--smp", "4", "-m", "16M"]


def start_run(release: str, machine: str, uri: str, *extra: str) -> tuple[subprocess.Popen[str],
                                                                         str]:
    proc = subprocess.Popen([*MIG, "run", release, machine, *VM, "--incoming", uri, *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


def migrate(release: str, machine: str, uri: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*MIG, "migrate", release, machine, *VM, "--to", uri, *extra],
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("scheme", ["tcp", "unix"])
def test_run_prints_bound_uri_then_loads(tmp_path: Path, scheme: str) -> None:
    uri = "tcp::0" if scheme == "tcp" else f"unix:{tmp_path / 's'}"
    proc, bound = start_run("qemu-5.1", "pc-5.1", uri, "--format", "json")
    if scheme == "tcp":
        assert bound.startswith("tcp:127.0.0.1:") and not bound.endswith(":0")
    else:
        assert bound == uri
    src = migrate("qemu-5.2", "pc-5.1", bound, "--format", "json")
    out, err = proc.communicate(timeout=60)
    assert src.returncode == 0, src.stderr
    assert proc.returncode == 0, err
    sent = json.loads(src.stdout)
    loaded = json.loads(out)
    assert sent["ok"] is True and loaded["digest"] == sent["digest"]


def test_failed_load_exit_1_on_both_sides_with_the_error() -> None:
    proc, bound = start_run("qemu-5.1", "pc-5.1", "tcp::0")
    src = migrate("qemu-5.2-broken", "pc-5.1", bound)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1 and src.returncode == 1
    assert "virtio-blk" in err and "1 != 4" in err
    assert "migration failed: 1 != 4" in src.stderr
    assert "Traceback" not in err + src.stderr


def test_file_uri_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "vm.mig"
    src = migrate("qemu-5.2", "pc-5.2", f"file:{path}")
    assert src.returncode == 0 and "written" in src.stdout
    proc, _ = start_run("qemu-5.2", "pc-5.2", f"file:{path}")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "matches the source" in out


def test_truncated_file_exit_1(tmp_path: Path) -> None:
    path = tmp_path / "vm.mig"
    assert migrate("qemu-5.2", "pc-5.2", f"file:{path}").returncode == 0
    path.write_bytes(path.read_bytes()[:50_000])
    proc, _ = start_run("qemu-5.2", "pc-5.2", f"file:{path}")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert "at byte" in err and len(err.strip().splitlines()) == 1


def test_environment_and_usage_exit_codes(tmp_path: Path) -> None:
    free = socket.socket()
    free.bind(("127.0.0.1", 0))
    port = free.getsockname()[1]
    free.close()
    res = migrate("qemu-5.2", "pc-5.2", f"tcp:127.0.0.1:{port}", "--retry", "0.3")
    assert res.returncode == 3 and "cannot connect" in res.stderr
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    proc, _ = start_run("qemu-5.2", "pc-5.2", f"tcp:127.0.0.1:{busy.getsockname()[1]}")
    _, err = proc.communicate(timeout=30)
    busy.close()
    assert proc.returncode == 3 and "cannot listen" in err
    res = migrate("qemu-5.2", "pc-5.2", "ftp:x")
    assert res.returncode == 2 and "invalid migration URI" in res.stderr
    proc, first = start_run("qemu-5.1", "pc-5.2", "tcp::0")
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2 and first == "" and "unknown machine type 'pc-5.2'" in err


def test_demo_json_predictions_match() -> None:
    res = subprocess.run([*MIG, "demo", "--format", "json"], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    rows = {c["name"]: c for c in doc["cases"]}
    assert len(rows) == 9
    for case in rows.values():
        assert case["predicted"] == case["actual"], case
    for name in ("case 1", "case 2", "case 3", "case 5", "case 6", "chain A->B->C"):
        assert rows[name]["actual"] == "migrated" and rows[name]["digests_match"], name
    assert rows["chain A->B->C"]["digests"] and len(rows["chain A->B->C"]["digests"]) == 3
    assert rows["case 4"]["actual"] == "refused"
    for name in ("case 5 (broken)", "case 6 (broken)"):
        assert rows[name]["actual"] == "failed"
        assert "virtio-blk" in rows[name]["why"] and "num-queues" in rows[name]["why"]
