"""One client connection's bytes, in the clear or inside TLS.

TLS runs over memory BIOs (``ssl.SSLContext.wrap_bio``) on top of the plain
asyncio stream rather than through ``StreamWriter.start_tls``: that way the
server decides exactly which received octets are still plaintext (RFC 2595
section 4: "A TLS negotiation begins immediately after the CRLF at the end of
the +OK response"), so nothing a client pipelined after STLS can ever be
mistaken for a command sent inside TLS.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from typing import Final

READ_SIZE: Final = 65536


def server_context(cert: str, key: str) -> ssl.SSLContext:
    """The server's TLS settings: TLS 1.2 or later, no client certificate requested."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    # RFC 8314 section 4: "Mail Access Servers ... MUST support TLS 1.2 or
    # later"; RFC 8996 deprecates TLS 1.0 and 1.1, so nothing older is offered.
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    # verify_mode stays CERT_NONE: RFC 8314 section 4.2 forbids asking for a
    # client certificate unless one can authenticate (no SASL EXTERNAL here).
    context.load_cert_chain(cert, key)
    return context


class Channel:
    """Reads and writes for one connection; :meth:`start_tls` switches to TLS for good."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._tls: ssl.SSLObject | None = None
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()

    @property
    def secure(self) -> bool:
        return self._tls is not None

    @property
    def tls_version(self) -> str | None:
        return self._tls.version() if self._tls is not None else None

    async def start_tls(self, context: ssl.SSLContext) -> None:
        """Run the server side of a TLS handshake; raises ssl.SSLError or ConnectionError.

        The caller bounds the wait (asyncio.timeout): a client that never sends
        its ClientHello must not hold the connection forever.
        """
        tls = context.wrap_bio(self._incoming, self._outgoing, server_side=True)
        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                await self._flush()
                raw = await self._reader.read(READ_SIZE)
                if not raw:
                    raise ConnectionError("connection closed during the TLS handshake") from None
                self._incoming.write(raw)
        self._tls = tls
        await self._flush()

    async def recv(self) -> bytes:
        """The next data from the client, decrypted if TLS is on; b"" at the end."""
        tls = self._tls
        if tls is None:
            return await self._reader.read(READ_SIZE)
        while True:
            try:
                return tls.read(READ_SIZE)
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLZeroReturnError:
                return b""  # the client's close_notify
            await self._flush()  # e.g. a TLS 1.3 key update answer
            raw = await self._reader.read(READ_SIZE)
            if not raw:
                return b""  # TCP end without close_notify: still the end
            self._incoming.write(raw)

    def write(self, data: bytes) -> None:
        if self._tls is None:
            self._writer.write(data)
            return
        self._tls.write(data)  # a memory BIO takes everything at once
        self._writer.write(self._outgoing.read())

    async def drain(self) -> None:
        await self._writer.drain()

    async def _flush(self) -> None:
        pending = self._outgoing.read()
        if pending:
            self._writer.write(pending)
            await self._writer.drain()

    def close(self) -> None:
        """Close; inside TLS send a close_notify first.

        RFC 8314 section 3.4: a side that closes "SHOULD initiate the exchange
        of TLS close alerts before TCP connection termination".  The client's
        own close_notify is not waited for.
        """
        tls = self._tls
        if tls is not None:
            with contextlib.suppress(ssl.SSLError, OSError, ValueError):
                tls.unwrap()
            pending = self._outgoing.read()
            if pending:
                with contextlib.suppress(OSError, RuntimeError):
                    self._writer.write(pending)
        self._writer.close()

    async def wait_closed(self) -> None:
        await self._writer.wait_closed()
