"""The reference server's SASL mechanisms (RFC 4422), without sockets or POP3 framing.

A mechanism is a function of the client's first response (``None`` when the
AUTH command carried no initial response) that returns what happens next:

* :class:`Challenge`: send ``data`` (the session base64-encodes it after
  "+ ") and feed the client's next response to ``next``;
* :class:`Verdict`: the exchange is over, the credentials are good or not;
* :class:`Malformed`: the response breaks the mechanism's syntax.

The POP3 side (base64, "*", the "+ " lines, state changes) is the session's
job (:mod:`conformance.server.session`): the mechanisms see only decoded octets.
Like the rest of the server this imports nothing from the harness.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Protocol


class Credentials(Protocol):
    """What a mechanism may ask about accounts."""

    def password_ok(self, user: str, password: str) -> bool: ...

    def secret(self, user: str) -> str | None: ...


@dataclass(frozen=True)
class Challenge:
    data: bytes  # raw; base64 on the wire
    next: Callable[[bytes], Outcome]


@dataclass(frozen=True)
class Verdict:
    authcid: str  # whose credentials were checked
    authzid: str  # who to log in as ("" means the same as authcid)
    ok: bool


@dataclass(frozen=True)
class Malformed:
    reason: str


Outcome = Challenge | Verdict | Malformed
Mechanism = Callable[[bytes | None, Credentials], Outcome]

# Draft-murchison-sasl-login: the prompts most LOGIN clients expect.
LOGIN_USERNAME: Final = b"Username:"
LOGIN_PASSWORD: Final = b"Password:"


def _text(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def plain(initial: bytes | None, credentials: Credentials) -> Outcome:
    """PLAIN (RFC 4616): one message, ``authzid NUL authcid NUL passwd``.

    A client-first mechanism: without an initial response the session sends
    an empty challenge (RFC 5034 section 4), which is this Challenge with no data.
    """
    if initial is None:
        return Challenge(b"", lambda response: plain(response, credentials))
    parts = initial.split(b"\0")
    if len(parts) != 3 or not parts[1]:
        return Malformed("malformed PLAIN response")
    authzid, authcid, password = (_text(p) for p in parts)
    return Verdict(authcid, authzid, credentials.password_ok(authcid, password))


def login(initial: bytes | None, credentials: Credentials) -> Outcome:
    """LOGIN (draft-murchison-sasl-login): user name, then password, each after a prompt.

    Some clients send the user name as an initial response; the draft allows it.
    """

    def password_step(user: str) -> Challenge:
        return Challenge(
            LOGIN_PASSWORD,
            lambda password: Verdict(user, "", credentials.password_ok(user, _text(password))),
        )

    if initial is None:
        return Challenge(LOGIN_USERNAME, lambda user: password_step(_text(user)))
    return password_step(_text(initial))


_challenges: Final = itertools.count(1)


def cram_challenge() -> bytes:
    """A fresh CRAM-MD5 challenge: RFC 2195 asks for random digits, a timestamp and
    the host name, in the syntax of an RFC 822 msg-id."""
    host = socket.getfqdn() or "localhost"
    if not host.replace(".", "").replace("-", "").isalnum():
        host = "localhost"
    random_digits = int.from_bytes(os.urandom(6), "big")
    return f"<{random_digits}.{next(_challenges)}.{time.time_ns()}@{host}>".encode()


def cram_md5(initial: bytes | None, credentials: Credentials) -> Outcome:
    """CRAM-MD5 (RFC 2195): the response is ``user SP hex(HMAC-MD5(secret, challenge))``."""
    if initial is not None:
        # RFC 5034 section 4: "If the client uses an initial-response argument to
        # the AUTH command with a SASL mechanism that does not support an initial
        # client send, the server MUST reject the AUTH command with an -ERR reply."
        return Malformed("CRAM-MD5 takes no initial response")
    challenge = cram_challenge()

    def check(response: bytes) -> Outcome:
        user, space, digest = _text(response).rpartition(" ")
        if not space or not user:
            return Malformed("malformed CRAM-MD5 response")
        secret = credentials.secret(user)
        expected = hmac.new((secret or "").encode("utf-8"), challenge, hashlib.md5).hexdigest()
        # RFC 2195 asks for lower-case hex; upper case costs nothing to accept.
        same = hmac.compare_digest(digest.lower().encode("ascii", "replace"), expected.encode())
        return Verdict(user, "", same and secret is not None)

    return Challenge(challenge, check)


# The order is the one CAPA and a bare AUTH list them in.
MECHANISMS: Final[dict[str, Mechanism]] = {
    "PLAIN": plain,
    "LOGIN": login,
    "CRAM-MD5": cram_md5,
}
# The ones that send the password itself (RFC 2595 section 2.3 "clear-text
# login ... mechanisms"): offered only inside TLS when TLS is available.
CLEARTEXT: Final = frozenset({"PLAIN", "LOGIN"})
