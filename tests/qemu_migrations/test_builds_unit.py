"""migcompat.qemu.debian (builds, deps, apt) without network or QEMU: the lock section,
the private APT configuration, error lines, the unpacked layout."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from cli_run import run
from migcompat.errors import (
    BuildUnavailable,
    FetchError,
    PackageFileGone,
    PackageGone,
    UsageError,
)
from migcompat.qemu.debian import builds
from migcompat.qemu.debian.apt import PrivateApt, apt_failure
from migcompat.qemu.debian.builds import QemuBuild, build
from migcompat.qemu.debian.deps import (
    installed_with,
    parse_available,
    release_sources,
    unmet_dependencies,
)
from migcompat.qemu.debian.lock import BuildPin, load_build_pins, same_build

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
    assert all(pin.unpackable() for pin in pins.values())
    for rid in ("5.2", "10.0"):
        pkgs = pins[rid].packages
        assert set(pkgs["qemu"].values()) == {pins[rid].version}
        assert set(pkgs["modules"].values()) == {pins[rid].version}
        assert {"seabios", "ipxe-qemu"} <= set(pkgs["firmware"])
    assert pins["5.2"].version == "1:5.2+dfsg-11+deb11u3"
    assert pins["10.0"].version == "1:10.0.2+ds-2+deb13u1~bpo12+1"
    assert "liburing1" in pins["5.2"].packages["libraries"]


def test_repository_lock_pins_a_private_72_of_the_same_build() -> None:
    pin = load_build_pins()["7.2"]
    assert pin.version == "1:7.2+dfsg-7+deb12u18"
    assert all(s.split()[1].startswith("bookworm") for s in pin.sources)
    for role in ("qemu", "modules"):  # the build itself, or its binNMU
        assert all(same_build(v, pin.version) for v in pin.packages[role].values())
    assert set(pin.packages["qemu"]) == {"qemu-system-x86", "qemu-system-common",
                                         "qemu-system-data"}
    assert set(pin.packages["modules"]) == {"qemu-block-extra"}
    assert {"seabios", "ipxe-qemu"} <= set(pin.packages["firmware"])
    # what a Debian 13 host with its own QEMU lacks (trixie has other sonames, or its QEMU
    # no longer pulls libsndio7.0)
    assert {"libaio1", "libcapstone4", "libfuse3-3", "libnfs13", "libsndio7.0"} <= set(
        pin.packages["libraries"])


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
    apt = PrivateApt.for_build(load_build_pins(lock)["5.2"], tmp_path / "cache")
    apt.prepare()
    opts = apt.options()
    assert "Dir::Etc::SourceParts=/nonexistent" in opts
    assert f"Dir::Etc::SourceList={apt.sources}" in opts
    assert all(str(tmp_path) in o for o in opts if o.startswith(("Dir::State", "Dir::Cache")))
    assert apt.sources.read_text().splitlines() == [
        "deb [signed-by=/k.gpg] http://deb.example/debian bullseye main",
        "deb [signed-by=/k.gpg] http://deb.example/debian-security bullseye-security main",
    ]


def _failing_apt(bin_dir: Path, stderr: str) -> str:
    """A PATH whose apt-get prints ``stderr`` and fails, as apt does."""
    bin_dir.mkdir()
    tool = bin_dir / "apt-get"
    tool.write_text(f"#!/bin/sh\nprintf '%s\\n' \"{stderr}\" >&2\nexit 100\n")
    tool.chmod(tool.stat().st_mode | stat.S_IEXEC)
    return f"{bin_dir}{os.pathsep}{os.environ['PATH']}"


@pytest.mark.parametrize("apt_error,named", [
    ("E: Version '1.14.0-9' for 'seabios' was not found", "seabios 1.14.0-9"),
    ("E: Unable to locate package qemu-block-extra", "qemu-block-extra 1:5.2+dfsg-11+deb11u3"),
])
def test_a_pinned_version_that_is_gone_is_one_clear_line(
        lock: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, apt_error: str,
        named: str) -> None:
    pin = load_build_pins(lock)["5.2"]
    apt = PrivateApt.for_build(pin, tmp_path)
    monkeypatch.setenv("PATH", _failing_apt(tmp_path / "bin", f"W: noise\n{apt_error}"))
    with pytest.raises(PackageGone) as info:
        builds.download(apt, pin, [("seabios", "1.14.0-9"),
                                   ("qemu-block-extra", "1:5.2+dfsg-11+deb11u3")], tmp_path)
    text = str(info.value)
    assert "\n" not in text
    assert f"pinned {named} (build 5.2) is no longer in Debian" in text
    assert "update catalogs.lock.toml" in text


def test_a_pinned_file_gone_from_the_pool_says_404(lock: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    pin = load_build_pins(lock)["5.2"]
    apt = PrivateApt.for_build(pin, tmp_path)
    monkeypatch.setenv("PATH", _failing_apt(
        tmp_path / "bin", "E: Failed to fetch http://deb.example/pool/s/seabios.deb  404  "
                          "Not Found [IP: 1.2.3.4 80]"))
    with pytest.raises(PackageFileGone, match=r"build 5.2 .* \(HTTP 404\)"):
        builds.download(apt, pin, [("seabios", "1.14.0-9")], tmp_path)


@pytest.mark.parametrize("stderr,kind,fields", [
    ("E: Version '1:7.2' for 'qemu' was not found", PackageGone, ("qemu", "1:7.2")),
    ("W: x\nE: Unable to locate package libfoo\nE: summary", PackageGone, ("libfoo", "")),
    ("E: Failed to fetch http://h/qemu_7.2.dsc  404  Not Found", PackageFileGone, None),
    ("E: Could not resolve 'deb.debian.org'", FetchError, None),
    ("", FetchError, None),
])
def test_apt_failures_are_classified_once(stderr: str, kind: type, fields: object) -> None:
    exc = apt_failure("apt-get -q source", stderr)
    assert type(exc) is kind
    assert "\n" not in str(exc) and str(exc).startswith("apt-get -q source failed: ")
    if fields is not None:
        assert isinstance(exc, PackageGone) and (exc.package, exc.version) == fields


def test_depends_parsing(lock: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    apt = PrivateApt.for_build(load_build_pins(lock)["5.2"], tmp_path)
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
    for reported in ("1:10.0.2+ds-2", "1:7.2+dfsg-7+deb12u19"):
        other = BuildPin("7.2", "1:7.2+dfsg-7+deb12u18",
                         system=_fake_qemu(tmp_path / "other", reported))
        with pytest.raises(BuildUnavailable, match=r"not the pinned 1:7\.2\+dfsg-7\+deb12u18"):
            builds._system(other)
    with pytest.raises(BuildUnavailable, match="not installed"):
        builds._system(BuildPin("7.2", "1:7.2", system=str(tmp_path / "none")))


def test_binnmu_is_the_same_build() -> None:
    assert same_build("1:7.2+dfsg-7+deb12u18+b3", "1:7.2+dfsg-7+deb12u18")
    assert not same_build("1:7.2+dfsg-7+deb12u19", "1:7.2+dfsg-7+deb12u18")


def test_environment_points_at_the_private_tree(tmp_path: Path) -> None:
    env = builds._environment(tmp_path)
    assert env["LD_LIBRARY_PATH"].split(":")[0] == str(tmp_path / "root/usr/lib/x86_64-linux-gnu")
    assert env["QEMU_MODULE_DIR"] == str(tmp_path / "root/usr/lib/x86_64-linux-gnu/qemu")
    assert env["PATH"] == os.environ["PATH"]  # exec:cat needs it


def test_cli_unknown_build(capsys: pytest.CaptureFixture[str], lock: Path) -> None:
    result = run(capsys, "builds", "show", "9.9", "--lock", lock)
    assert result.code == 2
    assert "no [[build]] pin for release '9.9'" in result.err


# -- the choice between the system binary and the private build of a pin with both ----------

PINNED_72 = "1:7.2+dfsg-7+deb12u18"


def _pin_with_both(tmp_path: Path, system_reports: str | None) -> Path:
    """A lock whose 7.2 pins a system binary (reporting ``system_reports``; None: absent)
    and packages."""
    system = tmp_path / "system-qemu"
    if system_reports is not None:
        _fake_qemu(system, system_reports)
    path = tmp_path / "both.lock.toml"
    path.write_text(f"""\
