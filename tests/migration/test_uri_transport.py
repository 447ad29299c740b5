"""URIs and the translation of foreign exceptions at the transport boundary."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from migcompat.errors import (
    CannotConnect,
    CannotListen,
    CannotWrite,
    ConnectionLost,
    StreamError,
    UsageError,
)
from migcompat.migration.control import Frame, read_frame
from migcompat.migration.transport import (
    FileReader,
    FileWriter,
    Listener,
    MemoryTransport,
    SocketTransport,
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
    with pytest.raises(CannotConnect, match="cannot connect") as info:
        connect(parse_uri(f"unix:{tmp_path / 'none'}"), retry_for=0.1)
    assert info.value.exit_code == 3 and info.value.uri == f"unix:{tmp_path / 'none'}"


def test_bind_in_use_is_environment() -> None:
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    try:
        with pytest.raises(CannotListen, match="cannot listen") as info:
            Listener(parse_uri(f"tcp:127.0.0.1:{busy.getsockname()[1]}"))
        assert isinstance(info.value.__cause__, OSError) and info.value.exit_code == 3
    finally:
        busy.close()


def test_accept_timeout_is_environment(tmp_path: Path) -> None:
    listener = Listener(parse_uri(f"unix:{tmp_path / 's'}"))
    try:
        with pytest.raises(CannotConnect, match="no source connected"):
            listener.accept(0.05)
    finally:
        listener.close()
    assert not (tmp_path / "s").exists()


def test_socket_errors_become_connection_lost() -> None:
    a, b = socket.socketpair()
    ta = SocketTransport(a, "peer")
    b.close()
    with pytest.raises(ConnectionLost) as info:
        for _ in range(100):
            ta.write(b"x" * 65536)
    assert isinstance(info.value.__cause__, OSError) and info.value.exit_code == 1
    a.close()
    with pytest.raises(ConnectionLost):
        ta.read(1)


def test_end_write_lets_the_peer_read_the_end_and_still_answer() -> None:
    a, b = socket.socketpair()
    with SocketTransport(a, "dest") as ta, SocketTransport(b, "src") as tb:
        ta.write(b"stream")
        ta.end_write()
        assert tb.read(100) == b"stream" and tb.read(100) == b""  # the end of the stream
        tb.write(b"verdict")
        assert ta.read(100) == b"verdict"
    assert a.fileno() == -1 and b.fileno() == -1  # the context manager closed both


def test_memory_transport_keeps_the_contract() -> None:
    with MemoryTransport() as t:
        t.write(b"ab")
        t.end_write()
        with pytest.raises(ConnectionLost):
            t.write(b"c")
        assert t.read(10) == b"ab" and t.read(10) == b""
    assert t.closed


def test_file_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read"):
        FileReader(str(tmp_path / "missing"))
    with pytest.raises(CannotWrite, match="cannot write"):
        FileWriter(str(tmp_path / "no-such-dir" / "x"))
    with FileWriter(str(tmp_path / "out")) as w:  # closed before end_write: nothing left
        w.write(b"abc")
    assert list(tmp_path.iterdir()) == []
    with FileWriter(str(tmp_path / "out")) as w:
        w.write(b"abc")
        assert [p.name for p in tmp_path.iterdir()] != ["out"]  # not there before the end
        w.end_write()
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
    assert (tmp_path / "out").read_bytes() == b"abc"
    with FileReader(str(tmp_path / "out")) as r:
        assert r.read(10) == b"abc"
        with pytest.raises(ConnectionLost, match="cannot be written"):
            r.write(b"x")


def test_control_frames() -> None:
    frame = Frame("failed", "m1", "boom", None)
    assert read_frame(MemoryTransport(frame.encode())) == frame
    assert read_frame(MemoryTransport(b"")) is None
    assert read_frame(MemoryTransport(Frame("commit", "m1").encode()[:10])) is None
    with pytest.raises(StreamError, match="garbage"):
        read_frame(MemoryTransport(b"QEVM\0\0\0\3"))
    bad = Frame("ack").encode().replace(b'"ack"', b'"win"')
    with pytest.raises(StreamError, match="unknown kind"):
        read_frame(MemoryTransport(bad))
