"""Provisioning through the mail system: ``lmtp:``, ``smtp:`` and ``imap:``.

No file-system access: a mailbox is cleared through POP3 itself (DELE every
message, then QUIT) or with IMAP EXPUNGE, and filled through the deliverer.
A message counts as delivered when POP3 shows it, within a bounded wait.
Clearing destroys mail, so it happens only on accounts the operator declared
disposable; the runner keeps other accounts out of content scenarios.

The delivered mail is what the server made of it (Received, Return-Path,
Delivered-To fields): the provisioner ``rewrites``, so the run calibrates and
judges content against what the server returns, never against what was sent.
"""

from __future__ import annotations

from collections.abc import Sequence

from conformance.messages import Message
from conformance.provision.interface import Deliverer, MailboxAccess, ProvisionError


def await_delivery(
    access: MailboxAccess,
    deliverer: Deliverer,
    user: str,
    messages: Sequence[Message],
    before: int,
    wait: float,
) -> None:
    """Deliver ``messages`` after ``before`` others, each counted once POP3 shows it.

    A synchronous deliverer stores them in order, so one wait covers them
    all; a relay may reorder what it queues, so each is awaited before the
    next goes out.  One that never shows up is named, with the account.
    """
    batches = [list(messages)] if deliverer.synchronous else [[m] for m in messages]
    expected = before
    for batch in batches:
        deliverer.deliver(user, batch)
        expected += len(batch)
        seen = access.await_count(user, expected, wait)
        if seen != expected:
            missing = [m.name for m in batch][max(0, seen - (expected - len(batch))) :]
            raise ProvisionError(
                f"account {user!r}: {', '.join(missing) or 'a message'} delivered through "
                f"{deliverer.spec} did not show up in POP3 within {wait:g} s "
                f"(STAT: {seen} messages, {expected} expected)"
            )


class MailSystemProvisioner:
    available = True
    reason = ""
    owns_store = False
    rewrites = True
    can_deliver = True

    def __init__(self, kind: str, deliverer: Deliverer, wait: float) -> None:
        self.kind = kind
        self.deliverer = deliverer
        self.wait = wait
        self._access: MailboxAccess | None = None

    @property
    def synchronous(self) -> bool:
        return self.deliverer.synchronous

    def prepare(self, access: MailboxAccess) -> None:
        self._access = access
        # Only the disposable accounts are ever seeded: those are checked.
        self.deliverer.prepare(access, [u for u in access.users() if access.disposable(u)])

    def _disposable(self, user: str) -> MailboxAccess:
        access = self._access
        if access is None:
            raise ProvisionError(f"{self.deliverer.spec}: not prepared (the run prepares it)")
        if not access.disposable(user):
            raise ProvisionError(
                f"account {user!r} is not declared disposable: the {self.kind} provisioner "
                "clears a mailbox only on disposable accounts"
            )
        return access

    def clear(self, user: str) -> None:
        access = self._disposable(user)
        # IMAP clears in one expunge; through LMTP or SMTP only POP3 can remove.
        if not self.deliverer.expunge(user):
            access.remove(user)
        seen = access.await_count(user, 0, self.wait)
        if seen:
            raise ProvisionError(
                f"account {user!r}: {seen} messages still there {self.wait:g} s after clearing"
            )

    def seed(self, user: str, messages: Sequence[Message]) -> None:
        self.clear(user)
        await_delivery(self._disposable(user), self.deliverer, user, messages, 0, self.wait)

    def deliver(self, user: str, message: Message) -> None:
        # No wait here: a session of the scenario may hold the mailbox (the
        # runner awaits the message when no session does).
        self.deliverer.deliver(user, [message])

    def secrets(self) -> list[str]:
        return self.deliverer.secrets()

    def describe(self) -> dict[str, object]:
        return {"kind": self.kind, **self.deliverer.describe(), "wait": self.wait}
