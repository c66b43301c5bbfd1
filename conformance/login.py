"""How the harness logs in: one sequence, shared by the runner, calibration,
provisioning and the load test.

APOP for a mailbox declared as reached with APOP (RFC 1939 section 13 has a
server allow one method or the other per mailbox), or where the server offers
APOP but not USER; USER and PASS otherwise.  A load test also logs in with
SASL PLAIN (RFC 4616, as an initial response: RFC 5034 section 4) where the
server offers it, and sends the last line of two logins at once, so the lines
are made apart from being sent (:func:`login_lines`).  :func:`logged_in` is a
session of the harness's own (calibration, clearing, learning a mailbox):
connected, logged in, and abandoned on the way out.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Callable, Iterator
from typing import Final

from conformance.placeholders import apop_digest, expand
from conformance.pop3 import Response, apop_timestamp
from conformance.probe import ServerProfile
from conformance.secrets import Secrets
from conformance.target import Account, Target
from conformance.transcript import Transcript
from conformance.transport import Session

Exchange = Callable[[str], Response]

# The ways to log in: USER/PASS, APOP and SASL PLAIN.
METHODS: Final = ("user", "apop", "sasl-plain")


def login_lines(
    account: Account, method: str, greeting: str, secrets: Secrets | None = None
) -> list[str]:
    """The command lines of one login by ``method``; each must get +OK before the next.

    Credentials computed here (the APOP digest, the PLAIN token) join
    ``secrets``: a server that echoes one must not put it into a report.
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


def method_for(account: Account, profile: ServerProfile) -> str:
    """How the harness logs in to ``account`` unless told otherwise."""
    return "apop" if profile.logs_in_with_apop(account.apop) else "user"


def send_until_last(lines: list[str], exchange: Exchange) -> Response | None:
    """Send a login's lines but the last, each once the one before got +OK: the
    refusal that stopped them, or None when the last line may go."""
    for line in lines[:-1]:
        response = exchange(line)
        if not response.ok:
            return response
    return None


def send_login(lines: list[str], exchange: Exchange, last: Exchange | None = None) -> Response:
    """Send a login's lines, each once the one before got +OK (the last one through
    ``last`` if given); the last answer (+OK: logged in)."""
    refusal = send_until_last(lines, exchange)
    return refusal if refusal is not None else (last or exchange)(lines[-1])


def harness_login_lines(
    account: Account, profile: ServerProfile, greeting: str, secrets: Secrets | None = None
) -> list[str]:
    """The lines of the harness's own login to ``account`` (:func:`method_for`)."""
    return login_lines(account, method_for(account, profile), greeting, secrets)


def log_in(
    exchange: Exchange,
    account: Account,
    profile: ServerProfile,
    greeting: str,
    secrets: Secrets | None = None,
) -> Response:
    """Send the login commands through ``exchange``; the last answer (+OK: logged in)."""
    return send_login(harness_login_lines(account, profile, greeting, secrets), exchange)


def _last(session: Session, wait: float | None, line: str) -> Response:
    return session.command(line, wait)


class LoginError(Exception):
    """The server refused the greeting or the login; the message says how."""

    def __init__(self, message: str, answer: Response | None = None) -> None:
        super().__init__(message)
        self.answer = answer  # the refusal, when there was one


@contextlib.contextmanager
def logged_in(
    target: Target,
    account: Account,
    profile: ServerProfile,
    transcript: Transcript,
    label: str,
    patience: float = 0.0,
    utf8: bool = False,
    method: str | None = None,
    wait: float | None = None,
) -> Iterator[Session]:
    """A session logged in as ``account``; ConnectError if unreachable, LoginError if refused.

    A refused login is tried again (a new connection each time) for up to
    ``patience`` seconds: a server may release a mailbox lock a little after
    the session that held it went away.  ``utf8`` sends UTF8 before the login
    (RFC 6856 UTF-8 mode), whatever its answer.  ``method`` overrides how to
    log in (:data:`METHODS`); ``wait`` is the deadline of the login's last
    answer (a server may hold it while the mailbox is locked), the target's
    timeout by default.
    """
    deadline = time.monotonic() + patience
    while True:
        session = Session.to(target, label, transcript)
        try:
            greeting = session.connect()
            if not greeting.ok:
                raise LoginError(f"greeting: {greeting.describe()}")
            if utf8:
                session.command("UTF8")
            lines = login_lines(
                account,
                method or method_for(account, profile),
                greeting.status_text(),
                transcript.secrets,
            )
            answer = send_login(lines, session.command, functools.partial(_last, session, wait))
        except BaseException:
            session.abandon()
            raise
        if answer.ok:
            break
        session.abandon()
        if time.monotonic() >= deadline:
            raise LoginError(f"login as {account.user!r} refused: {answer.describe()}", answer)
        time.sleep(0.2)
    try:
        yield session
    finally:
        session.abandon()
