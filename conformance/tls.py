"""Client-side TLS for the harness: the context it verifies with, and a bounded handshake.

Both STLS (RFC 2595) and implicit TLS (RFC 8314 section 3.1) come down to one
handshake over an already connected socket.  It runs non-blocking under one
deadline, so a server that goes quiet mid-handshake costs at most that long,
and every way it can fail becomes a :class:`TLSError` that says why.
"""

from __future__ import annotations

import select
import socket
import ssl
import time
from typing import Literal

TLSFailure = Literal["verify", "handshake", "timeout", "closed"]


class TLSError(Exception):
    """The TLS handshake failed; ``kind`` says how, the message says why.

    ``verify``: the server's certificate was refused (chain, name, dates);
    ``handshake``: the TLS negotiation itself failed (versions, ciphers, junk);
    ``timeout``: no complete handshake before the deadline;
    ``closed``: the connection ended during the handshake.
    """

    def __init__(self, message: str, kind: TLSFailure) -> None:
        super().__init__(message)
        self.kind: TLSFailure = kind


def make_client_context(cafile: str | None, insecure: bool) -> ssl.SSLContext:
    """A client context: TLS 1.2 or later, and the server verified unless ``insecure``.

    ``cafile`` replaces the system's trust store (a lab CA, the embedded
    server's CA); None keeps the system's.  ``insecure`` turns off both the
    chain and the host name check: only on explicit request, since a harness
    that accepts any certificate cannot judge RFC 8314 section 4.4.
    """
    if insecure:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        context = ssl.create_default_context(cafile=cafile)
    # RFC 8314 section 4: servers "MUST support TLS 1.2 or later"; the client
    # offers nothing older either (RFC 8996 deprecates TLS 1.0 and 1.1).
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def handshake(
    sock: socket.socket,
    context: ssl.SSLContext,
    server_hostname: str | None,
    timeout: float,
) -> ssl.SSLSocket:
    """Run the client side of a TLS handshake on ``sock`` within ``timeout`` seconds.

    ``sock`` is consumed either way: on success the returned SSLSocket owns its
    descriptor (with ``sock``'s old timeout), on failure it is closed and a
    :class:`TLSError` is raised.
    """
    deadline = time.monotonic() + timeout
    previous_timeout = sock.gettimeout()
    try:
        # suppress_ragged_eofs=False: a TCP close without a TLS close_notify
        # alert raises SSLEOFError, so RFC 8314 section 3.4 can be judged.
        tls = context.wrap_socket(
            sock,
            server_hostname=server_hostname,
            do_handshake_on_connect=False,
            suppress_ragged_eofs=False,
        )
    except (ssl.SSLError, ValueError) as exc:
        sock.close()
        raise TLSError(f"cannot start TLS: {exc}", "handshake") from exc
    except OSError as exc:
        # wrap_socket peeks at a socket it finds unconnected: a peer that
        # reset the connection before the ClientHello ends up here.
        sock.close()
        raise TLSError(f"connection lost before the TLS handshake: {exc}", "closed") from exc
    try:
        _drive(tls, deadline, timeout)
    except BaseException:
        tls.close()
        raise
    tls.settimeout(previous_timeout)
    return tls


def _drive(tls: ssl.SSLSocket, deadline: float, timeout: float) -> None:
    tls.setblocking(False)
    while True:
        try:
            tls.do_handshake()
            return
        except ssl.SSLWantReadError:
            readers, writers = [tls], []
        except ssl.SSLWantWriteError:
            readers, writers = [], [tls]
        except ssl.SSLCertVerificationError as exc:
            raise TLSError(f"certificate verify failed: {exc.verify_message}", "verify") from exc
        except ssl.SSLEOFError as exc:
            raise TLSError("connection closed during the TLS handshake", "closed") from exc
        except ssl.SSLError as exc:
            raise TLSError(f"TLS handshake failed: {exc.reason or exc}", "handshake") from exc
        except OSError as exc:
            # ECONNRESET and friends: the peer went away mid-handshake.
            raise TLSError(f"connection lost during the TLS handshake: {exc}", "closed") from exc
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not any(select.select(readers, writers, [], remaining)):
            raise TLSError(f"no complete TLS handshake within {timeout:g} s", "timeout")


def describe(tls: ssl.SSLSocket) -> str:
    """The protocol and cipher suite in use, for the transcript."""
    cipher = tls.cipher()
    return f"{tls.version()} {cipher[0] if cipher else ''}".strip()
