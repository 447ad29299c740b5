"""The lock file and the private-APT fetch, with fake apt tools (no network)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from migcompat.errors import FetchError
from migcompat.qemu.debian.lock import Pin, find_lock_file, load_pins
from migcompat.qemu.debian.sources import cache_root, fetch

LOCK = """
format = 1
[archive]
keyring = "/usr/share/keyrings/debian-archive-keyring.gpg"

[[release]]
id = "7.2"
version = "1:7.2+dfsg-7+deb12u18"
suite = "bookworm"
uri = "http://deb.debian.org/debian"
dsc_sha256 = "00"
"""


def test_repository_lock_pins_the_four_releases() -> None:
    pins = load_pins(find_lock_file())
    assert list(pins) == ["5.2", "7.2", "10.0", "10.2"]
    assert pins["7.2"].version == "1:7.2+dfsg-7+deb12u18"
    assert pins["10.0"].suite == "bookworm-backports"
    assert pins["10.2"].slug == "qemu_10.2.2+ds-1"


def test_cache_root_honours_migcompat_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MIGCOMPAT_CACHE", "/x/y")
    assert cache_root() == Path("/x/y/sources")


def _fake_apt(bin_dir: Path, versions: str) -> None:
    bin_dir.mkdir()
    scripts = {
        "apt-get": "#!/bin/sh\nexit 0\n",
        "apt-cache": f"#!/bin/sh\nprintf 'Package: qemu\\nVersion: {versions}\\n'\n",
    }
    for name, body in scripts.items():
        path = bin_dir / name
        path.write_text(body)
        path.chmod(path.stat().st_mode | stat.S_IEXEC)


def test_a_pin_gone_from_the_archive_fails_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lock = tmp_path / "catalogs.lock.toml"
    lock.write_text(LOCK)
    _fake_apt(tmp_path / "bin", "1:7.2+dfsg-7+deb12u99")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    pin = load_pins(lock)["7.2"]
    with pytest.raises(FetchError) as info:
        fetch(pin, tmp_path / "cache", quiet=True)
    message = str(info.value)
    assert "\n" not in message
    assert "1:7.2+dfsg-7+deb12u18" in message and "bookworm" in message
    sources = (tmp_path / "cache" / "apt" / "bookworm" / "sources.list").read_text()
    assert sources.startswith("deb-src [signed-by=/usr/share/keyrings/")
    assert " bookworm main" in sources


def test_pin_slug_drops_the_epoch() -> None:
    pin = Pin("10.0", "qemu", "1:10.0.2+ds-2+deb13u1~bpo12+1", "bookworm-backports", "u")
    assert pin.slug == "qemu_10.0.2+ds-2+deb13u1~bpo12+1"
