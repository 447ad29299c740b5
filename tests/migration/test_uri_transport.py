"""URIs and the translation of foreign exceptions at the transport boundary."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from migcompat.errors import EnvironmentProblem, UsageError
from migcompat.migration.returnpath import Verdict, read_verdict
from migcompat.migration.transport import (
    FileReader,
    FileWriter,
    Listener,
    MemoryTransport,
    SocketTransport,
    TransportClosed,
    connect,
)
from migcompat.migration.uri import URI, parse_uri


@pytest.mark.parametrize("text,uri", [
    ("tcp::4444", URI("tcp", "127.0.0.1", 4444)),
    ("tcp:localhost:0", URI("tcp", "localhost", 0)),
    ("tcp:[::1]:5", URI("tcp", "::1", 5)),
    ("unix:/tmp/x.sock", URI("unix", path="/tmp/x.sock")),
    ("file:rel/path.mig", URI("file", path="rel/path.mig")),
])
def test_parse(text: str, uri: URI) -> None:
    assert parse_uri(text) == uri


@pytest.mark.parametrize("text", ["tcp:", "tcp:host", "tcp::99999", "tcp::x", "udp::1",
                                  "unix:", "file:", "exec:cat", "tcp:[::1]5", "nocolon"])
def test_parse_rejects(text: str) -> None:
    with pytest.raises(UsageError, match="invalid migration URI"):
        parse_uri(text)


def test_str_round_trip() -> None:
    for text in ("tcp:127.0.0.1:5", "tcp:[::1]:5", "unix:/a", "file:/b"):
        assert str(parse_uri(text)) == text


def test_connect_refused_is_environment(tmp_path: Path) -> None:
    with pytest.raises(EnvironmentProblem, match="cannot connect"):
        connect(parse_uri(f"unix:{tmp_path / 'none'}"), retry_for=0.1)


def test_bind_in_use_is_environment() -> None:
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    try:
        with pytest.raises(EnvironmentProblem, match="cannot listen"):
            Listener(parse_uri(f"tcp:127.0.0.1:{busy.getsockname()[1]}"))
    finally:
        busy.close()


def test_accept_timeout_is_environment(tmp_path: Path) -> None:
    listener = Listener(parse_uri(f"unix:{tmp_path / 's'}"))
    try:
        with pytest.raises(EnvironmentProblem, match="no source connected"):
            listener.accept(0.05)
    finally:
        listener.close()
    assert not (tmp_path / "s").exists()


def test_socket_errors_become_transport_closed() -> None:
    a, b = socket.socketpair()
    ta = SocketTransport(a, "peer")
    b.close()
    with pytest.raises(TransportClosed):
        for _ in range(100):
            ta.write(b"x" * 65536)
    a.close()
    with pytest.raises(TransportClosed):
        ta.read(1)


def test_file_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read"):
        FileReader(str(tmp_path / "missing"))
    with pytest.raises(EnvironmentProblem, match="cannot write"):
        FileWriter(str(tmp_path / "no-such-dir" / "x"))
    w = FileWriter(str(tmp_path / "out"))
    w.write(b"abc")
    w.abort()
    assert list(tmp_path.iterdir()) == []


def test_verdict_framing() -> None:
    t = MemoryTransport(Verdict(False, "boom", None).encode())
    assert read_verdict(t) == Verdict(False, "boom", None)
    assert read_verdict(MemoryTransport(b"")) is None
    assert read_verdict(MemoryTransport(Verdict(True).encode()[:10])) is None
