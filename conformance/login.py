"""How the harness logs in: one sequence, shared by the runner, calibration and preflight.

APOP for a mailbox declared as reached with APOP (RFC 1939 section 13 has a
server allow one method or the other per mailbox), or where the server offers
APOP but not USER; USER and PASS otherwise.
"""

from __future__ import annotations

from collections.abc import Callable

from conformance.placeholders import apop_digest
from conformance.pop3 import Response, apop_timestamp
from conformance.probe import ServerProfile
from conformance.secrets import Secrets
from conformance.target import Account

Exchange = Callable[[str], Response]


def log_in(
    exchange: Exchange,
    account: Account,
    profile: ServerProfile,
    greeting: str,
    secrets: Secrets | None = None,
) -> Response:
    """Send the login commands through ``exchange``; the last answer (+OK: logged in)."""
    if profile.logs_in_with_apop(account.apop):
        digest = apop_digest(apop_timestamp(greeting) or "", account.password)
        if secrets is not None:
            secrets.add(digest, encoded=False)
        return exchange(f"APOP {account.user} {digest}")
    response = exchange(f"USER {account.user}")
    if response.ok:
        response = exchange(f"PASS {account.password}")
    return response
