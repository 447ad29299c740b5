"""`migcompat matrix`: check on every machine type of a release, in one table."""

from __future__ import annotations

import contextlib
import io
import json
from typing import Any

import pytest

from migcompat.cli.main import main


def run(*args: str) -> tuple[int, str]:
    """The real entry point: exit code and stdout + stderr."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out), \
            pytest.raises(SystemExit) as info:
        main(list(args))
    code = info.value.code
    return (code if isinstance(code, int) else 0), out.getvalue()


def test_tutorial_rows_verdicts_and_exit_code() -> None:
    code, out = run("matrix", "qemu-5.2", "qemu-5.1", "--device", "virtio-blk-pci",
                    "--smp", "4", "--format", "json")
    doc = json.loads(out)
    rows = {r["machine"]: r for r in doc["machines"]}
    # pc-5.1 pins one queue: it migrates; pc-5.2 does not exist on 5.1
    assert rows["pc-5.1"]["verdict"] == "compatible"
    assert rows["pc-5.2"]["verdict"] == "refused"
    assert code == 1 and doc["compatible"] is False and doc["schema"] == 2
    code, out = run("matrix", "qemu-5.2-broken", "qemu-5.1", "--device", "virtio-blk-pci",
                    "--smp", "4", "--machines", "pc-5.1")
    assert code == 1
    assert "incompatible" in out and "property-differs" in out
    code, out = run("matrix", "qemu-5.2", "qemu-5.1", "--device", "virtio-blk-pci",
                    "--smp", "4", "--machines", "pc-5.1", "--both-directions")
    assert code == 0 and "1 of 1 machine types migrate both ways" in out


def test_real_releases_flag_the_4_2_machine_types() -> None:
    code, out = run("matrix", "--catalog", "qemu", "5.2", "7.2", "--device",
                    "virtio-blk-pci", "--machines", "pc-*-4.2", "--format", "json")
    rows = {r["machine"]: r for r in json.loads(out)["machines"]}
    assert set(rows) == {"pc-i440fx-4.2", "pc-q35-4.2"} and code == 1
    for row in rows.values():  # docs/real-migrations.md: use-disabled-flag moved tables
        assert row["reasons"][0]["code"] == "property-differs"
        assert "use-disabled-flag" in row["reasons"][0]["message"]


def test_no_machine_matches_is_a_usage_error() -> None:
    code, out = run("matrix", "qemu-5.2", "qemu-5.1", "--machines", "q35-*")
    assert code == 2 and "no machine type of qemu-5.2 matches 'q35-*'" in out


def test_each_release_is_loaded_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # Loading a real release costs a fifth of a second: loaded again for every machine
    # type, `matrix --catalog qemu 7.2 10.0` took 26 s instead of 3.
    from migcompat.catalog import load

    built: list[str] = []
    real = load.build_release

    def counting(*args: Any, **kwargs: Any) -> Any:
        built.append(args[-1])
        return real(*args, **kwargs)

    monkeypatch.setattr(load, "build_release", counting)
    monkeypatch.setenv("MIGCOMPAT_CATALOG_CACHE", "off")  # count builds, not cache hits
    code, _ = run("matrix", "qemu-5.2", "qemu-5.1", "--device", "virtio-blk-pci",
                  "--both-directions")
    assert code == 1 and sorted(built) == ["qemu-5.1", "qemu-5.2"]


def test_both_directions_lists_the_machine_types_only_the_destination_has() -> None:
    code, out = run("matrix", "qemu-5.1", "qemu-5.2", "--device", "virtio-blk-pci",
                    "--both-directions", "--format", "json")
    rows = {r["machine"]: r for r in json.loads(out)["machines"]}
    assert set(rows) == {"pc-5.1", "pc-5.2"} and code == 1
    only = rows["pc-5.2"]  # 5.1 lacks it: a VM started on 5.2 there cannot come back
    assert only["verdict"] is None and "qemu-5.1 has no such machine type" in only["absent"]
    assert only["back"]["verdict"] == "refused"
    assert rows["pc-5.1"]["verdict"] == rows["pc-5.1"]["back"]["verdict"] == "compatible"
    code, out = run("matrix", "qemu-5.1", "qemu-5.2", "--device", "virtio-blk-pci",
                    "--both-directions")
    assert "1 machine types only qemu-5.2 has" in out and code == 1
    code, out = run("matrix", "qemu-5.1", "qemu-5.2", "--device", "virtio-blk-pci",
                    "--format", "json")  # one way: only the source's machine types
    assert [r["machine"] for r in json.loads(out)["machines"]] == ["pc-5.1"] and code == 0
