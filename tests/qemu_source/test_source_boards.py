"""The unversioned machine types (isapc, microvm, none, x-remote, xenpv) the importer takes
from a tree and its Debian build configuration, against the real builds' ``-machine help``:
5.2 and 7.2 from their Debian trees; 10.2, which has no runnable build, from its tree."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from migcompat.catalog.load import open_catalog
from migcompat.errors import MigcompatError
from migcompat.qemu.debian.lock import load_pins
from migcompat.qemu.debian.sources import fetch
from migcompat.qemu.source.boards import (
    _control_options,
    _holds,
    _main_configure,
    build_features,
    read_boards,
)


def _tree(pin: str) -> Path:
    try:
        return fetch(load_pins()[pin], quiet=True)
    except (MigcompatError, OSError) as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the pinned QEMU {pin} source tree is needed under CI: {exc}")
        pytest.skip(f"the pinned QEMU {pin} source tree cannot be had here: {exc}")


def _unversioned(release: str) -> set[str]:
    """The machine types of the real build's -machine help that are not pc-* or aliases."""
    from qemu_migrations.migration_cases import get_build

    b = get_build(release)
    out = subprocess.run([b.binary, *b.args(), "-machine", "help"], env=b.env,
                         capture_output=True, text=True, timeout=60, check=True).stdout
    return {ln.split()[0] for ln in out.splitlines()[1:]
            if ln.strip() and "(alias of" not in ln and not ln.startswith("pc-")}


@pytest.mark.source_tree
@pytest.mark.qemu
@pytest.mark.parametrize("pin", ["5.2", "7.2"])
def test_the_boards_of_a_debian_tree_are_its_builds(pin: str) -> None:
    assert set(read_boards(_tree(pin))) == _unversioned(pin)


@pytest.mark.source_tree
def test_10_2_gets_its_boards_from_its_tree() -> None:
    tree = _tree("10.2")
    features = build_features(tree)
    assert features is not None
    assert features["FDT"] and not features["XEN"] and not features["LIBCBOR"]
    boards = read_boards(tree)
    # nitro-enclave is in the tree, but needs libcbor, which Debian does not build with
    assert (tree / "hw/i386/nitro_enclave.c").is_file() and "nitro-enclave" not in boards
    assert set(boards) == {"isapc", "microvm", "none", "x-remote"}
    assert boards["isapc"]["file"] == "hw/i386/isapc.c"  # it moved out of pc_piix.c
    release = open_catalog("qemu").release("10.2")
    for name in boards:
        assert release.machines.knows(name), name


def test_an_upstream_tree_gives_only_the_boards_that_need_no_library(tmp_path: Path) -> None:
    (tmp_path / "hw/i386").mkdir(parents=True)
    (tmp_path / "hw/core").mkdir(parents=True)
    (tmp_path / "hw/i386/microvm.c").write_text("... TYPE_MICROVM_MACHINE ...\n")
    (tmp_path / "hw/i386/isapc.c").write_text("\n\nDEFINE_PC_MACHINE(isapc, \"isapc\", f, g);\n")
    (tmp_path / "hw/core/null-machine.c").write_text('DEFINE_MACHINE("none", f)\n')
    (tmp_path / "hw/i386/Kconfig").write_text(
        "config ISAPC\n    bool\n    default y\n    depends on I386\n"
        "config MICROVM\n    bool\n    default y\n    depends on I386 && FDT\n")
    boards = read_boards(tmp_path)
    assert set(boards) == {"isapc", "none"}  # no debian/: FDT unknown, microvm left out
    assert boards["isapc"]["line"] == 3
    (tmp_path / "debian").mkdir()
    (tmp_path / "debian/rules").write_text("\tcd b && ../../configure --disable-xen \\\n"
                                           "\t\t--enable-modules || false\n")
    (tmp_path / "debian/control").write_text("Source: qemu\nBuild-Depends: debhelper,\n"
                                             "# --enable-fdt\tamd64 arm64\n libfdt-dev,\n"
                                             "\nPackage: x\n")
    assert set(read_boards(tmp_path)) == {"isapc", "microvm", "none"}


def test_kconfig_expressions_and_debian_options() -> None:
    on = {"FDT": True, "LIBCBOR": False}
    assert _holds("I386 && FDT", on) and not _holds("I386 && LIBCBOR", on)
    assert _holds("LIBCBOR || FDT", on) and _holds("!LIBCBOR && (FDT || LIBCBOR)", on)
    assert _holds("", on)
    rules = "x:\n\tcd b && ../../configure --a \\\n\t\t--disable-xen || false\n" \
            "\tcd c && ../../configure --enable-xen\n"
    assert _main_configure(rules) == ["--a", "--disable-xen"]  # the first call only
    control = "# --enable-fdt\tamd64 arm64\n# --enable-xen\tlinux-amd64|linux-i386\n" \
              "# --enable-rbd\tarm64 s390x\n# --enable-gnutls\n"
    assert _control_options(control) == ["--enable-fdt", "--enable-xen", "--enable-gnutls"]
