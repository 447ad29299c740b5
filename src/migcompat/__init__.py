"""migcompat: QEMU's migration backward-compatibility system, modelled in Python."""

__version__ = "0.1.0"
