# Reproducible data builds. `make catalogs` fetches the QEMU source packages pinned in
# catalogs.lock.toml (cached in $MIGCOMPAT_CACHE/sources, default ~/.cache/migcompat/sources)
# and regenerates the bundled qemu release catalogs from them.
PYTHON ?= python3
CATALOG_DIR := src/migcompat/catalog/data/qemu
export PYTHONPATH := $(CURDIR)/src$(if $(PYTHONPATH),:$(PYTHONPATH))

.PHONY: sources catalogs

sources:
	$(PYTHON) -m migcompat.qemu.source.fetch --print-path

catalogs: sources
	$(PYTHON) -m migcompat.qemu.source.catalogs --out $(CATALOG_DIR)
