"""Sessions in a scenario: open, switch, end in every way, and teardown (logins:
:mod:`conformance.runner.login_steps`)."""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING

from conformance.pop3 import State, apop_timestamp
from conformance.runner import checks
from conformance.runner.deliveries import quit_ended
from conformance.runner.permitted import permitted_close
from conformance.runner.tls_steps import client_context, done, failed
from conformance.scenario import steps as st
from conformance.tls import TLSError
from conformance.transport import ConnectError, Session

if TYPE_CHECKING:
    from conformance.runner.run import ScenarioRun, Slot

TEARDOWN_TIMEOUT = 3.0
# The longest LOGIN-DELAY 'sleep login-delay' waits out: half an hour, three
# times the slow scenarios' window.
MAX_LOGIN_DELAY_S = 1800


def open_session(run: ScenarioRun, step: st.Open, account: int = 1) -> Slot:
    from conformance.runner.run import Abort, Slot

    old = run.slots.get(step.session)
    if old is not None and old.session.connected:
        release(run, old)
    run.closes.reset(step.session)
    port = run.target.port
    context: ssl.SSLContext | None = None
    if step.tls:
        if run.target.tls_port is None:
            run.error(step, "'open NAME tls' needs the target's implicit-TLS port (--tls-port)")
        port, context = run.target.tls_port, client_context(run)
    session = Session(
        step.session,
        run.target.host,
        port,
        run.transcript,
        timeout=run.timeout,
        connect_timeout=run.target.connect_timeout,
        tls=context,
        server_hostname=run.target.tls_servername,
        limits=run.target.limits,
    )
    maildrop = run.mailboxes.maildrops.get(account)
    model = (
        maildrop.open_session(run.profile.implements(), session.connection)
        if maildrop is not None
        else None
    )
    slot = Slot(session, model, account)
    run.slots[step.session] = slot
    run.accounts_of[step.session] = account
    run.current = step.session
    try:
        greeting = session.connect()
    except ConnectError as exc:
        run.health.missed(str(exc))
        run.error(step, str(exc))
    except TLSError as exc:
        failed(run, step, step.session, exc, optional=False)
    if greeting.answered:
        run.health.greeted()
    else:
        run.health.missed(f"{run.target.host}:{port}: {greeting.describe()}")
    if step.tls:
        done(run, step, session)
    run.passive(slot, greeting)
    # An S: right after 'open' judges the greeting.
    from conformance.runner.run import LastAnswer

    run.last = LastAnswer(step.session, "", greeting, [])
    slot.greeting = greeting.status_text()
    if not greeting.ok:
        run.checks.append(checks.greeting(greeting, str(step.where)))
        raise Abort
    return slot


def release(run: ScenarioRun, slot: Slot) -> None:
    """Drop a session that a new one of the same name replaces.

    One that holds its maildrop's lock (in TRANSACTION) is half-closed and
    the server's close awaited, bounded: a server that saw the end of the
    connection has let go of the lock, so the next session's answers speak
    about its own lines, not about a lock left behind.  The drop is the same
    for the server (an end of file in TRANSACTION, no UPDATE).
    """
    session = slot.session
    if slot.logged_in:
        run.dropped_holders.add(slot.account)
    if session.state is State.TRANSACTION and not session.connection.awaiting:
        session.half_close(within=TEARDOWN_TIMEOUT)
    else:
        session.abandon()


def open_step(run: ScenarioRun, step: st.Open) -> None:
    open_session(run, step)


def use(run: ScenarioRun, step: st.Use) -> None:
    if step.session not in run.slots:
        run.error(step, f"no session named {step.session}")
    run.current = step.session


def end(run: ScenarioRun, step: st.End) -> None:
    name = run.name(step.session, step)
    slot = run.slot(name, step)
    session = slot.session
    where = str(step.where)
    if step.how == "quit":
        in_transaction = session.state is State.TRANSACTION
        response = run.command(slot, "QUIT")
        run.last = None
        permitted = permitted_close(slot, response, where)
        run.checks.append(permitted or checks.quit_answered(response, in_transaction, where))
        if response.kind == "closed":
            run.closes.server_closed(name)
        elif not response.answered:
            run.closes.ended(name, "timeout", "no answer to QUIT")
        else:
            closed = session.wait_closed(checks.QUIT_CLOSE_WITHIN_S)
            run.checks.append(checks.closed_after_quit(closed, where))
            run.closes.ended(name, "quit" if closed else "quit-left-open")
        if session.tls_version and checks.CLOSE_NOTIFY in run.scenario.requirements:
            run.checks.append(checks.close_notify(session.tls_closed_without_notify, where))
        session.abandon()
        if in_transaction:
            quit_ended(run, slot.account, name)
        forget(run, name, dropped=False)
        return
    if step.how == "close":
        session.close()
    elif step.how == "reset":
        session.reset()
    elif step.how == "half-close":
        session.half_close()
    elif step.how == "mid-command":
        session.drop_mid_command()
    elif step.how == "mid-retr":
        session.drop_mid_retr(step.message or 1)
    run.closes.ended(name, "dropped", step.how)
    forget(run, name)


