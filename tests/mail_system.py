"""A small mail system around the embedded server, for the mail-system provisioners' tests.

LMTP (TCP and a Unix socket) and SMTP (with AUTH, optionally behind
STARTTLS) come from aiosmtpd; IMAP is a minimal server of our own (LOGIN,
SELECT, APPEND, STORE, EXPUNGE, CLOSE, LOGOUT).  Every delivery lands in the
embedded server's maildir as an MTA would leave it: with Return-Path,
Delivered-To and Received fields in front of the message, so that what POP3
returns is never the file that was sent.  LMTP takes lines of any length, as
Dovecot's does; SMTP refuses a line over 1000 octets, as RFC 5321 section
4.5.3.1.6 lets a relay do (aiosmtpd's default).
"""

from __future__ import annotations

import contextlib
import re
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller, UnixSocketController
from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

from conformance.cli_common import embedded_target
from conformance.lab.ports import free_port
from conformance.messages import Message
from conformance.provision import DeliveryOptions, MaildirProvisioner, make_provisioner
from conformance.server.embedded import EmbeddedServer
from conformance.target import Account, Target
from tests.scripted import ScriptedServer


def trace_fields(user: str, via: str) -> bytes:
    """What a delivery agent writes in front of a message."""
    received = f"from client by mail.test with {via}; Thu, 1 Jan 2026 00:00:00 +0000"
    return (
        b"Return-Path: <pop3-conformance@localhost>\r\n"
        + f"Delivered-To: {user}\r\nReceived: {received}\r\n".encode()
    )


class Store:
    """The embedded server's maildirs, as the delivery agents see them."""

    def __init__(self, server: EmbeddedServer) -> None:
        self.maildir = MaildirProvisioner(server.maildir_template)
        self.passwords = {a.user: a.password for a in server.accounts}
        self.delivered: list[tuple[str, str]] = []  # (user, via), in order
        self.lock = threading.Lock()

    def deliver(self, user: str, data: bytes, via: str) -> None:
        with self.lock:
            self.maildir.deliver(user, Message("delivered", trace_fields(user, via) + data))
            self.delivered.append((user, via))

    def count(self, user: str) -> int:
        root = self.maildir.path(user)
        return sum(1 for sub in ("new", "cur") for _ in (root / sub).glob("*"))


class _Handler:
    """aiosmtpd handler: recipients are the store's users (``user`` or ``user@domain``)."""

    def __init__(
        self, store: Store, via: str, refuse: Callable[[str], bool], lose: Callable[[str], bool]
    ) -> None:
        self.store, self.via, self.refuse, self.lose = store, via, refuse, lose

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        user = address.split("@", 1)[0]
        if user not in self.store.passwords or self.refuse(user):
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        for address in envelope.rcpt_tos:
            user = address.split("@", 1)[0]
            if not self.lose(user):  # a relay that accepts and never delivers
                self.store.deliver(user, envelope.original_content, self.via)
        return "250 2.0.0 stored"


class _Lmtp(LMTP):
    line_length_limit = 1 << 16  # lines of any length, as Dovecot's LMTP takes them


class _LmtpController(Controller):
    def factory(self) -> LMTP:
        return _Lmtp(self.handler)


class _LmtpSocketController(UnixSocketController):
    def factory(self) -> LMTP:
        return _Lmtp(self.handler)


def _authenticator(user: str, password: str) -> Callable[[Any, Any, Any, str, Any], AuthResult]:
    def check(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and data.login == user.encode()
            and (data.password == password.encode())
        )
        return AuthResult(success=ok, handled=False)

    return check


class _SmtpController(Controller):
    def __init__(
        self, handler: _Handler, port: int, auth: tuple[str, str], tls: ssl.SSLContext | None
    ) -> None:
        super().__init__(handler, hostname="127.0.0.1", port=port)
        self.auth, self.tls = auth, tls

    def factory(self) -> SMTP:
        return SMTP(
            self.handler,
            authenticator=_authenticator(*self.auth),
            auth_require_tls=self.tls is not None,
            require_starttls=self.tls is not None,
            tls_context=self.tls,
        )


# -- IMAP --------------------------------------------------------------------------

_LITERAL = re.compile(rb"\{([0-9]+)\}$")


