"""The session transport against scripted peers: deadlines, resets, garbage,
endless output, redaction and the ways to end a connection."""

from __future__ import annotations

import hashlib
import socket
import threading
import time

import pytest

from conformance.pop3 import State
from conformance.transcript import REDACTED, Transcript
from conformance.transport import ConnectError, Session
from tests.scripted import ScriptedServer, read_line, rst


def session_for(port: int, timeout: float = 2.0, secrets: tuple[str, ...] = ()) -> Session:
    return Session("A", "127.0.0.1", port, Transcript(secrets), timeout=timeout)


def echo_ok(conn: socket.socket) -> None:
    conn.sendall(b"+OK ready\r\n")
    while True:
        line = read_line(conn)
        if not line:
            return
        if line.upper().startswith(b"QUIT"):
            conn.sendall(b"+OK bye\r\n")
            return
        if line.upper().startswith(b"LIST"):
            conn.sendall(b"+OK\r\n1 10\r\n.\r\n")
        else:
            conn.sendall(b"+OK\r\n")


def test_greeting_and_commands() -> None:
    with ScriptedServer(echo_ok) as srv:
        s = session_for(srv.port)
        assert s.connect().ok
        r = s.command("NOOP")
        assert r.kind == "status"
        assert s.command("USER u").ok and s.command("PASS p").ok
        assert s.state is State.TRANSACTION
        r = s.command("LIST")
        assert r.kind == "multi" and r.lines == [b"1 10"]
        assert s.command("QUIT").ok
        assert s.wait_closed(2.0)


def test_silence_is_a_timeout_not_a_wrong_answer() -> None:
    def silent(conn: socket.socket) -> None:
        time.sleep(3)

    with ScriptedServer(silent) as srv:
        s = session_for(srv.port, timeout=0.5)
        t0 = time.monotonic()
        r = s.connect()
        assert r.kind == "timeout"
        assert time.monotonic() - t0 < 2.0
        assert "timeout" in r.describe() or "deadline" in r.describe()


def test_reset_is_a_close() -> None:
    with ScriptedServer(rst) as srv:
        s = session_for(srv.port)
        try:
            r = s.connect()
        except ConnectError:
            return  # the RST beat the end of the handshake: a failed connect, not a crash
        assert r.kind == "closed"
        s.abandon()


def test_garbage_greeting_is_a_finding() -> None:
    def garbage(conn: socket.socket) -> None:
        conn.sendall(b"\x16\x03\x01\x00 hello\r\n")

    with ScriptedServer(garbage) as srv:
        r = session_for(srv.port).connect()
        assert r.status is None
        # Not a status line; octets outside text are judged only in status
        # lines, so the NUL in it adds no second finding for one fault.
        assert [f.code for f in r.findings] == ["not-a-status"]


def test_endless_output_ends_with_a_deadline() -> None:
    def endless(conn: socket.socket) -> None:
        conn.sendall(b"+OK\r\n")
        read_line(conn)
        conn.sendall(b"+OK\r\n")
        try:
            while True:
                conn.sendall(b"x" * 65536 + b"\r\n")
        except OSError:
            return

    with ScriptedServer(endless) as srv:
        s = session_for(srv.port, timeout=1.0)
        s.connect()
        # The connection owns the state; this server skips the login.
        s.connection.state = State.TRANSACTION
        t0 = time.monotonic()
        r = s.command("RETR 1")
        assert r.kind in ("timeout", "closed", "overflow")
        assert time.monotonic() - t0 < 5.0
        s.reset()


def test_unreachable() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    with pytest.raises(ConnectError):
        session_for(port).connect()


def test_secrets_redacted() -> None:
    with ScriptedServer(echo_ok) as srv:
        s = session_for(srv.port, secrets=("hunter2",))
        s.connect()
        s.command("USER alice")
        s.command("PASS hunter2")
        s.command("APOP alice 0123456789abcdef0123456789abcdef")
        s.command("NOOP hunter2")
        text = "\n".join(e.render() for e in s.transcript.entries)
        assert "hunter2" not in text
        assert "0123456789abcdef" not in text
        assert f"PASS {REDACTED}" in text
        assert "USER alice" in text


@pytest.mark.parametrize("how", ["close", "reset", "half_close", "mid_command"])
def test_endings_reach_the_server(how: str) -> None:
    seen: list[bytes] = []
    done = threading.Event()

    def record(conn: socket.socket) -> None:
        conn.sendall(b"+OK\r\n")
        try:
            while True:
                chunk = conn.recv(100)
                if not chunk:
                    seen.append(b"<FIN>")
                    break
                seen.append(chunk)
        except ConnectionResetError:
            seen.append(b"<RST>")
        done.set()

    with ScriptedServer(record) as srv:
        s = session_for(srv.port)
        s.connect()
        if how == "close":
            s.close(settle=0.2)
        elif how == "reset":
            s.reset()
        elif how == "half_close":
            s.half_close(within=0.5)
        else:
            s.drop_mid_command(b"QUI")
        assert done.wait(3)
    assert not s.connected
    if how in ("close", "half_close"):
        assert seen[-1] == b"<FIN>"
    elif how == "reset":
        assert seen[-1] == b"<RST>"
    else:
        assert b"".join(x for x in seen if not x.startswith(b"<")) == b"QUI"
        assert seen[-1] == b"<RST>"


def test_drop_mid_retr_resets_after_first_bytes() -> None:
    def big(conn: socket.socket) -> None:
        conn.sendall(b"+OK\r\n")
        read_line(conn)
        try:
            conn.sendall(b"+OK\r\n" + b"y" * 70 + b"\r\n")
            time.sleep(0.5)
            for _ in range(200):
                conn.sendall(b"z" * 70 + b"\r\n")
        except OSError:
            return

    with ScriptedServer(big) as srv:
        s = session_for(srv.port)
        s.connect()
        got = s.drop_mid_retr(1)
        assert got > 0
        assert not s.connected


def test_a_long_client_line_is_kept_as_an_excerpt_with_its_digest() -> None:
    transcript = Transcript(("s3cret",))
    line = b"XYZZ " + b" " * 65_000 + b"DELE 1"
    transcript.client("A", line + b"\r\nPASS s3cret\r\n")
    first, second = [e.text for e in transcript.entries]
    digest = hashlib.sha256(line).hexdigest()[:16]
    assert first.startswith("XYZZ ") and first.endswith(f"({len(line)} octets, sha256 {digest})")
    assert len(first) < 1200
    assert second == "PASS " + REDACTED


def test_client_lines_since_counts_what_renders_as_client_entries() -> None:
    from conformance.transcript import Transcript

    transcript = Transcript(["s3cret"])
    transcript.client("A", b"USER alice\r\n")
    mark = transcript.mark()
    transcript.client("A", b"PASS s3cret\r\n")
    transcript.server_lines("A", [b"+OK\r\n"], 5)
    transcript.client("A", b"STAT\r\nLIST\r\nN")  # a pipelined batch and a piece
    transcript.client("A", b"")
    transcript.event("A", "close")
    rendered = [e for e in transcript.entries[1:] if e.direction == "C"]
    assert transcript.client_lines_since(mark) == len(rendered) == 4
    assert transcript.client_lines_since(0) == 5
