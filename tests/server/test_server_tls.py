"""The reference server's TLS: STLS (RFC 2595), implicit TLS (RFC 8314) and privacy mode.

Raw sockets and the standard library's ssl only: nothing of the harness.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from conformance.server.config import ServerConfig
from conformance.server.embedded import REPO_ROOT, EmbeddedAccount, EmbeddedServer
from tests.server.conftest import TIMEOUT, Client

QUIET = 0.3  # how long "the server sends nothing" is watched


class TlsClient(Client):
    """A POP3 client that can switch to TLS; every read has a deadline."""

    def __init__(self, host: str, port: int, context: ssl.SSLContext | None = None) -> None:
        raw = socket.create_connection((host, port), timeout=TIMEOUT)
        self.sock: socket.socket = raw
        self.buffer = b""
        if context is not None:
            self.sock = context.wrap_socket(raw, server_hostname="localhost")
        self.greeting = self.line()

    def multi(self, command: str) -> list[bytes]:  # type: ignore[override]
        """The body lines only (the base class returns the status line too)."""
        return super().multi(command)[1]

    def quiet(self, within: float = QUIET) -> bool:
        """True if the server sends nothing (and does not close) for ``within`` seconds."""
        assert self.buffer == b"", self.buffer
        self.sock.settimeout(within)
        try:
            self.sock.recv(65536)  # data, or b"" for a close: not quiet either way
            return False
        except TimeoutError:
            return True
        finally:
            self.sock.settimeout(TIMEOUT)

    def starttls(self, context: ssl.SSLContext) -> None:
        assert self.buffer == b"", f"plaintext after the STLS answer: {self.buffer!r}"
        self.sock = context.wrap_socket(self.sock, server_hostname="localhost")

    def login(self, account: EmbeddedAccount) -> None:
        assert self.cmd(f"USER {account.user}").startswith(b"+OK")
        assert self.cmd(f"PASS {account.password}").startswith(b"+OK")

    def close(self) -> None:
        self.sock.close()


def context_for(server: EmbeddedServer) -> ssl.SSLContext:
    assert server.ca_pem is not None
    context = ssl.create_default_context(cafile=str(server.ca_pem))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def plain(account: EmbeddedAccount, password: str | None = None) -> str:
    secret = account.password if password is None else password
    return base64.b64encode(f"\0{account.user}\0{secret}".encode()).decode()


@pytest.fixture(scope="module")
def tls_server() -> Iterator[EmbeddedServer]:
    with EmbeddedServer(accounts=[f"t{i:02d}" for i in range(40)], tls=True) as server:
        yield server


@pytest.fixture(scope="module")
def private_server() -> Iterator[EmbeddedServer]:
    """TLS and RFC 2595 privacy mode: no login before TLS."""
    with EmbeddedServer(accounts=("p1", "p2", "p3"), tls=True, refuse_plaintext_auth=True) as s:
        yield s


_fresh = itertools.count()


@pytest.fixture
def tls_account(tls_server: EmbeddedServer) -> EmbeddedAccount:
    return tls_server.accounts[next(_fresh)]


@pytest.fixture
def open_client() -> Iterator[Callable[..., TlsClient]]:
    clients: list[TlsClient] = []

    def make(server: EmbeddedServer, port: int | None = None, tls: bool = False) -> TlsClient:
        context = context_for(server) if tls else None
        client = TlsClient(server.host, port or server.port, context)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def seed(server: EmbeddedServer, account: EmbeddedAccount, message: bytes) -> None:
    (server.maildir(account.user) / "new" / "1700000000.M1P1.test").write_bytes(message)


# -- STLS ----------------------------------------------------------------------


def test_stls_is_advertised_then_tls_starts_right_after_the_ok(tls_server, open_client):
    client = open_client(tls_server)
    assert b"STLS" in client.multi("CAPA")
    assert client.cmd("STLS").startswith(b"+OK")
    # RFC 2595 section 4: TLS begins right after the CRLF; the server then
    # waits for the ClientHello and sends nothing in the clear.
    assert client.quiet()
    client.starttls(context_for(tls_server))
    assert client.sock.version() in ("TLSv1.2", "TLSv1.3")
    after = client.multi("CAPA")
    assert b"STLS" not in after
    assert b"USER" in after and any(c.startswith(b"SASL ") for c in after)
    assert client.cmd("STLS") == b"-ERR command not permitted when TLS active"


def test_after_stls_the_session_is_still_in_authorization(tls_server, tls_account, open_client):
    seed(tls_server, tls_account, b"Subject: x\r\n\r\nsecret body\r\n")
    client = open_client(tls_server)
    assert client.cmd("STLS").startswith(b"+OK")
    client.starttls(context_for(tls_server))
    assert client.cmd("STAT").startswith(b"-ERR")
    client.login(tls_account)
    assert client.cmd("STAT") == b"+OK 1 27"
    assert client.multi("RETR 1") == [b"Subject: x", b"", b"secret body"]
    assert client.cmd("QUIT").startswith(b"+OK")


def test_a_user_given_before_stls_is_forgotten(tls_server, tls_account, open_client):
    client = open_client(tls_server)
    assert client.cmd(f"USER {tls_account.user}").startswith(b"+OK")
    assert client.cmd("STLS").startswith(b"+OK")
    client.starttls(context_for(tls_server))
    assert client.cmd(f"PASS {tls_account.password}").startswith(b"-ERR")
    client.login(tls_account)


def test_stls_is_refused_in_transaction_and_not_advertised_there(
    tls_server, tls_account, open_client
):
    client = open_client(tls_server)
    client.login(tls_account)
    assert b"STLS" not in client.multi("CAPA")
    assert client.cmd("STLS").startswith(b"-ERR")
    assert client.cmd("NOOP") == b"+OK"  # no handshake was started: still plaintext POP3


def test_stls_takes_no_argument(tls_server, open_client):
    client = open_client(tls_server)
    assert client.cmd("STLS now").startswith(b"-ERR")
    assert client.cmd("STLS").startswith(b"+OK")


def test_commands_pipelined_after_stls_are_dropped_not_run(tls_server, open_client):
    client = open_client(tls_server)
    # RFC 2595 section 9 / the STARTTLS injection bug class: CAPA rides in the
    # same segment as STLS, before any handshake.
    client.send(b"STLS\r\nCAPA\r\n")
    assert client.line().startswith(b"+OK")
    client.starttls(context_for(tls_server))
    assert client.cmd("NOOP").startswith(b"-ERR")  # NOOP's own answer (AUTHORIZATION)
    assert client.quiet()


def test_stls_without_tls_configured_is_refused_and_not_advertised(server, connect):
    client = connect()
    assert client.multi("CAPA")[1].count(b"STLS") == 0
    assert client.cmd("STLS") == b"-ERR TLS is not available"


def test_stls_after_utf8_is_refused(tls_server, open_client):
    client = open_client(tls_server)
    assert client.cmd("UTF8").startswith(b"+OK")
    # RFC 6856 section 2.1: servers MAY refuse STLS after UTF8; CAPA follows suit.
    assert b"STLS" not in client.multi("CAPA")
    assert client.cmd("STLS").startswith(b"-ERR")


def test_a_failed_handshake_costs_only_that_connection(tls_server, tls_account, open_client):
    client = open_client(tls_server)
    assert client.cmd("STLS").startswith(b"+OK")
    client.send(b"USER not-a-client-hello\r\n")
    client.sock.settimeout(TIMEOUT)
    assert client.sock.recv(65536)[:1] in (b"", b"\x15")  # nothing, or a TLS alert
    other = open_client(tls_server, tls=False)
    other.login(tls_account)


def test_close_notify_is_sent_before_the_connection_closes(tls_server, open_client):
    client = open_client(tls_server)
    assert client.cmd("STLS").startswith(b"+OK")
    raw = client.sock
    client.sock = context_for(tls_server).wrap_socket(
        raw, server_hostname="localhost", suppress_ragged_eofs=False
    )
    assert client.cmd("QUIT").startswith(b"+OK")
    # RFC 8314 section 3.4: a ragged end would raise SSLEOFError here.
    assert client.sock.recv(100) == b""


def test_password_mechanisms_wait_for_tls_when_tls_is_available(
    tls_server, tls_account, open_client
):
    client = open_client(tls_server)
    # RFC 2595 section 6: PLAIN not advertised or used before TLS; LOGIN alike.
    assert b"SASL CRAM-MD5" in client.multi("CAPA")
    assert client.multi("AUTH") == [b"CRAM-MD5"]
    refusal = b"-ERR [AUTH] plaintext login refused: use STLS first"
    assert client.cmd(f"AUTH PLAIN {plain(tls_account)}") == refusal
    assert client.cmd("AUTH LOGIN") == refusal
    assert client.cmd("STAT").startswith(b"-ERR")
    assert client.cmd("STLS").startswith(b"+OK")
    client.starttls(context_for(tls_server))
    assert b"SASL PLAIN LOGIN CRAM-MD5" in client.multi("CAPA")
    assert client.cmd(f"AUTH PLAIN {plain(tls_account)}").startswith(b"+OK")


def test_user_and_pass_still_work_before_tls_outside_privacy_mode(
    tls_server, tls_account, open_client
):
    client = open_client(tls_server)
    assert b"USER" in client.multi("CAPA")
    client.login(tls_account)


# -- implicit TLS ---------------------------------------------------------------


def test_implicit_tls_sends_nothing_in_the_clear(tls_server, open_client):
    sock = socket.create_connection((tls_server.host, tls_server.tls_port), timeout=TIMEOUT)
    try:
        # RFC 8314 section 3.1: "a TLS handshake begins immediately"; the
        # greeting is TLS application data.
        sock.settimeout(QUIET)
        with pytest.raises(TimeoutError):
            sock.recv(100)
        sock.settimeout(TIMEOUT)
        tls = context_for(tls_server).wrap_socket(sock, server_hostname="localhost")
        assert tls.recv(100).startswith(b"+OK <")
        tls.close()
    finally:
        sock.close()


def test_implicit_tls_session_starts_in_authorization_without_stls(
    tls_server, tls_account, open_client
):
    client = open_client(tls_server, port=tls_server.tls_port, tls=True)
    assert client.greeting.startswith(b"+OK <")
    capabilities = client.multi("CAPA")
    assert b"STLS" not in capabilities and b"USER" in capabilities
    assert client.cmd("STLS").startswith(b"-ERR")
    assert client.cmd("STAT").startswith(b"-ERR")
    client.login(tls_account)
    assert client.cmd("STAT").startswith(b"+OK 0 0")


def test_tls_1_2_is_enough(tls_server, open_client):
    context = context_for(tls_server)
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    client = TlsClient(tls_server.host, tls_server.tls_port, context)
    try:
        assert client.sock.version() == "TLSv1.2"
        assert client.greeting.startswith(b"+OK")
    finally:
        client.close()


def test_the_certificate_verifies_for_localhost_and_127_0_0_1(tls_server):
    for name in ("localhost", "127.0.0.1"):
        with socket.create_connection((tls_server.host, tls_server.tls_port), TIMEOUT) as raw:
            tls = context_for(tls_server).wrap_socket(raw, server_hostname=name)
            assert tls.recv(100).startswith(b"+OK")
            tls.close()


def test_no_client_certificate_is_requested(tls_server):
    # RFC 8314 section 4.2: no CertificateRequest without SASL EXTERNAL.  A client
    # with a certificate would send it only if asked: the server sees none.
    seen: list[object] = []
    context = context_for(tls_server)
    context.maximum_version = ssl.TLSVersion.TLSv1_2  # the request is visible in 1.2
    context.set_ciphers("ECDHE+AESGCM")

    def watch(
        conn: object, direction: str, version: object, content: object, kind: object, data: object
    ) -> None:
        seen.append(kind)

    context._msg_callback = watch  # type: ignore[attr-defined]
    with socket.create_connection((tls_server.host, tls_server.tls_port), TIMEOUT) as raw:
        tls = context.wrap_socket(raw, server_hostname="localhost")
        assert tls.recv(100).startswith(b"+OK")
        tls.close()
    message_types = ssl._TLSMessageType  # type: ignore[attr-defined]
    assert message_types.SERVER_HELLO in seen  # the watch works
    assert message_types.CERTIFICATE_REQUEST not in seen


def test_a_silent_client_on_the_implicit_port_is_dropped(tmp_path: Path):
    with (
        EmbeddedServer(
            root=tmp_path, accounts=("a",), tls=True, extra_args=["--autologout", "0.5"]
        ) as server,
        socket.create_connection((server.host, server.tls_port), TIMEOUT) as sock,
    ):
        started = time.monotonic()
        sock.settimeout(TIMEOUT)
        assert sock.recv(100) == b""
        assert time.monotonic() - started < 3


# -- privacy mode (refuse plaintext logins) --------------------------------------


def test_privacy_mode_advertises_no_login_before_tls(private_server, open_client):
    client = open_client(private_server)
    capabilities = client.multi("CAPA")
    assert b"STLS" in capabilities
    assert b"USER" not in capabilities
    assert not any(c.startswith(b"SASL") for c in capabilities)
    assert client.multi("AUTH") == []


def test_privacy_mode_refuses_every_login_alike_before_tls(private_server, open_client):
    account = private_server.accounts[0]
    client = open_client(private_server)
    refusals = {
        client.cmd(f"USER {account.user}"),
        client.cmd("USER nobody-at-all"),
    }
    # RFC 3206 section 5: no [AUTH] on USER.
    assert refusals == {b"-ERR plaintext login refused: use STLS first"}
    digest = hashlib.md5(b"whatever").hexdigest()
    answers = {
        client.cmd(f"AUTH PLAIN {plain(account)}"),
        client.cmd(f"AUTH PLAIN {plain(account, 'wrong')}"),
        client.cmd(f"APOP {account.user} {digest}"),
        client.cmd("AUTH CRAM-MD5"),
    }
    # RFC 8314 section 4.1: valid and invalid credentials get the same answer.
    assert answers == {b"-ERR [AUTH] plaintext login refused: use STLS first"}
    assert client.cmd(f"PASS {account.password}").startswith(b"-ERR")
    assert client.cmd("STAT").startswith(b"-ERR")


def test_privacy_mode_allows_logins_once_tls_is_on(private_server, open_client):
    client = open_client(private_server)
    assert client.cmd("STLS").startswith(b"+OK")
    client.starttls(context_for(private_server))
    capabilities = client.multi("CAPA")
    assert b"USER" in capabilities and b"SASL PLAIN LOGIN CRAM-MD5" in capabilities
    client.login(private_server.accounts[1])
    implicit = open_client(private_server, port=private_server.tls_port, tls=True)
    account = private_server.accounts[2]
    assert implicit.cmd(f"AUTH PLAIN {plain(account)}").startswith(b"+OK")


# -- defects -------------------------------------------------------------------


@pytest.fixture(scope="module")
def defective() -> Iterator[Callable[[str], EmbeddedServer]]:
    servers: dict[str, EmbeddedServer] = {}

    def get(name: str) -> EmbeddedServer:
        if name not in servers:
            servers[name] = EmbeddedServer(
                accounts=("d1", "d2"), tls=True, extra_args=["--defect", name]
            ).start()
        return servers[name]

    yield get
    for server in servers.values():
        server.stop()


def test_defect_stls_in_transaction(defective, open_client):
    server = defective("stls-in-transaction")
    client = open_client(server)
    client.login(server.accounts[0])
    assert client.cmd("STLS").startswith(b"+OK")
    client.starttls(context_for(server))
    assert client.cmd("STAT").startswith(b"+OK")  # still TRANSACTION


def test_defect_capa_keeps_stls_after_tls(defective, open_client):
    server = defective("capa-keeps-stls-after-tls")
    client = open_client(server)
    assert client.cmd("STLS").startswith(b"+OK")
    client.starttls(context_for(server))
    assert b"STLS" in client.multi("CAPA")
    assert client.cmd("STLS").startswith(b"-ERR")
    implicit = open_client(server, port=server.tls_port, tls=True)
    assert b"STLS" in implicit.multi("CAPA")


def test_defect_stls_keeps_plaintext(defective, open_client):
    server = defective("stls-keeps-plaintext")
    client = open_client(server)
    client.send(b"STLS\r\nCAPA\r\n")
    assert client.line().startswith(b"+OK")
    client.starttls(context_for(server))
    # The injected CAPA is answered first, inside TLS.
    assert client.line().startswith(b"+OK capability list follows")


# -- configuration -------------------------------------------------------------


def test_config_checks_the_tls_settings(tmp_path: Path):
    template = str(tmp_path / "{user}")
    with pytest.raises(ValueError, match="go together"):
        ServerConfig(template, tls_cert="cert.pem")
    with pytest.raises(ValueError, match="implicit TLS port"):
        ServerConfig(template, implicit_tls_port=0)
    with pytest.raises(ValueError, match="refusing plaintext"):
        ServerConfig(template, refuse_plaintext_auth=True)
    with pytest.raises(ValueError, match="tls=True"):
        EmbeddedServer(refuse_plaintext_auth=True)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--tls-cert", "missing.pem", "--tls-key", "missing.pem"], "certificate or key"),
        (["--refuse-plaintext-auth"], "refusing plaintext"),
    ],
)
def test_serve_refuses_bad_tls_options(tmp_path: Path, args: list[str], message: str):
    result = subprocess.run(
        [sys.executable, "-m", "conformance.server", "--maildir", str(tmp_path / "{user}"), *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert message in result.stderr
