"""What the session and its command handlers share: phases, commands, replies, status lines.

The handler modules (:mod:`~conformance.server.auth_handlers`,
:mod:`~conformance.server.transaction_handlers`,
:mod:`~conformance.server.extension_handlers`) import these from here rather
than from :mod:`conformance.server.session`, which imports them to build its
table: so no module imports one that imports it back.
:mod:`conformance.server.session` re-exports every name.

Like the rest of the server this imports nothing from the harness.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from typing import Final

from conformance.server.maildrop import stuff

# The conversation's log: one logger name (the "%(name)s" of the server's log
# lines) whichever module handles the command.
log: Final = logging.getLogger("conformance.server.session")

CRLF: Final = b"\r\n"
MAX_STATUS: Final = 512  # RFC 1939 section 3, CRLF included


class Phase(enum.Enum):
    AUTHORIZATION = "AUTHORIZATION"
    # Right after a successful USER: the only state that accepts PASS.
    AUTHORIZATION_USER = "AUTHORIZATION_USER"
    # After "+ " to AUTH: the next line is a SASL response, not a command.
    SASL = "SASL"
    TRANSACTION = "TRANSACTION"
    CLOSED = "CLOSED"


@dataclass(frozen=True)
class Reply:
    data: bytes
    close: bool = False
    # STLS was accepted: once ``data`` is sent, the connection starts TLS and
    # then calls Session.tls_started().
    starttls: bool = False


@dataclass(frozen=True)
class Command:
    keyword: str  # upper-case
    args: tuple[str, ...]
    rest: str  # everything after the keyword's space: PASS may hold spaces


def ok(text: str) -> bytes:
    return _status("+OK", text)


def err(text: str) -> bytes:
    return _status("-ERR", text)


def _status(indicator: str, text: str) -> bytes:
    line = (f"{indicator} {text}" if text else indicator).encode("utf-8", "surrogateescape")
    return line[: MAX_STATUS - len(CRLF)] + CRLF


def multiline(status: str, body: bytes, *, stuffed: bool = True) -> bytes:
    """A positive multi-line answer; ``body`` is normalised (CRLF-ended) and not yet stuffed."""
    return ok(status) + (stuff(body) if stuffed else body) + b".\r\n"