def forget(run: ScenarioRun, name: str, dropped: bool = True) -> None:
    """The session is gone: its account may have been rewritten, its marks are void."""
    slot = run.slots.pop(name, None)
    if slot is None:
        return
    if slot.logged_in:
        run.mailboxes.dirty.add(slot.account)
        if dropped:
            run.dropped_holders.add(slot.account)
    slot.session.abandon()
    if slot.model is not None and dropped:
        slot.model.drop()
    if run.last is not None and run.last.session == name:
        run.last = None


def expect_closed(run: ScenarioRun, step: st.ExpectClosed) -> None:
    name = run.name(step.session, step)
    slot = run.slots.get(name)
    closed = (
        True
        if slot is None or not slot.session.connected
        else slot.session.wait_closed(step.within_s)
    )
    run.checks.append(checks.closed_within(run.requirement, closed, step.within_s, str(step.where)))
    if closed:
        run.closes.server_closed(name)
        forget(run, name)


def sleep(run: ScenarioRun, step: st.Sleep) -> None:
    seconds = step.seconds
    if step.login_delay:
        announced = run.profile.login_delay or 0
        if announced > MAX_LOGIN_DELAY_S:
            run.error(
                step,
                f"the server announces LOGIN-DELAY {announced}; the harness waits at most "
                f"{MAX_LOGIN_DELAY_S} s for a delay to pass",
            )
        # A second past the announced delay: "the number of seconds after an
        # +OK response ... before another authentication will be accepted".
        seconds = announced + 1.0
    if run.health.stopping.wait(seconds):
        run.error(step, "the run stopped during this wait: not judged")


def timestamps_differ(run: ScenarioRun, step: st.Differ) -> None:
    stamps = []
    for name in (step.first, step.second):
        slot = run.slots.get(name)
        greeting = slot.greeting if slot is not None else ""
        stamp = apop_timestamp(greeting)
        if stamp is None:
            run.error(step, f"session {name}'s greeting has no <timestamp>: {greeting!r}")
        stamps.append((name, stamp))
    run.checks.append(
        checks.timestamps_differ(run.requirement, stamps[0], stamps[1], str(step.where))
    )


# -- teardown -----------------------------------------------------------------


def teardown_session(run: ScenarioRun, name: str) -> None:
    """QUIT every session, without ever committing what the scenario did not."""
    slot = run.slots.get(name)
    if slot is None:
        return
    session = slot.session
    death = session.connection.dead
    if session.closed_by_server or (death is not None and death.by_server):
        run.closes.server_closed(name)
    elif session.open_socket:
        run.closes.ended(name, "teardown")
    if session.connected:
        try:
            if session.connection.awaiting or session.connection.tls_pending:
                # Answers are still owed, or the connection belongs to a TLS
                # handshake that never began: nothing read now would be QUIT's answer.
                session.reset()
            elif session.state is State.TRANSACTION and not _safe_to_quit(run, slot):
                run.dropped_holders.add(slot.account)
                session.reset()
            else:
                session.command("QUIT", timeout=TEARDOWN_TIMEOUT)
        except Exception:  # a broken server must not break teardown
            pass
    forget(run, name, dropped=False)


def _safe_to_quit(run: ScenarioRun, slot: Slot) -> bool:
    """Whether a teardown QUIT from TRANSACTION removes nothing.

    Marks are cleared with RSET first; if RSET is refused, a QUIT would
    commit them, so the connection is dropped instead.  A server that
    advertises EXPIRE 0 may remove every retrieved message at QUIT (RFC
    2449 section 6.7), so on an account that is not disposable teardown
    drops the connection rather than QUIT.
    """
    account = run.accounts[slot.account - 1]
    if run.profile.expire_zero and not run.target.is_disposable(account):
        return False
    rset = slot.session.command("RSET", timeout=TEARDOWN_TIMEOUT)
    return rset.ok


def teardown(run: ScenarioRun) -> None:
    for name in list(run.slots):
        teardown_session(run, name)
