"""The reference server's network side: listener, connections, locks, autologout.

Each connection reads raw chunks into its own buffer and hands complete lines
to a :class:`~conformance.server.session.Session` one at a time, so commands
that arrive together (PIPELINING) are answered in order and none is lost.
The answers to one batch are written together, and large ones are drained
before more lines are read, so a client that stops reading slows the server
down instead of filling its memory.

With a certificate configured, STLS switches a connection to TLS (see
:mod:`conformance.server.channel`), and a second listener speaks TLS from
the first octet (RFC 8314 implicit TLS).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from types import TracebackType
from typing import Final

from conformance.server import defects as d
from conformance.server.channel import READ_SIZE, Channel, server_context
from conformance.server.config import ServerConfig
from conformance.server.session import Phase, Session

log = logging.getLogger(__name__)

FLUSH_AT: Final = 65536  # write what a batch produced once it reaches this size
HANDSHAKE_TIMEOUT: Final = 30.0  # at most this long for a TLS handshake (autologout if shorter)


class LockTable:
    """Exclusive maildrop locks, held in memory by the one process that serves the maildirs."""

    def __init__(self) -> None:
        self._held: set[str] = set()
        self._until: dict[str, float] = {}  # keys held until a monotonic time
        self._logins: dict[str, float] = {}  # key -> monotonic time of its last login

    def acquire(self, key: str) -> bool:
        if key in self._held or self._until.get(key, 0.0) > time.monotonic():
            return False
        self._until.pop(key, None)
        self._held.add(key)
        return True

    def release(self, key: str) -> None:
        self._held.discard(key)

    def take(self, key: str) -> None:
        self._held.add(key)

    def release_after(self, key: str, seconds: float) -> None:
        """Release ``key`` only ``seconds`` from now (the "lock-released-late" defect)."""
        self._held.discard(key)
        self._until[key] = time.monotonic() + seconds

    def seconds_since_login(self, key: str) -> float | None:
        """Seconds since the maildrop's last login (for LOGIN-DELAY), None if never."""
        last = self._logins.get(key)
        return None if last is None else time.monotonic() - last

    def note_login(self, key: str) -> None:
        self._logins[key] = time.monotonic()

    def __contains__(self, key: object) -> bool:
        return key in self._held

    def __len__(self) -> int:
        return len(self._held)


def _strip_terminator(line: bytes) -> bytes:
    # Bare LF is accepted as a line end too (be liberal in what you accept).
    line = line[:-1]
    return line[:-1] if line.endswith(b"\r") else line


