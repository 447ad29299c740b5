"""lint on the real pinned 10.0 tree: a patch of our own is flagged, and the generated
``--patch-out`` applies with ``patch -p1`` and makes lint clean.

The fixture patch (tests/data/lint/virtio-blk-queue-size-512.patch) raises virtio-blk's
``queue-size`` default from 256 to 512 without an entry: every machine type from 5.0 up
(4.2 and older keep 128 through hw_compat_4_2) would change. The tree has no hw_compat_10_0,
so the fix creates it, declares it and hooks it into both 10.0 machine types.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from cli_run import run
from qemu_helpers import pinned_tree

pytestmark = pytest.mark.source_tree
PATCH = Path(__file__).parents[1] / "data" / "lint" / "virtio-blk-queue-size-512.patch"




def test_a_patch_is_flagged_and_its_patch_out_makes_lint_clean(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tree = pinned_tree("10.0")
    fix = tmp_path / "fix.patch"
    flagged = run(capsys, "lint", tree, "--patch", PATCH, "--patch-out", fix,
                  "--format", "json", "--fail-on", "note")
    assert flagged.code == 1, flagged.err
    (finding,) = flagged.json()["findings"]  # the one change, and nothing else
    assert {k: finding[k] for k in ("kind", "driver", "property", "old_value", "new_value",
                                    "table", "verified")} == {
        "kind": "changed-default", "driver": "virtio-blk-device", "property": "queue-size",
        "old_value": "256", "new_value": "512", "table": "hw_compat_10_0", "verified": True}
    assert "pc-q35-10.0" in finding["machines"] and "pc-q35-4.2" not in finding["machines"]
    assert finding["location"] == {"file": "hw/block/virtio-blk.c", "line": 1869}
    text = fix.read_text()
    assert '+    { "virtio-blk-device", "queue-size", "256" },' in text
    for rel in ("hw/core/machine.c", "include/hw/boards.h", "hw/i386/pc_q35.c",
                "hw/i386/pc_piix.c"):
        assert f"+++ b/{rel}" in text, rel

    copy = tmp_path / "tree"
    subprocess.run(["cp", "-al", str(tree), str(copy)], check=True)
    for patch in (PATCH, fix):
        subprocess.run(["patch", "-p1", "-s", "--batch", "-d", str(copy), "-i", str(patch)],
                       check=True)
    clean = run(capsys, "lint", tree, copy, "--fail-on", "note")
    assert clean.code == 0, clean.out
    assert "0 error(s), 0 warning(s), 0 note(s)" in clean.out
    # the user's tree is untouched by --patch and by the copies (hard links broken by patch)
    assert "512)," not in (tree / "hw/block/virtio-blk.c").read_text().split('"queue-size"')[1][:80]
