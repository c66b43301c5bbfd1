"""What every provisioner is, and what the mail-system ones need from POP3.

A :class:`Provisioner` puts known messages into a target's mailbox (or, for
``existing``, learns what is there).  The ones that write the server's store
(maildir, mbox, exec) need nothing else; the ones that go through the mail
system (lmtp, smtp, imap) clear a mailbox and see a delivery arrive through
POP3 itself, so they are handed a :class:`MailboxAccess` before the run
(:meth:`Provisioner.prepare`).  The access is built by the harness
(:mod:`conformance.mailbox_access`); this package only names what it offers,
so that it never imports the POP3 side.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from conformance.messages import Message
from conformance.provision.options import DEFAULT_WAIT


class ProvisionError(Exception):
    """Seeding, clearing or delivering failed; the message says what, where and for whom."""


class Refused(ProvisionError):
    """The mail system refused a message for what it is (a permanent answer to its
    content: SMTP or LMTP 5xx after DATA, IMAP NO to APPEND), not for where it
    goes: RFC 5321 section 4.5.3.1.6 lets an SMTP server refuse a line over
    1000 octets.  The setup cannot give a scenario that message."""


@dataclass(frozen=True)
class Reading:
    """A mailbox as read-only POP3 sessions returned it (two reads that agree)."""

    contents: list[bytes]  # RETR of each message, in message-number order
    uids: list[str] | None  # UIDL of each, or None when the server has no UIDL


@dataclass(frozen=True)
class Listing:
    """A mailbox as one quick look shows it: LIST sizes and UIDL (no RETR)."""

    sizes: list[int]
    uids: list[str] | None


class MailboxAccess(Protocol):
    """The target's mailboxes as POP3 shows them, for provisioners that go through the mail system.

    Every method takes the account's user name and raises ProvisionError
    (naming the account) when the mailbox cannot be reached or read.
    """

    def users(self) -> list[str]:
        """Every account of the target, in order."""
        ...

    def disposable(self, user: str) -> bool:
        """Whether the operator declared the account's mail disposable."""
        ...

    def password(self, user: str) -> str:
        """The account's password (IMAP logs in with the POP3 accounts)."""
        ...

    def count(self, user: str) -> int:
        """How many messages STAT reports now."""
        ...

    def await_count(self, user: str, count: int, within: float) -> int:
        """STAT until it shows ``count`` messages, for at most ``within`` s; the last count seen."""
        ...

    def remove(self, user: str, numbers: Sequence[int] | None = None) -> None:
        """DELE the messages numbered ``numbers`` (None: every one), then QUIT."""
        ...

    def read(self, user: str) -> Reading:
        """Every message and its unique-id, in read-only sessions (never DELE)."""
        ...

    def listing(self, user: str) -> Listing:
        """LIST and UIDL in one read-only session."""
        ...


class Provisioner(Protocol):
    kind: str  # "maildir", "mbox", "exec", "lmtp", "smtp", "imap", "existing" or "none"
    available: bool  # the content of a mailbox can be known before a scenario
    reason: str  # why it is not available ("" when it is)
    # The operator handed the store over with the provisioner (a maildir path,
    # seed and clear commands): every mailbox counts as disposable.  False for
    # those that clear through the mail system, which touch only the accounts
    # declared disposable.
    owns_store: bool
    # Mail goes through the server's own delivery, which rewrites it (trace
    # fields, From_ lines): content is judged against what the server returns.
    rewrites: bool
    can_deliver: bool  # deliver() can add a message
    wait: float  # seconds a delivered message may take to show in POP3

    @property
    def synchronous(self) -> bool:
        """deliver() returns once the message is in the store (a file written, an
        LMTP or IMAP answer), not once a relay has queued it."""
        ...

    def prepare(self, access: MailboxAccess) -> None:
        """Before any scenario: check the way in (ConnectError if not), learn what it needs."""
        ...

    def seed(self, user: str, messages: Sequence[Message]) -> None:
        """Replace the mailbox content: clear it, then add ``messages`` in order."""
        ...

    def clear(self, user: str) -> None:
        """Remove every message from the mailbox."""
        ...

    def deliver(self, user: str, message: Message) -> None:
        """Add one message after those there, clearing nothing."""
        ...

    def secrets(self) -> list[str]:
        """Secrets the provisioner was given (SMTP AUTH), for redaction."""
        ...

    def describe(self) -> dict[str, object]:
        """JSON-ready description for reports; never a secret."""
        ...


class Deliverer(Protocol):
    """A way into the mail system: LMTP, SMTP or IMAP APPEND."""

    spec: str  # as given: "lmtp:127.0.0.1:24"
    # The message is stored when the deliverer's answer comes (LMTP, IMAP):
    # messages arrive in the order sent.  An SMTP relay queues them, so each
    # is awaited in POP3 before the next goes out.
    synchronous: bool

    def prepare(self, access: MailboxAccess, users: Sequence[str]) -> None:
        """Reach the deliverer (ConnectError if not) and check it accepts each of ``users``."""
        ...

    def deliver(self, user: str, messages: Sequence[Message]) -> None:
        """Deliver ``messages`` to ``user``, in order."""
        ...

    def expunge(self, user: str) -> bool:
        """Remove every message through this way in, if it can (IMAP); False if it cannot."""
        ...

    def secrets(self) -> list[str]: ...

    def describe(self) -> dict[str, object]: ...


class Defaults:
    """What a provisioner is unless it says otherwise: nothing to prepare, no secret."""

    kind = ""
    available = False
    reason = ""
    owns_store = False
    rewrites = False
    can_deliver = False
    synchronous = False
    wait = DEFAULT_WAIT

    def prepare(self, access: MailboxAccess) -> None:
        return None

    def secrets(self) -> list[str]:
        return []

    def describe(self) -> dict[str, object]:
        return {"kind": self.kind}


class OwnStore(Defaults):
    """The provisioners that write the server's store themselves."""

    available = True
    owns_store = True
    can_deliver = True
    synchronous = True
