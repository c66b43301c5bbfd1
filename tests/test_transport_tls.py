"""The harness's TLS: Session.starttls, implicit TLS, and every handshake failure as TLSError."""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Iterator

import pytest
import trustme

from conformance.pop3 import LocalProtocolError, State
from conformance.server.embedded import EmbeddedServer
from conformance.tls import TLSError, make_client_context
from conformance.transcript import Transcript
from conformance.transport import Session
from tests.scripted import ScriptedServer, read_line, rst


@pytest.fixture(scope="module")
def server() -> Iterator[EmbeddedServer]:
    with EmbeddedServer(accounts=[f"x{i}" for i in range(10)], tls=True) as running:
        yield running


@pytest.fixture
def context(server: EmbeddedServer) -> ssl.SSLContext:
    return make_client_context(str(server.ca_pem), insecure=False)


def events(transcript: Transcript) -> list[str]:
    return [e.text for e in transcript.entries if e.direction == "*"]


def login(session: Session, server: EmbeddedServer, index: int) -> None:
    account = server.accounts[index]
    assert session.command(f"USER {account.user}").ok
    assert session.command(f"PASS {account.password}").ok
    assert session.state is State.TRANSACTION


# -- the client context ----------------------------------------------------------


def test_client_context_verifies_by_default_and_needs_tls_1_2():
    context = make_client_context(None, insecure=False)
    assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname
    assert context.minimum_version is ssl.TLSVersion.TLSv1_2
    insecure = make_client_context(None, insecure=True)
    assert insecure.verify_mode is ssl.CERT_NONE and not insecure.check_hostname
    assert insecure.minimum_version is ssl.TLSVersion.TLSv1_2


# -- against the reference server --------------------------------------------------


def test_stls_then_commands_inside_tls(server, context):
    transcript = Transcript()
    session = Session("A", server.host, server.port, transcript, timeout=3.0)
    assert session.connect().ok
    assert session.command("STLS").ok
    session.starttls(context, "localhost")
    assert session.tls_version is not None and session.tls_version.startswith("TLSv1.")
    assert session.plaintext_after_stls == b""
    capabilities = session.command("CAPA")
    assert capabilities.kind == "multi" and b"STLS" not in capabilities.lines
    login(session, server, 0)
    assert session.command("STAT").status_line.startswith(b"+OK 0 0")
    assert session.command("QUIT").ok
    assert session.wait_closed(2.0)
    assert any(text.startswith("TLS established: TLSv1.") for text in events(transcript))


def test_implicit_tls_reads_the_greeting_inside_tls(server, context):
    session = Session(
        "A",
        server.host,
        server.tls_port,
        Transcript(),
        timeout=3.0,
        tls=context,
        server_hostname="localhost",
    )
    greeting = session.connect()
    assert greeting.ok and greeting.status_line.startswith(b"+OK <")
    assert session.tls_version is not None
    login(session, server, 1)
    session.close()  # a FIN inside TLS: the TLS state survives for the drain


def test_host_name_defaults_to_the_address_connected_to(server, context):
    # The certificate also names 127.0.0.1, the host the session connects to.
    session = Session("A", server.host, server.tls_port, Transcript(), timeout=3.0, tls=context)
    assert session.connect().ok
    session.abandon()


def test_many_pipelined_answers_in_few_records(server, context):
    session = Session("A", server.host, server.tls_port, Transcript(), timeout=3.0, tls=context)
    assert session.connect().ok
    # One write of 50 commands: the server answers them in one batch, so several
    # answers share TLS records; each must come out as its own response.
    session.send_raw(b"CAPA\r\n" * 50)
    for _ in range(50):
        response = session.read_answer().response
        assert response.kind == "multi" and b"UIDL" in response.lines
    assert session.stray_data() == b""
    session.abandon()


def test_a_wrong_ca_is_a_verify_failure(server, tmp_path):
    other = trustme.CA()
    other.cert_pem.write_to_path(str(tmp_path / "other.pem"))
    transcript = Transcript()
    session = Session(
        "A",
        server.host,
        server.tls_port,
        transcript,
        timeout=3.0,
        tls=make_client_context(str(tmp_path / "other.pem"), insecure=False),
    )
    with pytest.raises(TLSError) as caught:
        session.connect()
    assert caught.value.kind == "verify"
    assert "certificate verify failed" in str(caught.value)
    assert any("TLS handshake failed" in text for text in events(transcript))


def test_a_wrong_host_name_is_a_verify_failure(server, context):
    session = Session("A", server.host, server.port, Transcript(), timeout=3.0)
    assert session.connect().ok
    assert session.command("STLS").ok
    with pytest.raises(TLSError) as caught:
        session.starttls(context, "mail.example.org")
    assert caught.value.kind == "verify"
    assert not session.connected


def test_insecure_accepts_any_certificate(server):
    session = Session(
        "A",
        server.host,
        server.port,
        Transcript(),
        timeout=3.0,
    )
    assert session.connect().ok
    assert session.command("STLS").ok
    session.starttls(make_client_context(None, insecure=True), "mail.example.org")
    assert session.command("NOOP").err  # NOOP is refused in AUTHORIZATION, inside TLS
    session.abandon()


# -- against scripted peers ------------------------------------------------------------


