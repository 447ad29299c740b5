"""The device state a real QEMU build's VMs send, captured per machine type."""
