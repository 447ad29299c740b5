"""What migcompat reads from a QEMU binary: QMP, probe, probe merge and compare, the
state its VMs send, and the cross-check of the model against it."""
