"""Logins in a scenario: ``login NAME`` and ``eventually N s: login NAME``.

A retried login is carried out in two halves, :func:`begin_eventually` and
:func:`finish_eventually`, split where the login's last line is sent and its
answer not yet read.  A scenario runs both at once (:func:`eventually`); an
exploration runs the second half when its next action begins, so that the
harness chooses that action while the server opens the maildrop (the
longest wait of a login).  Nothing is sent in between, so the server sees
the same exchange either way.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from conformance.login import harness_login_lines, send_until_last
from conformance.pop3 import Response, State
from conformance.runner import checks
from conformance.runner.mailbox_steps import relearn
from conformance.runner.permitted import permitted_close
from conformance.runner.session_steps import open_session, teardown_session
from conformance.scenario import steps as st

if TYPE_CHECKING:
    from conformance.runner.run import InFlight, ScenarioRun

# How long a refused login is tried again before the refusal counts as the
# credentials': a server may release a mailbox's lock a little after the
# session that held it ended (style.md), and a refusal then is not final.
LOGIN_GRACE_S = 5.0
LOGIN_RETRY_S = 0.5
# How long an 'eventually' login waits before it tries again.
EVENTUALLY_RETRY_S = 0.2
# The requirement a login command's answer is judged by when it is not +OK or -ERR.
LOGIN_REQUIREMENTS = {
    "USER": "RFC1939-7.USER-1",
    "PASS": "RFC1939-7.PASS-2",
    "APOP": "RFC1939-7.APOP-3",
}


def _start(run: ScenarioRun, step: st.Login) -> InFlight | Response:
    """Open the session if need be and send the login's lines: the last one sent
    with its answer unread, or the refusal of an earlier one."""
    existing = run.slots.get(step.session)
    if (
        existing is None
        or not existing.session.connected
        or existing.session.state is not State.AUTHORIZATION
    ):
        if existing is not None:
            teardown_session(run, step.session)
        open_session(run, st.Open(step.where, step.session), step.account)
    slot = run.slots[step.session]
    slot.account = step.account
    run.accounts_of[step.session] = step.account
    account = run.accounts[step.account - 1]
    lines = harness_login_lines(account, run.profile, slot.greeting, run.secrets)
    refusal = send_until_last(lines, lambda line: run.command(slot, line))
    return refusal if refusal is not None else run.send_command(slot, lines[-1])


def _answer(run: ScenarioRun, sent: InFlight | Response) -> Response:
    """The login's last answer: read now if it was left unread."""
    return sent if isinstance(sent, Response) else run.receive(sent)


def login(run: ScenarioRun, step: st.Login) -> None:
    """The account's login (USER/PASS or APOP).

    A refusal is graded by who caused it: an answer that is neither +OK nor
    -ERR (a close, a timeout, garbage) is the server's fault, a fail against
    the login command's requirement; a clean -ERR, confirmed by the retries
    of LOGIN_GRACE_S, is the run's setup (the credentials), an error.
    """
    from conformance.runner.run import Abort

    relearn(run, step.account, step.session, step)
    sent = _start(run, step)
    slot = run.slots[step.session]
    response = _answer(run, sent)
    if response.ok:
        return
    where = str(step.where)
    last_command = run.last.line.split(" ", 1)[0].upper() if run.last else "USER"
    if response.status not in ("+OK", "-ERR") or not response.answered:
        permitted = permitted_close(slot, response, where)
        requirement = LOGIN_REQUIREMENTS.get(last_command, "RFC1939-7.USER-1")
        run.checks.append(permitted or checks.login_unanswered(requirement, response, where))
        raise Abort
    deadline = time.monotonic() + LOGIN_GRACE_S
    attempts = 1
    while time.monotonic() < deadline:
        time.sleep(LOGIN_RETRY_S)
        teardown_session(run, step.session)
        response = _answer(run, _start(run, step))
        attempts += 1
        if response.ok:
            run.transcript.event(step.session, f"logged in at attempt {attempts}")
            return
    account = run.accounts[step.account - 1]
    run.error(
        step,
        f"login as {account.user!r} refused {attempts} times over {LOGIN_GRACE_S:g} s: "
        f"{response.describe()} (check the credentials)",
    )


@dataclass
class Retrying:
    """An ``eventually`` login between its two halves."""

    step: st.Eventually
    deadline: float
    attempts: int = 0
    sent: InFlight | Response | None = None


def begin_eventually(run: ScenarioRun, step: st.Eventually) -> Retrying:
    """Make the first attempt of a retried login, up to its last line sent."""
    retrying = Retrying(step, time.monotonic() + step.within_s)
    _try(run, retrying)
    return retrying


def _try(run: ScenarioRun, retrying: Retrying) -> None:
    retrying.attempts += 1
    saved = run.timeout
    # A new session's deadlines end with the window (and a second to answer).
    run.timeout = max(1.0, min(saved, retrying.deadline - time.monotonic() + 1.0))
    login = retrying.step.step
    try:
        relearn(run, login.account, login.session, login)
        retrying.sent = _start(run, login)
    finally:
        run.timeout = saved


def finish_eventually(run: ScenarioRun, retrying: Retrying) -> None:
    """Read the attempt's answer; try again until the login succeeds or the window ends."""
    from conformance.runner.run import Abort

    step = retrying.step
    where = str(step.where)
    while True:
        assert retrying.sent is not None
        if _answer(run, retrying.sent).ok:
            run.checks.append(
                checks.login_within(
                    run.requirement, True, step.within_s, retrying.attempts, "", where
                )
            )
            return
        teardown_session(run, step.step.session)
        if time.monotonic() >= retrying.deadline:
            last = run.last.response.describe() if run.last else "no answer"
            run.checks.append(
                checks.login_within(
                    run.requirement, False, step.within_s, retrying.attempts, last, where
                )
            )
            raise Abort
        time.sleep(EVENTUALLY_RETRY_S)
        _try(run, retrying)


def eventually(run: ScenarioRun, step: st.Eventually) -> None:
    finish_eventually(run, begin_eventually(run, step))
