"""Migration URIs, QEMU's syntax: ``tcp:HOST:PORT``, ``unix:PATH``, ``file:PATH``.

One deliberate difference from QEMU: ``tcp::PORT`` listens on 127.0.0.1, not on every
address. Port 0 asks the kernel for a free port.
"""

from __future__ import annotations

from dataclasses import dataclass

from migcompat.errors import UsageError

SCHEMES = ("tcp", "unix", "file")


@dataclass(frozen=True)
class URI:
    scheme: str
    host: str = ""
    port: int = 0
    path: str = ""

    def __str__(self) -> str:
        if self.scheme == "tcp":
            host = f"[{self.host}]" if ":" in self.host else self.host
            return f"tcp:{host}:{self.port}"
        return f"{self.scheme}:{self.path}"

    @property
    def has_return_path(self) -> bool:
        return self.scheme in ("tcp", "unix")


def parse_uri(text: str) -> URI:
    scheme, sep, rest = text.partition(":")
    if not sep or scheme not in SCHEMES:
        raise UsageError(f"invalid migration URI '{text}': expected tcp:HOST:PORT, "
                         "unix:PATH or file:PATH")
    if scheme in ("unix", "file"):
        if not rest:
            raise UsageError(f"invalid migration URI '{text}': missing path")
        return URI(scheme, path=rest)
    if rest.startswith("["):
        host, bracket, port_text = rest[1:].partition("]")
        if not bracket or not port_text.startswith(":"):
            raise UsageError(f"invalid migration URI '{text}': expected tcp:[ADDR]:PORT")
        port_text = port_text[1:]
    else:
        host, colon, port_text = rest.rpartition(":")
        if not colon:
            raise UsageError(f"invalid migration URI '{text}': expected tcp:HOST:PORT")
    if not port_text.isdigit() or int(port_text) > 65535:
        raise UsageError(f"invalid migration URI '{text}': bad port '{port_text}'")
    return URI("tcp", host=host or "127.0.0.1", port=int(port_text))
