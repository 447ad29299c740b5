"""The cross-check: the model's effective property values against a real QEMU's."""
