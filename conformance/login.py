"""How the harness logs in: one sequence, shared by the runner, calibration and provisioning.

APOP for a mailbox declared as reached with APOP (RFC 1939 section 13 has a
server allow one method or the other per mailbox), or where the server offers
APOP but not USER; USER and PASS otherwise.  :func:`logged_in` is a session
of the harness's own (calibration, clearing, learning a mailbox): connected,
logged in, and abandoned on the way out.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator

from conformance.placeholders import apop_digest
from conformance.pop3 import Response, apop_timestamp
from conformance.probe import ServerProfile
from conformance.secrets import Secrets
from conformance.target import Account, Target
from conformance.transcript import Transcript
from conformance.transport import Session

Exchange = Callable[[str], Response]


def log_in(
    exchange: Exchange,
    account: Account,
    profile: ServerProfile,
    greeting: str,
    secrets: Secrets | None = None,
) -> Response:
    """Send the login commands through ``exchange``; the last answer (+OK: logged in).

    An APOP digest computed here joins ``secrets``: a server that echoes it
    must not put it into a report.
    """
    if profile.logs_in_with_apop(account.apop):
        digest = apop_digest(apop_timestamp(greeting) or "", account.password)
        if secrets is not None:
            secrets.add(digest, encoded=False)
        return exchange(f"APOP {account.user} {digest}")
    response = exchange(f"USER {account.user}")
    if response.ok:
        response = exchange(f"PASS {account.password}")
    return response


class LoginError(Exception):
    """The server refused the greeting or the login; the message says how."""


@contextlib.contextmanager
def logged_in(
    target: Target,
    account: Account,
    profile: ServerProfile,
    transcript: Transcript,
    label: str,
    patience: float = 0.0,
    utf8: bool = False,
) -> Iterator[Session]:
    """A session logged in as ``account``; ConnectError if unreachable, LoginError if refused.

    A refused login is tried again (a new connection each time) for up to
    ``patience`` seconds: a server may release a mailbox lock a little after
    the session that held it went away.  ``utf8`` sends UTF8 before the login
    (RFC 6856 UTF-8 mode), whatever its answer.
    """
    deadline = time.monotonic() + patience
    while True:
        session = Session(
            label,
            target.host,
            target.port,
            transcript,
            timeout=target.timeout,
            connect_timeout=target.connect_timeout,
            limits=target.limits,
        )
        try:
            greeting = session.connect()
            if not greeting.ok:
                raise LoginError(f"greeting: {greeting.describe()}")
            if utf8:
                session.command("UTF8")
            answer = log_in(
                session.command, account, profile, greeting.status_text(), transcript.secrets
            )
        except BaseException:
            session.abandon()
            raise
        if answer.ok:
            break
        session.abandon()
        if time.monotonic() >= deadline:
            raise LoginError(f"login as {account.user!r} refused: {answer.describe()}")
        time.sleep(0.2)
    try:
        yield session
    finally:
        session.abandon()
