"""Import a QEMU source tree into a release catalog."""