[[build]]
id = "7.2"
version = "{PINNED_72}"
system = "{system}"
sources = ["http://deb.example/debian bookworm"]
qemu = {{ qemu-system-x86 = "{PINNED_72}+b3" }}
firmware = {{ seabios = "1.16.2-1" }}
""")
    return path


@pytest.fixture
def no_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MIGCOMPAT_BUILD_7_2", raising=False)


@pytest.fixture
def fetches(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """``builds.fetch`` made offline: it lays out a private tree whose binary reports the
    pinned build and stamps it (as a verified fetch would); the list records the calls."""
    calls: list[str] = []

    def fake_fetch(pin: BuildPin, root: Path | None = None, *, quiet: bool = False) -> Path:
        assert root is not None
        calls.append(pin.id)
        prefix = root / pin.id
        (prefix / "root/usr/bin").mkdir(parents=True)
        (prefix / "firmware").mkdir()
        _fake_qemu(prefix / "root" / builds.BINARY, f"{pin.version}+b3")
        (prefix / builds.STAMP).write_text(builds._stamp_text(pin))
        return prefix

    monkeypatch.setattr(builds, "fetch", fake_fetch)
    return calls


def _is_private(b: QemuBuild, root: Path) -> bool:
    return (b.private and b.binary == str(root / "7.2/root" / builds.BINARY)
            and b.args() == ["-L", str(root / "7.2/firmware")])


def test_the_system_binary_of_the_pinned_build_comes_first(
        tmp_path: Path, no_choice: None, fetches: list[str]) -> None:
    lock = _pin_with_both(tmp_path, f"{PINNED_72}+b3")
    got = build("7.2", fetch_missing=True, lock=lock, root=tmp_path / "cache")
    assert (got.private, got.binary, got.args()) == (False, str(tmp_path / "system-qemu"), [])
    assert fetches == []  # nothing downloaded on Debian 12


@pytest.mark.parametrize("system_reports", [
    None,  # not installed
    "1:10.0.2+ds-2",  # Debian 13's system QEMU
    "1:7.2+dfsg-7+deb12u19",  # another 7.2 build than the pinned one
])
def test_another_or_no_system_binary_falls_back_to_the_private_build(
        tmp_path: Path, no_choice: None, fetches: list[str], system_reports: str | None) -> None:
    lock, root = _pin_with_both(tmp_path, system_reports), tmp_path / "cache"
    with pytest.raises(BuildUnavailable, match=r"is not fetched .*make qemu-builds") as info:
        build("7.2", lock=lock, root=root)
    assert ("not installed" if system_reports is None else system_reports) in str(info.value)
    assert fetches == []
    got = build("7.2", fetch_missing=True, lock=lock, root=root)
    assert _is_private(got, root) and got.version == f"{PINNED_72}+b3"
    assert fetches == ["7.2"]
    assert _is_private(build("7.2", lock=lock, root=root), root)  # cached: no fetch again
    assert fetches == ["7.2"]


@pytest.mark.parametrize("how", ["variable", "argument"])
def test_private_can_be_forced_over_the_pinned_system_binary(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fetches: list[str], how: str) -> None:
    lock, root = _pin_with_both(tmp_path, f"{PINNED_72}+b3"), tmp_path / "cache"
    if how == "variable":
        monkeypatch.setenv("MIGCOMPAT_BUILD_7_2", "private")
        got = build("7.2", fetch_missing=True, lock=lock, root=root)
    else:
        monkeypatch.setenv("MIGCOMPAT_BUILD_7_2", "system")  # the argument wins
        got = build("7.2", fetch_missing=True, lock=lock, root=root, use="private")
    assert _is_private(got, root)
    assert fetches == ["7.2"]


def test_system_can_be_forced_then_there_is_no_fallback(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fetches: list[str]) -> None:
    monkeypatch.setenv("MIGCOMPAT_BUILD_7_2", "system")
    lock = _pin_with_both(tmp_path, "1:10.0.2+ds-2")
    with pytest.raises(BuildUnavailable, match=r"Debian 1:10\.0\.2\+ds-2, not the pinned"):
        build("7.2", fetch_missing=True, lock=lock, root=tmp_path / "cache")
    assert fetches == []


def test_a_system_only_pin_has_no_fallback(lock: Path, tmp_path: Path, no_choice: None,
                                           fetches: list[str]) -> None:
    with pytest.raises(BuildUnavailable, match="not installed"):
        build("7.2", fetch_missing=True, lock=lock, root=tmp_path)
    with pytest.raises(UsageError, match="pins no packages"):
        build("7.2", lock=lock, root=tmp_path, use="private")
    assert fetches == []


def test_a_bad_choice_is_a_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       lock: Path) -> None:
    assert builds.choice_variable("7.2") == "MIGCOMPAT_BUILD_7_2"
    assert builds.choice_variable("10.0") == "MIGCOMPAT_BUILD_10_0"
    monkeypatch.setenv("MIGCOMPAT_BUILD_7_2", "bundled")
    with pytest.raises(UsageError, match="MIGCOMPAT_BUILD_7_2='bundled': expected one of"):
        build("7.2", lock=_pin_with_both(tmp_path, PINNED_72), root=tmp_path)
    with pytest.raises(UsageError, match="pins no system binary"):
        build("5.2", lock=lock, root=tmp_path, use="system")


def test_fetch_lists_every_pin_with_packages(tmp_path: Path, fetches: list[str],
                                            capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch,
                                            no_choice: None) -> None:
    monkeypatch.setenv("MIGCOMPAT_CACHE", str(tmp_path / "c"))
    lock = _pin_with_both(tmp_path, None)
    assert [i for i, p in load_build_pins(lock).items() if p.unpackable()] == ["7.2"]
    assert run(capsys, "builds", "fetch", "--lock", lock, "-q").code == 0
    assert fetches == ["7.2"]


def test_cli_use_applies_to_the_pins_with_a_system_binary(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fetches: list[str],
        capsys: pytest.CaptureFixture[str], no_choice: None) -> None:
    monkeypatch.setenv("MIGCOMPAT_CACHE", str(tmp_path / "c"))
    lock = _pin_with_both(tmp_path, f"{PINNED_72}+b3")
    private = [str(tmp_path / "c/builds/7.2/root" / builds.BINARY), "-L",
               str(tmp_path / "c/builds/7.2/firmware")]
    shown = run(capsys, "builds", "show", "7.2", "--lock", lock)
    assert shown.code == 0
    assert shown.out.split() == ["7.2", str(tmp_path / "system-qemu")]
    shown = run(capsys, "builds", "show", "--lock", lock, "--use", "private", "7.2")
    assert shown.code == 3
    assert "is not fetched" in shown.err
    assert run(capsys, "builds", "fetch", "7.2", "--lock", lock, "-q").code == 0  # the system's
    assert fetches == []
    fetched = run(capsys, "builds", "fetch", "7.2", "--lock", lock, "--use", "private", "-q")
    assert fetched.code == 0
    assert fetches == ["7.2"]
    assert fetched.out.split()[-3:] == private


# -- resolving against another Debian release ------------------------------------------------

def test_release_sources_follow_the_pins_archive() -> None:
    pin = load_build_pins()["7.2"]
    assert release_sources(pin, "trixie") == (
        "http://deb.debian.org/debian trixie", "http://deb.debian.org/debian trixie-updates",
        "http://deb.debian.org/debian-security trixie-security")


def test_available_packages_and_what_they_provide() -> None:
    text = ("Package: libaio1t64\nVersion: 0.3.113-8+b1\n\n"
            "Package: libglib2.0-0t64\nVersion: 2.84.4-3\n"
            "Provides: libglib2.0-0 (= 2.84.4-3), libglib2.0-0t64:any\n"
            "Pre-Depends: libc6 (>= 2.34)\nDepends: libffi8 (>= 3.4), libpcre2-8-0 | x\n"
            "Recommends: shared-mime-info\nSuggests: low-memory-monitor\n"
            "Description: GLib\n multi-line: text\n\n"
            "Package: fuse3\nVersion: 3.17.2-3\nProvides: fuse\n")
    got = parse_available(text)
    assert set(got) == {"libaio1t64", "libglib2.0-0t64", "fuse3"}
    glib = got["libglib2.0-0t64"]
    assert glib.provides == {"libglib2.0-0": "2.84.4-3", "libglib2.0-0t64": "2.84.4-3"}
    assert glib.needs == [["libc6"], ["libffi8"], ["libpcre2-8-0", "x"], ["shared-mime-info"]]
    assert got["fuse3"].provides == {"fuse": "3.17.2-3"}


def test_a_release_host_is_its_qemu_with_depends_and_recommends() -> None:
    text = ("Package: qemu-system-x86\nVersion: 1:10.0\nDepends: libglib2.0-0, libfoo | libbar"
            "\nRecommends: qemu-block-extra\nSuggests: samba\n\n"
            "Package: libglib2.0-0t64\nVersion: 2.84\nProvides: libglib2.0-0 (= 2.84)\n\n"
            "Package: libbar\nVersion: 1\n\n"
            "Package: qemu-block-extra\nVersion: 1:10.0\nDepends: librbd1\n\n"
            "Package: librbd1\nVersion: 18\n\n"
            "Package: samba\nVersion: 4\n\nPackage: libsndio7.0\nVersion: 1.10\n")
    assert installed_with(parse_available(text), ["qemu-system-x86"]) == {
        "qemu-system-x86": "1:10.0", "libglib2.0-0t64": "2.84", "libglib2.0-0": "2.84",
        "libbar": "1", "qemu-block-extra": "1:10.0", "librbd1": "18"}


def test_unmet_dependencies_against_another_release(lock: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    pin = BuildPin("7.2", PINNED_72, sources=("http://deb.example/debian bookworm",),
                   packages={"qemu": {"qemu-system-x86": PINNED_72}})
    apt = PrivateApt.for_build(pin, tmp_path)
    depends = {"qemu-system-x86": [[("libaio1", ">= 0.3.93")], [("libglib2.0-0", ">= 2.67.3")],
                                   [("libcapstone4", ">= 4")]],
               "libaio1": [[("libc6", ">= 2.4")]], "libcapstone4": [[("libc6", ">= 2.14")]]}
    monkeypatch.setattr(apt, "depends", lambda name, version: depends[name])
    monkeypatch.setattr(apt, "candidate", lambda name: {"libaio1": "0.3.113-4",
                                                        "libcapstone4": "4.0.2-5"}[name])
    trixie = {"libaio1t64": "0.3.113-8", "libglib2.0-0": "2.84.4-3", "libc6": "2.41-12",
              "libcapstone5": "5.0.6-1"}
    assert unmet_dependencies(pin, apt, trixie) == {"libaio1": "0.3.113-4",
                                                    "libcapstone4": "4.0.2-5"}
