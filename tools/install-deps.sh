#!/usr/bin/env bash
# System packages the tests need: QEMU (the real-QEMU tests), dpkg-dev (Debian source
# packages for `make catalogs`), make, patch (`lint --patch`, and applying `--patch-out`
# in the lint tests), and libvirt's client with its QEMU driver (the
# libvirt-XML tests run `virsh domxml-to-native` on the embedded driver, no daemon), and
# chromium (the HTML report's test opens the page in headless Chromium, docs/report.md).
# Idempotent; needs root (CI runs as root).
set -euo pipefail
need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
command -v dpkg-source >/dev/null || need+=(dpkg-dev)
command -v make >/dev/null || need+=(make)
command -v patch >/dev/null || need+=(patch)
command -v virsh >/dev/null || need+=(libvirt-clients)
command -v chromium >/dev/null || need+=(chromium)
[ -e /usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_qemu.so ] \
  || need+=(libvirt-daemon-driver-qemu)
[ -e /usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_secret.so ] \
  || need+=(libvirt-daemon)  # the other drivers the embedded QEMU driver calls
# The host QEMU's modules that a default install brings as recommends: the block drivers
# (the pinned builds link the same libraries) and qemu-system-gui, which holds
# hw-display-virtio-gpu-gl.so. Without it the host's 7.2 aborts when asked about
# virtio-gpu-gl-pci, whose own module it does have. Other libraries a build needs are
# pinned in catalogs.lock.toml and unpacked beside it (`migcompat builds resolve ID`).
for pkg in qemu-block-extra qemu-system-gui; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "install-deps: need root to install: ${need[*]}" >&2
    exit 3
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# libvirt's QEMU driver looks up its default user when it starts, even when qemu.conf
# names another; the package that makes it (libvirt-daemon-system) brings a daemon.
if ! getent passwd libvirt-qemu >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    useradd --system --user-group --no-create-home --shell /usr/sbin/nologin libvirt-qemu
  else
    echo "install-deps: need root to add the libvirt-qemu user" >&2
    exit 3
  fi
fi
