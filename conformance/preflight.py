"""Before the first scenario: can every account log in?

A wrong password must cost seconds and one clear line, not a run whose
scenarios all come out ``error`` (or, worse, ``fail`` against the server).
Each account logs in once by its own method (USER/PASS or APOP, as the run
will) and QUITs without touching mail.  A clean ``-ERR`` is the setup's
fault: exit 2, naming the account and quoting the server's answer.  An
answer that is not a status at all is left for the scenarios to grade: it
is the server's fault, not the credentials'.
"""

from __future__ import annotations

from conformance.login import log_in
from conformance.probe import ServerProfile
from conformance.secrets import Secrets
from conformance.target import Target
from conformance.transcript import Transcript
from conformance.transport import ConnectError, Session


class PreflightError(Exception):
    """An account the server refuses: the run's setup, before anything ran."""


def check_accounts(target: Target, profile: ServerProfile, secrets: Secrets) -> list[str]:
    """Log in with every account; raises PreflightError on a refusal, ConnectError if the
    target cannot be reached.  Returns notes on answers the scenarios will judge."""
    notes = []
    for account in target.accounts:
        session = Session.to(target, "preflight", Transcript(secrets))
        try:
            greeting = session.connect()
            if not greeting.ok:
                raise ConnectError(
                    f"{target.host}:{target.port} did not greet with +OK: {greeting.describe()}"
                )
            answer = log_in(session.command, account, profile, greeting.status_text(), secrets)
            if answer.err:
                how = "APOP" if profile.logs_in_with_apop(account.apop) else "USER/PASS"
                raise PreflightError(
                    f"account {account.user!r} cannot log in ({how}): the server answered "
                    f"{secrets.scrub(answer.describe())!r}; check the account, or use "
                    "--no-preflight to run anyway"
                )
            if not answer.ok:
                notes.append(
                    f"account {account.user!r}: the login got no status answer "
                    f"({secrets.scrub(answer.describe())}); the scenarios will judge that"
                )
            elif session.connected:
                session.command("QUIT", timeout=min(target.timeout, 3.0))
        finally:
            session.abandon()
    return notes
