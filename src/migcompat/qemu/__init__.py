"""Importers that turn real QEMU (source trees, binaries) into catalog files."""
