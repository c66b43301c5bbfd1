"""How the harness logs in: one sequence, shared by the runner, calibration, preflight
and the load test.

APOP for a mailbox declared as reached with APOP (RFC 1939 section 13 has a
server allow one method or the other per mailbox), or where the server offers
APOP but not USER; USER and PASS otherwise.  A load test also logs in with
SASL PLAIN (RFC 4616, as an initial response: RFC 5034 section 4) where the
server offers it, and sends the last line of two logins at once, so the lines
are made apart from being sent (:func:`login_lines`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from conformance.placeholders import apop_digest, expand
from conformance.pop3 import Response, apop_timestamp
from conformance.probe import ServerProfile
from conformance.secrets import Secrets
from conformance.target import Account

Exchange = Callable[[str], Response]

# The ways to log in: USER/PASS, APOP and SASL PLAIN.
METHODS: Final = ("user", "apop", "sasl-plain")


def login_lines(
    account: Account, method: str, greeting: str, secrets: Secrets | None = None
) -> list[str]:
    """The command lines of one login by ``method``; each must get +OK before the next.

    Credentials computed here (the APOP digest, the PLAIN token) join
    ``secrets``, so that a server that echoes one cannot put it in a report.
    """
    if method == "apop":
        digest = apop_digest(apop_timestamp(greeting) or "", account.password)
        if secrets is not None:
            secrets.add(digest, encoded=False)
        return [f"APOP {account.user} {digest}"]
    if method == "sasl-plain":
        return [expand("AUTH PLAIN {plain}", [account], None, secrets=secrets)]
    if method != "user":
        raise ValueError(f"unknown login method {method!r}; known: {', '.join(METHODS)}")
    return [f"USER {account.user}", f"PASS {account.password}"]


def log_in(
    exchange: Exchange,
    account: Account,
    profile: ServerProfile,
    greeting: str,
    secrets: Secrets | None = None,
) -> Response:
    """Send the login commands through ``exchange``; the last answer (+OK: logged in)."""
    method = "apop" if profile.logs_in_with_apop(account.apop) else "user"
    *first, last = login_lines(account, method, greeting, secrets)
    for line in first:
        response = exchange(line)
        if not response.ok:
            return response
    return exchange(last)