def test_a_silent_server_is_a_handshake_timeout_within_the_deadline():
    def silent_after_stls(conn: socket.socket) -> None:
        conn.sendall(b"+OK ready\r\n")
        read_line(conn)
        conn.sendall(b"+OK go ahead\r\n")
        time.sleep(3)

    with ScriptedServer(silent_after_stls) as peer:
        session = Session("A", "127.0.0.1", peer.port, Transcript(), timeout=0.5)
        assert session.connect().ok
        assert session.command("STLS").ok
        started = time.monotonic()
        with pytest.raises(TLSError) as caught:
            session.starttls(make_client_context(None, insecure=True), None)
        assert caught.value.kind == "timeout"
        assert time.monotonic() - started < 2.0


@pytest.mark.parametrize("reset", [False, True])
def test_a_server_that_closes_or_resets_is_a_closed_handshake(reset: bool) -> None:
    # A reset can come before the client has even sent its ClientHello:
    # Mailutils, sent "STLS" and "CAPA" in one write, takes the clear-text
    # CAPA for the start of the handshake and resets the connection.
    def close_after_stls(conn: socket.socket) -> None:
        conn.sendall(b"+OK ready\r\n")
        read_line(conn)
        conn.sendall(b"+OK go ahead\r\n")
        if reset:
            rst(conn)

    with ScriptedServer(close_after_stls) as peer:
        session = Session("A", "127.0.0.1", peer.port, Transcript(), timeout=2.0)
        assert session.connect().ok
        assert session.command("STLS").ok
        if reset:
            time.sleep(0.3)  # the reset arrives before the ClientHello is sent
        with pytest.raises(TLSError) as caught:
            session.starttls(make_client_context(None, insecure=True), None)
        assert caught.value.kind == "closed"


def test_plaintext_after_the_stls_answer_is_recorded_not_parsed():
    def chatty(conn: socket.socket) -> None:
        conn.sendall(b"+OK ready\r\n")
        read_line(conn)
        conn.sendall(b"+OK go ahead\r\n-ERR injected\r\n")
        time.sleep(1)

    with ScriptedServer(chatty) as peer:
        transcript = Transcript()
        session = Session("A", "127.0.0.1", peer.port, transcript, timeout=0.5)
        assert session.connect().ok
        # Give the second line time to arrive with the first.
        time.sleep(0.2)
        assert session.command("STLS").ok
        with pytest.raises(TLSError):
            session.starttls(make_client_context(None, insecure=True), None)
        assert session.plaintext_after_stls == b"-ERR injected\r\n"
        assert any("in the clear after the STLS answer" in t for t in events(transcript))


def test_plain_garbage_instead_of_tls_is_a_handshake_failure():
    def garbage(conn: socket.socket) -> None:
        conn.sendall(b"+OK ready\r\n")
        read_line(conn)
        conn.sendall(b"+OK go ahead\r\n")
        read_line(conn)  # the ClientHello, more or less
        conn.sendall(b"this is not TLS at all\r\n" * 4)
        time.sleep(1)

    with ScriptedServer(garbage) as peer:
        session = Session("A", "127.0.0.1", peer.port, Transcript(), timeout=2.0)
        assert session.connect().ok
        assert session.command("STLS").ok
        with pytest.raises(TLSError) as caught:
            session.starttls(make_client_context(None, insecure=True), None)
        assert caught.value.kind == "handshake"


def test_starttls_twice_is_a_usage_error(server, context):
    session = Session("A", server.host, server.port, Transcript(), timeout=3.0)
    assert session.connect().ok
    assert session.command("STLS").ok
    session.starttls(context, "localhost")
    with pytest.raises(LocalProtocolError):
        session.starttls(context, "localhost")
    session.abandon()


def test_buffered_decrypted_bytes_are_read_without_waiting(server, context):
    session = Session("A", server.host, server.tls_port, Transcript(), timeout=3.0, tls=context)
    assert session.connect().ok
    session.send_raw(b"CAPA\r\n")
    spawn = session._require()
    first = spawn.read_nonblocking(4, 3.0)  # part of one record; the rest stays in the SSL buffer
    assert first == b"+OK "
    assert spawn.socket.pending() > 0
    rest = spawn.read_nonblocking(65536, 0)  # no wait allowed: must come from the buffer
    assert rest.startswith(b"capability list follows\r\n")
    session.abandon()


def _tls_peer(ca: trustme.CA, clean: bool) -> ScriptedServer:
    """An implicit-TLS peer that answers QUIT, then closes with or without close_notify."""
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(server_context)

    def handler(conn: socket.socket) -> None:
        tls = server_context.wrap_socket(conn, server_side=True)
        tls.sendall(b"+OK hi\r\n")
        tls.recv(100)
        tls.sendall(b"+OK bye\r\n")
        if clean:
            tls.unwrap()  # sends the close_notify alert
        # SSLSocket.close() alone sends no close_notify: a bare TCP close.
        tls.close()

    return ScriptedServer(handler)


@pytest.mark.parametrize("clean", [True, False])
def test_a_missing_close_notify_is_noticed(clean: bool) -> None:
    ca = trustme.CA()
    client = make_client_context(None, insecure=False)
    ca.configure_trust(client)
    with _tls_peer(ca, clean) as peer:
        session = Session(
            "A",
            "127.0.0.1",
            peer.port,
            Transcript(),
            timeout=5.0,
            tls=client,
            server_hostname="localhost",
        )
        assert session.connect().ok
        assert session.command("QUIT").ok
        assert session.wait_closed(5.0)
        assert session.tls_closed_without_notify is (not clean)
        session.abandon()
