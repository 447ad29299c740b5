"""The VM at rest and its state (pure): sections, seeded device state, RAM, digest,
and the stream a VM saves and loads. No files or sockets: see migcompat.migration."""
