"""migcompat.qemu.builds and .debs without network or QEMU: the lock section, the private APT
configuration, error lines, the unpacked layout."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from migcompat.qemu import builds
from migcompat.qemu.builds import BuildUnavailable, build
from migcompat.qemu.debs import BinaryApt, BuildPin, load_build_pins
from migcompat.qemu.source.lock import FetchError

LOCK = """\
format = 1
[archive]
keyring = "/k.gpg"
components = ["main"]

[[build]]
id = "5.2"
version = "1:5.2+dfsg-11+deb11u3"
sources = [
  "http://deb.example/debian bullseye",
  "http://deb.example/debian-security bullseye-security",
]
qemu = ["qemu-system-x86"]
modules = ["qemu-block-extra"]
firmware = { seabios = "1.14.0-2" }
[build.libraries]
"libxenmisc4.14" = "4.14.6-1"

[[build]]
id = "7.2"
version = "1:7.2+dfsg-7+deb12u18"
system = "/nonexistent/qemu-system-x86_64"
"""


@pytest.fixture
def lock(tmp_path: Path) -> Path:
    path = tmp_path / "catalogs.lock.toml"
    path.write_text(LOCK)
    return path


def test_repository_lock_pins_the_three_builds() -> None:
    pins = load_build_pins()
    assert list(pins) == ["5.2", "7.2", "10.0"]
    assert pins["7.2"].system == "/usr/bin/qemu-system-x86_64"
    for rid in ("5.2", "10.0"):
        pkgs = pins[rid].packages
        assert set(pkgs["qemu"].values()) == {pins[rid].version}
        assert set(pkgs["modules"].values()) == {pins[rid].version}
        assert {"seabios", "ipxe-qemu"} <= set(pkgs["firmware"])
    assert pins["5.2"].version == "1:5.2+dfsg-11+deb11u3"
    assert pins["10.0"].version == "1:10.0.2+ds-2+deb13u1~bpo12+1"
    assert "liburing1" in pins["5.2"].packages["libraries"]


def test_lock_roles_and_order(lock: Path) -> None:
    pin = load_build_pins(lock)["5.2"]
    assert pin.keyring == "/k.gpg"
    assert pin.all_packages() == [("qemu-system-x86", "1:5.2+dfsg-11+deb11u3"),
                                  ("qemu-block-extra", "1:5.2+dfsg-11+deb11u3"),
                                  ("seabios", "1.14.0-2"), ("libxenmisc4.14", "4.14.6-1")]


def test_lock_rejects_an_unquoted_dotted_name(tmp_path: Path) -> None:
    path = tmp_path / "lock.toml"
    path.write_text(LOCK.replace('"libxenmisc4.14"', "libxenmisc4.14"))
    with pytest.raises(FetchError, match="quote names with dots"):
        load_build_pins(path)


def test_private_apt_never_reads_the_system_sources(lock: Path, tmp_path: Path) -> None:
    apt = BinaryApt(load_build_pins(lock)["5.2"], tmp_path / "cache")
    apt.prepare()
    opts = apt.options()
    assert "Dir::Etc::SourceParts=/nonexistent" in opts
    assert f"Dir::Etc::SourceList={apt.sources}" in opts
    assert all(str(tmp_path) in o for o in opts if o.startswith(("Dir::State", "Dir::Cache")))
    assert apt.sources.read_text().splitlines() == [
        "deb [signed-by=/k.gpg] http://deb.example/debian bullseye main",
        "deb [signed-by=/k.gpg] http://deb.example/debian-security bullseye-security main",
    ]


@pytest.mark.parametrize("apt_error,named", [
    ("E: Version '1.14.0-9' for 'seabios' was not found", "seabios 1.14.0-9"),
    ("E: Unable to locate package qemu-block-extra", "qemu-block-extra 1:5.2+dfsg-11+deb11u3"),
])
def test_a_pinned_version_that_is_gone_is_one_clear_line(
        lock: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, apt_error: str,
        named: str) -> None:
    apt = BinaryApt(load_build_pins(lock)["5.2"], tmp_path)

    def fail(*args: str, cwd: Path | None = None) -> str:
        raise FetchError(f"apt-get -q download failed: {apt_error}")

    monkeypatch.setattr(apt, "run", fail)
    with pytest.raises(FetchError) as info:
        apt.download([("seabios", "1.14.0-9"),
                      ("qemu-block-extra", "1:5.2+dfsg-11+deb11u3")], tmp_path)
    text = str(info.value)
    assert "\n" not in text
    assert f"pinned {named} (build 5.2) is no longer in Debian" in text
    assert "update catalogs.lock.toml" in text


def test_depends_parsing(lock: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    apt = BinaryApt(load_build_pins(lock)["5.2"], tmp_path)
    show = ("Package: qemu-block-extra\nDepends: libc6 (>= 2.14), libiscsi7:any (>= 1.18.0), "
            "qemu-system-x86 (= 1:5.2) | qemu-utils (= 1:5.2)\n\nPackage: other\n")
    monkeypatch.setattr(apt, "run", lambda *a, **k: show)
    assert apt.depends("qemu-block-extra", "1:5.2") == [
        [("libc6", ">= 2.14")], [("libiscsi7", ">= 1.18.0")],
        [("qemu-system-x86", "= 1:5.2"), ("qemu-utils", "= 1:5.2")]]


def test_absolute_links_into_the_tree_become_relative(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "usr/share/seabios").mkdir(parents=True)
    (root / "usr/share/qemu").mkdir(parents=True)
    (root / "usr/share/seabios/bios-256k.bin").write_bytes(b"private")
    (root / "usr/share/qemu/bios-256k.bin").symlink_to("/usr/share/seabios/bios-256k.bin")
    (root / "usr/share/qemu/outside").symlink_to("/nonexistent/elsewhere")
    builds._relink(root)
    link = root / "usr/share/qemu/bios-256k.bin"
    assert os.readlink(link) == "../seabios/bios-256k.bin"
    assert link.read_bytes() == b"private"
    assert os.readlink(root / "usr/share/qemu/outside") == "/nonexistent/elsewhere"


def test_firmware_dir_follows_qemus_search_path(tmp_path: Path) -> None:
    root = tmp_path / "root"
    for sub, files in (("usr/share/qemu", ["kvmvapic.bin", "bios.bin"]),
                       ("usr/share/seabios", ["bios.bin", "bios-256k.bin"]),
                       ("usr/lib/ipxe/qemu", ["efi-virtio.rom"])):
        (root / sub).mkdir(parents=True)
        for f in files:
            (root / sub / f).write_text(sub)
    builds._firmware_dir(root, tmp_path / "fw")
    fw = tmp_path / "fw"
    assert sorted(p.name for p in fw.iterdir()) == ["bios-256k.bin", "bios.bin",
                                                    "efi-virtio.rom", "kvmvapic.bin"]
    assert (fw / "bios.bin").read_text() == "usr/share/qemu"  # first directory wins
    assert (fw / "bios-256k.bin").read_text() == "usr/share/seabios"


def test_an_unfetched_build_says_how_to_fetch_it(lock: Path, tmp_path: Path) -> None:
    with pytest.raises(BuildUnavailable, match="make qemu-builds"):
        build("5.2", lock=lock, root=tmp_path)


def _fake_qemu(path: Path, version: str) -> str:
    path.write_text(f"#!/bin/sh\necho 'QEMU emulator version x (Debian {version})'\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def test_the_system_build_must_be_the_pinned_release(tmp_path: Path) -> None:
    ok = BuildPin("7.2", "1:7.2+dfsg-7+deb12u18",
                  system=_fake_qemu(tmp_path / "q72", "1:7.2+dfsg-7+deb12u18+b3"))
    got = builds._system(ok)
    assert (got.version, got.firmware_dir, got.args()) == ("1:7.2+dfsg-7+deb12u18+b3", None, [])
    other = BuildPin("7.2", "1:7.2+dfsg-7+deb12u18",
                     system=_fake_qemu(tmp_path / "q10", "1:10.0.2+ds-2"))
    with pytest.raises(BuildUnavailable, match=r"not QEMU 7\.2"):
        builds._system(other)
    with pytest.raises(BuildUnavailable, match="not installed"):
        builds._system(BuildPin("7.2", "1:7.2", system=str(tmp_path / "none")))


def test_binnmu_is_the_same_build() -> None:
    assert builds._same_build("1:7.2+dfsg-7+deb12u18+b3", "1:7.2+dfsg-7+deb12u18")
    assert not builds._same_build("1:7.2+dfsg-7+deb12u19", "1:7.2+dfsg-7+deb12u18")


def test_environment_points_at_the_private_tree(tmp_path: Path) -> None:
    env = builds._environment(tmp_path)
    assert env["LD_LIBRARY_PATH"].split(":")[0] == str(tmp_path / "root/usr/lib/x86_64-linux-gnu")
    assert env["QEMU_MODULE_DIR"] == str(tmp_path / "root/usr/lib/x86_64-linux-gnu/qemu")
    assert env["PATH"] == os.environ["PATH"]  # exec:cat needs it


def test_cli_unknown_build(capsys: pytest.CaptureFixture[str], lock: Path) -> None:
    assert builds.main(["show", "9.9", "--lock", str(lock)]) == 2
    assert "no [[build]] pin for release '9.9'" in capsys.readouterr().err