class FakeImap:
    """Just enough IMAP4rev1 for APPEND into INBOX and clearing it (STARTTLS with ``tls``)."""

    def __init__(self, store: Store, tls: ssl.SSLContext | None = None) -> None:
        self.store = store
        self.tls = tls
        self.expunged = 0  # EXPUNGE commands served
        self.secured = 0  # sessions that went through STARTTLS
        self._peer = ScriptedServer(self._session).__enter__()
        self.port = self._peer.port

    def _session(self, conn: socket.socket) -> None:
        stream = conn.makefile("rwb")
        user: str | None = None
        starttls = " STARTTLS" if self.tls is not None else ""

        def say(line: str) -> None:
            stream.write(line.encode() + b"\r\n")
            stream.flush()

        try:
            say("* OK fake IMAP ready")
            while True:
                line = stream.readline().rstrip(b"\r\n")
                if not line:
                    return
                tag, _, rest = line.decode("latin-1").partition(" ")
                command, _, args = rest.partition(" ")
                command = command.upper()
                if command == "CAPABILITY":
                    say(f"* CAPABILITY IMAP4rev1 LITERAL+{starttls}")
                    say(f"{tag} OK done")
                elif command == "STARTTLS" and self.tls is not None:
                    say(f"{tag} OK begin TLS")
                    stream.close()
                    conn = self.tls.wrap_socket(conn, server_side=True)
                    stream = conn.makefile("rwb")
                    starttls = ""
                    self.secured += 1
                elif command == "LOGIN":
                    name, _, password = args.partition(" ")
                    name, password = name.strip('"'), password.strip('"')
                    if self.store.passwords.get(name) == password:
                        user = name
                        say(f"{tag} OK logged in")
                    else:
                        say(f"{tag} NO [AUTHENTICATIONFAILED] invalid credentials")
                elif command == "APPEND" and user is not None:
                    size = _LITERAL.search(line)
                    assert size is not None, line
                    say("+ go ahead")
                    data = stream.read(int(size.group(1)))
                    stream.readline()
                    self.store.deliver(user, data, "IMAP APPEND")
                    say(f"{tag} OK APPEND completed")
                elif command == "SELECT" and user is not None:
                    say(f"* {self.store.count(user)} EXISTS")
                    say(f"{tag} OK [READ-WRITE] SELECT completed")
                elif command == "EXPUNGE" and user is not None:
                    self.store.maildir.clear(user)
                    self.expunged += 1
                    say(f"{tag} OK EXPUNGE completed")
                elif command in ("STORE", "CLOSE", "NOOP"):
                    say(f"{tag} OK done")
                elif command == "LOGOUT":
                    say("* BYE")
                    say(f"{tag} OK bye")
                    return
                else:
                    say(f"{tag} BAD unknown or out of state")
        finally:
            with contextlib.suppress(OSError):
                stream.close()

    def close(self) -> None:
        self._peer.__exit__(None, None, None)


class MailSystem:
    """The embedded server, and LMTP, SMTP and IMAP ways into its maildirs."""

    def __init__(
        self,
        server: EmbeddedServer,
        socket_dir: Path,
        *,
        smtp_auth: tuple[str, str] = ("relay", "relay-secret"),
        smtp_tls: ssl.SSLContext | None = None,
        imap_tls: ssl.SSLContext | None = None,
        refuse: Callable[[str], bool] = lambda user: False,
        lose: Callable[[str], bool] = lambda user: False,
    ) -> None:
        self.server = server
        self.store = Store(server)
        self.socket_path = socket_dir / "lmtp.sock"
        # aiosmtpd's controller checks its port by connecting to it: port 0 will not do.
        self.lmtp_port, self.smtp_port = free_port(), free_port()
        self._controllers: list[Controller | UnixSocketController] = [
            _LmtpController(
                _Handler(self.store, "LMTP", refuse, lose),
                hostname="127.0.0.1",
                port=self.lmtp_port,
            ),
            _LmtpSocketController(
                _Handler(self.store, "LMTP", refuse, lose), unix_socket=str(self.socket_path)
            ),
            _SmtpController(
                _Handler(self.store, "ESMTP", refuse, lose), self.smtp_port, smtp_auth, smtp_tls
            ),
        ]
        for controller in self._controllers:
            controller.start()
        self.imap = FakeImap(self.store, imap_tls)

    def close(self) -> None:
        for controller in self._controllers:
            controller.stop()
        self.imap.close()


@contextlib.contextmanager
def mail_system(server: EmbeddedServer, socket_dir: Path, **options: Any) -> Iterator[MailSystem]:
    system = MailSystem(server, socket_dir, **options)
    try:
        yield system
    finally:
        system.close()


def ordinary_messages(count: int) -> list[Message]:
    """A few messages of ordinary shapes, as a real mailbox holds: plain text, some lines."""
    messages = []
    for n in range(1, count + 1):
        body = b"".join(
            f"Line {line} of message {n}: nothing special about this text.\r\n".encode()
            for line in range(1, 3 + 4 * n)
        )
        head = (
            f"From: Sender {n} <sender{n}@example.org>\r\n"
            "To: Someone <someone@example.org>\r\n"
            f"Subject: ordinary message {n}\r\n"
            f"Date: Fri, 2 Jan 2026 10:0{n}:00 +0000\r\n"
            f"Message-ID: <ordinary-{n}@example.org>\r\n\r\n"
        ).encode()
        messages.append(Message(f"ordinary-{n}", head + body))
    return messages


def target_for(
    server: EmbeddedServer, spec: str, *, disposable: bool = True, **delivery: Any
) -> Target:
    """The embedded server provisioned by ``spec``, its accounts disposable or not."""
    base = embedded_target(server, 10.0)
    return Target(
        base.host,
        base.port,
        [Account(a.user, a.password, disposable, a.apop) for a in base.accounts],
        make_provisioner(spec, delivery=DeliveryOptions(**delivery)),
        tls_port=base.tls_port,
        tls_ca=base.tls_ca,
        tls_servername=base.tls_servername,
    )
