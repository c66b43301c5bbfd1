"""The embedded reference POP3 server: the harness's default target.

It is a correct RFC 1939 / 2449 / 3206 server over maildirs, with SASL (RFC 5034:
PLAIN, LOGIN, CRAM-MD5), STLS and implicit TLS (RFC 2595, RFC 8314) and UTF8 /
LANG (RFC 6856), written with the standard library only (``trustme`` makes the
test certificates) and sharing no code with the harness, so that the harness
and the server cannot agree on a bug by construction.
"""

from __future__ import annotations

from conformance.server.app import LockTable, Pop3Server
from conformance.server.config import ServerConfig
from conformance.server.embedded import EmbeddedAccount, EmbeddedServer
from conformance.server.session import Session

__all__ = [
    "EmbeddedAccount",
    "EmbeddedServer",
    "LockTable",
    "Pop3Server",
    "ServerConfig",
    "Session",
]
