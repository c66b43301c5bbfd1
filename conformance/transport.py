"""A POP3 client session over TCP: the thin transport.

The socket is driven through pexpect's ``SocketSpawn`` (the stack the user
fixed), mended in :mod:`conformance.spawn`.

Responses are cut and the protocol state is kept by the sans-IO core
(:class:`conformance.pop3.ClientConnection`), never by regex ``expect()``: a
regex over a multi-megabyte RETR rescans its buffer on every read.  This
module only pumps bytes and keeps the deadlines: every wait has one, and a
deadline that passes yields a ``Response`` of kind "timeout", which is
reported as such and never as a wrong answer.

TLS (see :mod:`conformance.tls`): ``Session(tls=context)`` handshakes right
after connecting (implicit TLS, RFC 8314), :meth:`Session.starttls` after
the +OK to STLS (RFC 2595); either raises :class:`TLSError` on failure.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import struct
import time
from typing import Any, Final, Protocol

from pexpect import EOF, TIMEOUT

from conformance.pop3 import (
    DEFAULT_LIMITS,
    NEED_DATA,
    Answer,
    ClientConnection,
    Limits,
    LocalProtocolError,
    NeedData,
    Response,
    State,
    encode_command,
)
from conformance.pop3.events import EXCERPT
from conformance.spawn import READ_CHUNK, PopSpawn, shutdown_write
from conformance.tls import TLSError, describe, handshake
from conformance.transcript import Transcript

__all__ = ["ConnectError", "PopSpawn", "Session", "TLSError"]

# What a transcript keeps of data that arrives outside any answer.
TRANSCRIPT_CHUNK = 512
# Enum members bound once: on Python 3.11 every ``State.X`` goes through
# EnumType.__getattr__ (a hook call, ~100 ns), and this is the path of every answer.
_IN_SASL: Final = State.AUTHORIZATION_SASL


class ConnectError(Exception):
    """The target could not be reached (refused, unroutable or no answer to SYN)."""


class Endpoint(Protocol):
    """Where a session goes and its deadlines (a :class:`conformance.target.Target`)."""

    host: str
    port: int
    timeout: float
    connect_timeout: float
    limits: Limits


class Session:
    """One POP3 connection: the IO pump and the deadlines around a
    :class:`~conformance.pop3.ClientConnection`, which owns the protocol state.

    ``label`` names the session in the transcript ("A", "B").
    """

    def __init__(
        self,
        label: str,
        host: str,
        port: int,
        transcript: Transcript,
        *,
        timeout: float = 10.0,
        connect_timeout: float = 5.0,
        tls: ssl.SSLContext | None = None,
        server_hostname: str | None = None,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        self.label = label
        self.host = host
        self.port = port
        self.transcript = transcript
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        # Implicit TLS: the handshake runs before the greeting is read.
        self.tls_context = tls
        self.server_hostname = server_hostname
        self.tls_version: str | None = None  # protocol and cipher, once TLS is on
        # Octets that followed the +OK to STLS in the clear (RFC 2595 section 4
        # has TLS start right after its CRLF, so a conforming server sends none).
        self.plaintext_after_stls = b""
        self.connection = ClientConnection(limits)
        self.greeting: Response | None = None
        self.closed_by_server = False
        self._spawn: PopSpawn | None = None
        self._sock: socket.socket | None = None

    @classmethod
    def to(cls, target: Endpoint, label: str, transcript: Transcript) -> Session:
        """A plaintext session to ``target`` with its deadlines and reader bounds."""
        return cls(
            label,
            target.host,
            target.port,
            transcript,
            timeout=target.timeout,
            connect_timeout=target.connect_timeout,
            limits=target.limits,
        )

    @property
    def state(self) -> State:
        """The protocol state, as the connection tracks it (the one tracker)."""
        return self.connection.state

    # -- connection -------------------------------------------------------
    @property
    def connected(self) -> bool:
        """Open, and still trusted: not closed, and no answer lost or half read."""
        return self._spawn is not None and self.connection.dead is None

    @property
    def open_socket(self) -> bool:
        """The socket is still ours to close (the connection may be dead)."""
        return self._spawn is not None

    def connect(self) -> Response:
        """Open the connection and read the greeting (with their own deadlines)."""
        self.transcript.event(self.label, f"connect {self.host}:{self.port}")
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.connect_timeout)
        except OSError as exc:
            self.transcript.event(self.label, f"connect failed: {exc}")
            raise ConnectError(f"cannot connect to {self.host}:{self.port}: {exc}") from exc
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.tls_context is not None:
            sock = self._handshake(sock, self.tls_context, self.server_hostname)
        self._sock = sock
        self._spawn = PopSpawn(sock, timeout=self.timeout)
        self.greeting = self.read_answer().response
        return self.greeting

    @property
    def tls_closed_without_notify(self) -> bool:
        """Whether the server ended this TLS connection without a close_notify alert."""
        return self._spawn is not None and bool(self._spawn.ragged_eof)

    def starttls(self, context: ssl.SSLContext, server_hostname: str | None) -> None:
        """Switch the connection to TLS; call it after the +OK to STLS.

        ``server_hostname`` is the name the certificate must carry (None:
        the host connected to).  Bytes the server sent after the +OK in the
        clear are kept in :attr:`plaintext_after_stls` and recorded, never read
        as responses.  Raises TLSError (the connection is then gone).
        """
        spawn = self._require()
        sock = self._sock
        if sock is None or isinstance(sock, ssl.SSLSocket):
            raise LocalProtocolError(f"session {self.label} is not on a plaintext connection")
        stray = self.connection.start_tls()
        if stray:
            self.plaintext_after_stls = stray
            self.transcript.event(
                self.label, f"{len(stray)} octets in the clear after the STLS answer: {stray!r}"
            )
        try:
            tls = self._handshake(sock, context, server_hostname)
        except TLSError:
            self._spawn = self._sock = None
            spawn.child_fd = -1
            spawn.closed = True
            raise
        self._sock = tls
        spawn.use_socket(tls)

    def _handshake(
        self, sock: socket.socket, context: ssl.SSLContext, server_hostname: str | None
    ) -> ssl.SSLSocket:
        name = server_hostname if server_hostname is not None else self.host
        try:
            tls = handshake(sock, context, name, self.timeout)
        except TLSError as exc:
            self.transcript.event(self.label, f"TLS handshake failed: {exc}")
            raise
        self.tls_version = describe(tls)
        self.transcript.event(self.label, f"TLS established: {self.tls_version}")
        return tls

    def _require(self) -> PopSpawn:
        if self._spawn is None:
            raise LocalProtocolError(f"session {self.label} is not connected")
        return self._spawn

    # -- sending ----------------------------------------------------------
    def send_raw(self, data: bytes) -> None:
        """Send bytes as they are; each line they complete awaits its answer."""
        spawn = self._require()
        in_sasl = self.state is _IN_SASL
        self.connection.send_raw(data)
        self._write(spawn, data, in_sasl)

    def _write(self, spawn: PopSpawn, data: bytes, in_sasl: bool) -> None:
        # The bytes go out first and are recorded after: the server starts on
        # them while the transcript is written (two cores, one each).
        try:
            spawn.send(data)
            failure = ""
        except OSError as exc:
            failure = f"send failed: {exc}"
        self.transcript.client(self.label, data, in_sasl)
        if failure:
            self.transcript.event(self.label, failure)

    def send(self, line: str) -> State:
        """Send one command line; its answer is owed.  Returns the state it is
        answered in (the one before the answer: nothing else is pending)."""
        spawn = self._spawn or self._require()
        connection = self.connection
        if connection.awaiting:
            raise LocalProtocolError(
                f"session {self.label}: {connection.awaiting} earlier answer(s) unread "
                "(judge each answer of a raw: batch with S: or read before the next C:)"
            )
        state = connection.state
        data = connection.send_command(line)
        self._write(spawn, data, state is _IN_SASL)
        return state

    def exchange(self, line: str, timeout: float | None = None) -> Answer:
        """Send one command line and read its answer, shaped by the state table."""
        self.send(line)
        return self.read_answer(timeout)

    def command(self, line: str, timeout: float | None = None) -> Response:
        """:meth:`exchange`, for callers that need only the response."""
        self.send(line)
        return self.read_answer(timeout).response

    # -- receiving --------------------------------------------------------
    def read_answer(self, timeout: float | None = None) -> Answer:
        """Read the next answer owed (the greeting first) before the deadline."""
        spawn = self._spawn or self._require()
        connection = self.connection
        limit = self.timeout if timeout is None else timeout
        start = time.monotonic()
        deadline = start + limit
        partial = b""  # what arrived of an answer still incomplete (for a timeout)
        event = connection.next_event() if connection.buffered() else NEED_DATA
        while isinstance(event, NeedData):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                event = connection.time_out(partial, limit)
                self.transcript.event(
                    self.label, f"timeout: no complete response within {limit:g} s"
                )
                break
            try:
                data = spawn.read_nonblocking(READ_CHUNK, remaining)
            except TIMEOUT:
                continue
            except EOF:
                self.closed_by_server = True
                data = b""
            connection.receive_data(data)
            event = connection.next_event()
            if event is NEED_DATA and len(partial) < EXCERPT:
                partial += data[: EXCERPT - len(partial)]
        event.response.elapsed_ms = (time.monotonic() - start) * 1000.0
        self.transcript.answer(self.label, event.response)
        return event

    def stray_data(self) -> bytes:
        """Bytes received after the last complete response (should be none)."""
        return self.connection.stray_data()

    def wait_closed(self, within: float) -> bool:
        """Wait until the server closes the connection; data that arrives meanwhile is recorded."""
        spawn = self._require()
        if self.closed_by_server or self.connection.eof:
            return True
        deadline = time.monotonic() + within
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            try:
                data = spawn.read_nonblocking(READ_CHUNK, remaining)
            except TIMEOUT:
                return False
            except EOF:
                self.closed_by_server = True
                self.transcript.event(self.label, "connection closed by the server")
                self.connection.die("closed", "the server closed the connection", by_server=True)
                return True
            self.transcript.add(self.label, "S", data[:TRANSCRIPT_CHUNK].decode("latin-1"))

    # -- ending -----------------------------------------------------------
    def close(self, settle: float = 1.0) -> None:
        """End with a FIN and no QUIT.

        The write side is shut first so that a FIN goes out even if unread
        data is pending (closing a socket with unread data sends an RST on
        Linux), then what the server still sends is drained briefly.
        """
        sock = self._sock
        if sock is None:
            return
        self.transcript.event(self.label, "close (FIN, no QUIT)")
        with contextlib.suppress(OSError):
            shutdown_write(sock)
        self.wait_closed(settle)
        self._discard()

    def reset(self) -> None:
        """End with an RST: SO_LINGER on with a zero timeout, then close."""
        sock = self._sock
        if sock is None:
            return
        self.transcript.event(self.label, "reset (RST)")
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self._discard()

    def half_close(self, within: float = 5.0) -> bool:
        """Shut down the write side only and wait for the server to close its side."""
        sock = self._sock
        if sock is None:
            return True
        self.transcript.event(self.label, "half-close (shutdown of the write side)")
        with contextlib.suppress(OSError):
            shutdown_write(sock)
        closed = self.wait_closed(within)
        self._discard()
        return closed

    def drop_mid_command(self, partial: bytes = b"QUI") -> None:
        """Send part of a command line, then reset."""
        self.send_raw(partial)
        self.reset()

    def drop_mid_retr(self, message: int, after_octets: int = 1) -> int:
        """Send RETR and reset once the first octets of the answer arrived; returns octets read."""
        spawn = self._require()
        self.send_raw(encode_command(f"RETR {message}"))
        got = 0
        deadline = time.monotonic() + self.timeout
        while got < after_octets and time.monotonic() < deadline:
            try:
                got += len(spawn.read_nonblocking(READ_CHUNK, deadline - time.monotonic()))
            except (TIMEOUT, EOF):
                break
        self.transcript.event(self.label, f"read {got} octets of the RETR answer")
        self.reset()
        return got

    def _discard(self) -> None:
        if self.connection.dead is None:
            self.connection.die("ended", "the harness ended the connection", by_server=False)
        spawn = self._spawn
        self._spawn = None
        self._sock = None
        if spawn is not None:
            with contextlib.suppress(OSError):
                spawn.socket.close()
            spawn.child_fd = -1
            spawn.closed = True

    def abandon(self) -> None:
        """Close without ceremony (used at teardown after QUIT)."""
        self._discard()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: Any) -> None:
        self._discard()
