"""``--provision existing``: judge each mailbox as it is.

Nothing is seeded.  Before the run, read-only POP3 sessions learn what every
account holds (UIDL, LIST and RETR; never DELE; two reads that agree, as
calibration does), and the scenarios that need known content are judged
against those messages.  Before each scenario a quick LIST and UIDL shows
whether the mailbox is still what was learned; if not, it is learned again.

Destructive scenarios remove mail.  They run only on accounts declared
disposable, and only with a deliverer (``existing:lmtp:HOST:PORT`` and the
like) to put back what they removed: :meth:`ExistingMail.restore` delivers
the learned messages that are gone, removes what the scenario itself
delivered, and learns the mailbox again (the messages put back carry the
deliverer's trace fields and come last).
"""

from __future__ import annotations

import collections
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from conformance.drift import same_but_server_fields, seeded_names
from conformance.messages import Message
from conformance.provision.interface import (
    Deliverer,
    Listing,
    MailboxAccess,
    ProvisionError,
    Reading,
)
from conformance.provision.mail_system import await_delivery


@dataclass(frozen=True)
class Learned:
    reading: Reading
    listing: Listing

    def messages(self, user: str) -> list[Message]:
        uids = self.reading.uids
        return [
            Message(f"{user}'s {uids[i] if uids else i + 1}", data)
            for i, data in enumerate(self.reading.contents)
        ]


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class ExistingMail:
    kind = "existing"
    available = True
    reason = ""
    owns_store = False
    # Whatever delivered this mail rewrote it: the model holds what POP3 returned.
    rewrites = True

    def __init__(self, deliverer: Deliverer | None, wait: float) -> None:
        self.deliverer = deliverer
        self.can_deliver = deliverer is not None
        self.wait = wait
        self._access: MailboxAccess | None = None
        self._learned: dict[str, Learned] = {}

    @property
    def synchronous(self) -> bool:
        return self.deliverer is not None and self.deliverer.synchronous

    def prepare(self, access: MailboxAccess) -> None:
        self._access = access
        if self.deliverer is not None:
            self.deliverer.prepare(access, [u for u in access.users() if access.disposable(u)])
        for user in access.users():
            self._learn(user)

    def _need_access(self) -> MailboxAccess:
        if self._access is None:
            raise ProvisionError("existing: not prepared (the run learns the mailboxes first)")
        return self._access

    def _learn(self, user: str) -> Learned:
        access = self._need_access()
        learned = Learned(access.read(user), access.listing(user))
        self._learned[user] = learned
        return learned

    # -- what the runner asks ----------------------------------------------------
    def learned(self, user: str) -> list[Message] | None:
        """The messages last learned for ``user`` (None before the run learned them)."""
        known = self._learned.get(user)
        return None if known is None else known.messages(user)

    def current(self, user: str) -> list[Message]:
        """The messages of ``user`` now: learned again if LIST or UIDL show a change."""
        known = self._learned.get(user)
        if known is None or self._need_access().listing(user) != known.listing:
            known = self._learn(user)
        return known.messages(user)

    def restore(self, user: str, delivered: Sequence[Message]) -> None:
        """Put back the learned messages that are gone, remove the ``delivered`` ones,
        and learn the mailbox again."""
        access = self._need_access()
        if self.deliverer is None or not access.disposable(user):
            raise ProvisionError(
                f"account {user!r}: existing mail is put back only on a disposable account "
                "through a deliverer (existing:lmtp:HOST:PORT, ...)"
            )
        known = self._learned[user]
        now = access.read(user)
        wanted = collections.Counter(_digest(c) for c in known.reading.contents)
        strangers: list[tuple[int, bytes]] = []
        for number, data in enumerate(now.contents, start=1):
            digest = _digest(data)
            if wanted[digest]:
                wanted[digest] -= 1
            else:
                strangers.append((number, data))
        missing = []
        for data in known.reading.contents:
            if wanted[_digest(data)]:
                wanted[_digest(data)] -= 1
                missing.append(data)
        # Only what the harness delivered goes: other new mail stays (a live
        # mailbox receives mail of its own), and is learned below.
        ours = [
            number
            for number, data in strangers
            if any(same_but_server_fields(m.data, data, seeded_names([m.data])) for m in delivered)
        ]
        if ours:
            access.remove(user, ours)
        if missing:
            put_back = [Message(f"{user}'s message put back", data) for data in missing]
            await_delivery(
                access, self.deliverer, user, put_back, len(now.contents) - len(ours), self.wait
            )
        if ours or missing:
            self._learn(user)

    # -- the provisioner protocol ----------------------------------------------------
    def seed(self, user: str, messages: Sequence[Message]) -> None:
        raise ProvisionError("--provision existing never replaces a mailbox's content")

    def clear(self, user: str) -> None:
        raise ProvisionError("--provision existing never clears a mailbox")

    def deliver(self, user: str, message: Message) -> None:
        if self.deliverer is None:
            raise ProvisionError(
                "--provision existing delivers only with a deliverer (existing:lmtp:HOST:PORT, ...)"
            )
        self.deliverer.deliver(user, [message])

    def secrets(self) -> list[str]:
        return [] if self.deliverer is None else self.deliverer.secrets()

    def describe(self) -> dict[str, object]:
        described: dict[str, object] = {
            "kind": self.kind,
            "mailboxes": {u: len(k.reading.contents) for u, k in self._learned.items()},
        }
        if self.deliverer is not None:
            described.update(self.deliverer.describe())
        return described
