"""Every bundled catalog loads with no problem at all."""

from __future__ import annotations

import pytest

from migcompat.catalog.load import bundled_names, open_catalog, validate_catalog


@pytest.mark.parametrize("name", bundled_names())
def test_bundled_catalog_validates(name: str) -> None:
    releases = validate_catalog(open_catalog(name))
    assert releases
    for rel in releases:
        assert rel.machines.default() is not None, rel.id


def test_real_catalog_ids_and_versions() -> None:
    cat = open_catalog("qemu")
    assert cat.release_ids() == ["5.2", "7.2", "10.0", "10.2"]
    rel = cat.release("7.2")
    assert rel.debian_version == "1:7.2+dfsg-7+deb12u18"
    assert rel.version.startswith("7.2.")
