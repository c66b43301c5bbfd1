"""Mail delivered while a scenario runs (the ``deliver`` step), and what became of it.

A message goes in through the target's provisioner, and the scenario goes on
once it is stored.  While a session of the scenario holds the mailbox, a
server may keep its store locked for the whole session (Mailutils holds its
mbox's dot-lock), and a delivery then waits for the QUIT, as a mail system's
would: a delivery that has not ended after :data:`BLOCKED_S` goes on in the
background, and the scenario with it.  Before the next login, once no
session of the scenario holds the mailbox, the runner waits (bounded) for the
delivery to end and for POP3 to show the message; at the end of the scenario
it waits for every delivery, so that none lands in the next scenario's
mailbox.

RFC 1939 section 6: "In no case may the server remove any messages not
marked as deleted."  A message that was in the store (the provisioner
stores before it returns) while a session was in TRANSACTION, and is gone
after that session's QUIT, was removed by that QUIT (an mbox server that
writes its file back from the snapshot it took at login loses it): a fail
against RFC1939-6.QUIT-2, and the model forgets the message, so that the
rest of the scenario is judged on what is there.  A message that never
shows up for any other reason is the harness's or the mail system's error.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from conformance.mailbox_access import Pop3Access
from conformance.messages import Message, message_named
from conformance.provision import ProvisionError
from conformance.runner import checks
from conformance.scenario import steps as st

if TYPE_CHECKING:
    from conformance.runner.run import ScenarioRun

LOST_AT_QUIT = "RFC1939-6.QUIT-2"
# A delivery into a mailbox a session holds that takes longer than this is
# waiting for that session (a lock): the scenario goes on without it.
BLOCKED_S = 5.0
# A background delivery ends within its provisioner's own bounds (a command's
# timeout, a lock's patience); this is the harness's last word on it.
JOIN_S = 120.0
# How long a message known to be stored may take to show once the lock is free.
STORED_GRACE_S = 5.0


@dataclass
class Delivery:
    """One ``deliver`` step: the message, where it went, and what became of it."""

    account: int  # 1-based index into the leased accounts
    message: Message
    where: str
    holders: tuple[str, ...]  # sessions of the account in TRANSACTION when it was delivered
    mid: int | None = None  # its id in the maildrop model (None: the content is not known)
    error: str = ""
    awaited: bool = False
    learned: bool = False  # read back since it was delivered (calibration)
    # A holder whose QUIT came once the message was stored.
    stored_before_quit_of: str = ""
    _done: threading.Event = field(default_factory=threading.Event)

    def start(self, work: Callable[[], None]) -> None:
        threading.Thread(target=self._run, args=(work,), daemon=True, name="deliver").start()

    def _run(self, work: Callable[[], None]) -> None:
        try:
            work()
        except ProvisionError as exc:
            self.error = str(exc)
        except Exception as exc:  # a thread must report, never die silently
            self.error = f"{exc.__class__.__name__}: {exc}"
        finally:
            self._done.set()

    def finished(self) -> None:
        self._done.set()

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def join(self, timeout: float) -> bool:
        return self._done.wait(timeout)


def holders(run: ScenarioRun, index: int, but: str | None = None) -> list[str]:
    """The sessions of the scenario, other than ``but``, that hold account ``index``'s mailbox."""
    return [n for n, s in run.slots.items() if n != but and s.logged_in and s.account == index]


def deliver(run: ScenarioRun, step: st.Deliver) -> Delivery | None:
    """Deliver a corpus message into a session's mailbox (in the background while a
    session holds it); the model learns it for later logins.  None when the
    scenario knows nothing of that mailbox's content."""
    name = run.name(step.session, step)
    index = run.accounts_of.get(name, 1)
    user = run.accounts[index - 1].user
    message = message_named(step.message)
    delivery = Delivery(index, message, str(step.where), tuple(holders(run, index)))
    run.mailboxes.deliveries.append(delivery)

    def work() -> None:
        run.target.provisioner.deliver(user, message)

    if delivery.holders:
        delivery.start(work)
        if not delivery.join(BLOCKED_S):
            run.transcript.event(
                name,
                f"the delivery of {message.name} has not ended after {BLOCKED_S:g} s "
                "(the store is held by the session?): it goes on in the background",
            )
    else:
        try:
            work()
        except ProvisionError as exc:
            run.error(step, f"delivering {message.name} to account {user!r}: {exc}")
        delivery.finished()
    run.mailboxes.delivered.setdefault(index, []).append(message)
    maildrop = run.mailboxes.maildrops.get(index)
    if maildrop is None:
        return None
    delivery.mid = maildrop.append(message)
    run.mailboxes.pending.add(index)
    run.mailboxes.dirty.add(index)
    return delivery


