"""What migcompat reads from Debian: pinned source and binary packages, through a
private APT configuration (never the system's), cached outside the repository."""