class Pop3Server:
    """An asyncio POP3 listener; use ``async with`` or start()/close()."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.locks = LockTable()
        self.tls_context: ssl.SSLContext | None = None
        if config.tls_cert is not None and config.tls_key is not None:
            self.tls_context = server_context(config.tls_cert, config.tls_key)
        self._server: asyncio.Server | None = None
        self._tls_server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._connection, self.config.host, self.config.port, limit=READ_SIZE
        )
        if self.config.implicit_tls_port is not None:
            self._tls_server = await asyncio.start_server(
                self._implicit_tls_connection,
                self.config.host,
                self.config.implicit_tls_port,
                limit=READ_SIZE,
            )

    @property
    def address(self) -> tuple[str, int]:
        """The host and port actually listened on (the first socket's)."""
        return _address(self._server)

    @property
    def implicit_tls_address(self) -> tuple[str, int] | None:
        """Where the implicit TLS listener is, if there is one."""
        return _address(self._tls_server) if self._tls_server is not None else None

    async def close(self) -> None:
        """Stop listening and end every session without UPDATE."""
        for server in (self._server, self._tls_server):
            if server is not None:
                server.close()
                await server.wait_closed()
        self._server = self._tls_server = None
        tasks = list(self._connections)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def __aenter__(self) -> Pop3Server:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self._serve_connection(reader, writer, implicit_tls=False)

    async def _implicit_tls_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await self._serve_connection(reader, writer, implicit_tls=True)

    async def _serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, implicit_tls: bool
    ) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
        peer = writer.get_extra_info("peername")
        channel = Channel(reader, writer)
        session = Session(self.config, self.locks, secure=implicit_tls)
        log.info("connection from %s%s", peer, " (implicit TLS)" if implicit_tls else "")
        try:
            if implicit_tls:
                # RFC 8314 section 3.1: "a TLS handshake begins immediately",
                # and the greeting follows inside TLS.
                await self._handshake(channel)
            await self._converse(session, channel)
        except TimeoutError:
            log.info("autologout of %s", peer)  # RFC 1939 section 3: close, say nothing
        except ssl.SSLError as error:
            log.info("TLS with %s failed: %s", peer, error)
        except (ConnectionError, OSError) as error:
            log.info("connection from %s lost: %s", peer, error)
        except Exception:
            log.exception("connection from %s failed", peer)
        finally:
            # Release the lock first, so that it is free before the close completes.
            session.end()
            channel.close()
            if task is not None:
                self._connections.discard(task)
        with contextlib.suppress(ConnectionError, OSError):
            await channel.wait_closed()

    async def _handshake(self, channel: Channel) -> None:
        if self.tls_context is None:  # pragma: no cover - STLS is refused without TLS
            raise RuntimeError("TLS requested but not configured")
        async with asyncio.timeout(min(self.config.autologout, HANDSHAKE_TIMEOUT)):
            await channel.start_tls(self.tls_context)
        log.info("TLS started: %s", channel.tls_version)

    async def _converse(self, session: Session, channel: Channel) -> None:
        idle = self.config.autologout
        channel.write(session.greeting())
        buffer = bytearray()
        discarding = False  # inside an over-long line that was already refused
        defects = self.config.defects
        while True:
            out: list[bytes] = []
            pending = 0
            lines = 0
            while (end := buffer.find(b"\n")) >= 0:
                line = bytes(buffer[: end + 1])
                del buffer[: end + 1]
                lines += 1
                if discarding:
                    discarding = False
                    continue
                before = session.phase
                if len(line) > session.line_limit:
                    reply = session.line_too_long()
                    if "long-line-tail-runs" in defects:
                        # A fixed buffer: the rest of the line, spaces skipped,
                        # is read as the next command line.
                        buffer[:0] = line[session.line_limit :].lstrip(b" ")
                else:
                    reply = session.receive_line(_strip_terminator(line))
                if session.pending_lock is not None:
                    # "lock-check-then-set": the slow part between checking the
                    # lock and setting it, during which other logins are served.
                    await asyncio.sleep(d.LOCK_RACE_WINDOW_S)
                    session.take_pending_lock()
                out.append(reply.data)
                pending += len(reply.data)
                if (
                    "pipeline-dropped-after-login" in defects
                    and session.phase is Phase.TRANSACTION
                    and before is not Phase.TRANSACTION
                ):
                    buffer.clear()  # the login process hands over no pending input
                if reply.close:
                    await _send(channel, out, idle)
                    return
                if reply.starttls:
                    await _send(channel, out, idle)
                    out, pending = [], 0
                    # Whatever followed STLS in the same read was sent before the
                    # client saw the +OK, in the clear: RFC 2595 section 4 has the
                    # client wait ("MUST NOT issue further commands until a server
                    # response is seen and the TLS negotiation is complete"), so
                    # it can only be an injection.  It is dropped, never run.
                    kept = bytes(buffer) if "stls-keeps-plaintext" in defects else b""
                    buffer.clear()
                    await self._handshake(channel)
                    session.tls_started()
                    buffer += kept
            if discarding:
                buffer.clear()
            elif lines and "pipeline-partial-line-lost" in defects:
                buffer.clear()  # a read is taken as whole lines: the unfinished one is lost
            elif len(buffer) >= session.line_limit:
                # No terminator yet and already too long: answer now rather
                # than wait for a line end that may never come.
                out.append(session.line_too_long().data)
                if "long-line-tail-runs" in defects:
                    del buffer[: session.line_limit]
                    buffer[:] = buffer.lstrip(b" ")
                else:
                    buffer.clear()
                    discarding = True
            if out:
                await _send(channel, out, idle)
            async with asyncio.timeout(idle):
                chunk = await channel.recv()
            if not chunk:
                return  # EOF (FIN or half-close): the session ends without UPDATE
            buffer += chunk


def _address(server: asyncio.Server | None) -> tuple[str, int]:
    if server is None or not server.sockets:
        raise RuntimeError("server is not listening")
    name = server.sockets[0].getsockname()
    return str(name[0]), int(name[1])


async def _send(channel: Channel, chunks: list[bytes], idle: float) -> None:
    channel.write(chunks[0] if len(chunks) == 1 else b"".join(chunks))
    # A client that never reads would block drain forever: the autologout
    # timer covers that wait too.
    async with asyncio.timeout(idle):
        await channel.drain()