def quit_ended(run: ScenarioRun, index: int, name: str) -> None:
    """Session ``name`` of account ``index`` left TRANSACTION by QUIT: what was stored
    meanwhile must outlive its UPDATE."""
    for d in run.mailboxes.deliveries:
        if d.account == index and name in d.holders and d.done and not d.error:
            d.stored_before_quit_of = d.stored_before_quit_of or name


def _settle(run: ScenarioRun, d: Delivery, step: st.Step) -> None:
    user = run.accounts[d.account - 1].user
    if not d.join(JOIN_S):
        run.error(step, f"delivering {d.message.name} to account {user!r}: no end in {JOIN_S:g} s")
    d.awaited = True
    if d.error:
        run.error(step, f"delivering {d.message.name} to account {user!r}: {d.error}")


def await_delivered(run: ScenarioRun, index: int, step: st.Step) -> None:
    """With no session holding the mailbox: every delivery into it is there (or lost by a QUIT)."""
    boxes = run.mailboxes
    maildrop = boxes.maildrops[index]
    account = run.accounts[index - 1]
    mine = [d for d in boxes.deliveries if d.account == index and not d.awaited]
    for d in mine:
        _settle(run, d, step)
    provisioner = run.target.provisioner
    stored = [
        d for d in mine if d.stored_before_quit_of and d.mid is not None and provisioner.synchronous
    ]
    expected = len(maildrop.messages)
    within = provisioner.wait
    if stored and len(stored) == len(mine):
        within = min(within, STORED_GRACE_S)
    access = Pop3Access(run.target, run.profile)
    seen = access.await_count(account.user, expected, within, at_least=True)
    if seen >= expected:
        # More than the model holds is the scenario's to judge (a QUIT that
        # removed nothing, say), not a delivery that failed.
        return
    missing = expected - seen
    if 0 < missing <= len(stored):
        for d in stored[-missing:]:
            run.checks.append(
                checks.lost_at_quit(
                    LOST_AT_QUIT, d.message.name, d.stored_before_quit_of, seen, expected, d.where
                )
            )
            maildrop.commit([d.mid] if d.mid is not None else [])
        return
    late = (mine[-1].message if mine else maildrop.messages[-1]).name
    run.error(
        step,
        f"account {account.user!r}: {late}, delivered through the "
        f"{provisioner.kind} provisioner, did not show up in POP3 within "
        f"{within:g} s (STAT: {seen} messages, {expected} expected)",
    )


def unread(run: ScenarioRun, index: int) -> list[int]:
    """The 0-based positions in account ``index``'s maildrop of messages delivered
    during the scenario and never read back since."""
    order = run.mailboxes.maildrops[index].order
    return [
        order.index(d.mid)
        for d in run.mailboxes.deliveries
        if d.account == index and not d.learned and d.mid in order
    ]


def read(run: ScenarioRun, index: int) -> None:
    """Account ``index``'s mailbox was read back: its deliveries are learned."""
    for d in run.mailboxes.deliveries:
        if d.account == index:
            d.learned = True


def settle_all(run: ScenarioRun) -> None:
    """The scenario has ended: no delivery of it may land in the next one's mailbox."""
    for d in run.mailboxes.deliveries:
        if d.awaited:
            continue
        d.awaited = True
        user = run.accounts[d.account - 1].user
        problem = "" if d.join(JOIN_S) else f"no end in {JOIN_S:g} s"
        problem = problem or d.error
        if problem:
            run.checks.append(
                checks.harness_error(
                    run.requirement,
                    f"{d.message.name} is delivered to account {user!r}",
                    problem,
                    d.where,
                )
            )
