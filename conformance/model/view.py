"""One session's view of its maildrop: the numbering fixed at login and the marks.

RFC 1939 section 4: message numbers are fixed for the session; later commits
by other sessions do not renumber (or remove) what this one sees.  The
command-family oracles read and change the view; nothing else does.
"""

from __future__ import annotations

from conformance.messages import Message
from conformance.model.expectation import ERR, Expectation
from conformance.model.maildrop import Maildrop
from conformance.model.seen import Seen
from conformance.pop3 import CommandSpec
from conformance.pop3.spec import MESSAGE_NUMBER


class SessionView:
    def __init__(self, maildrop: Maildrop, supports: frozenset[str], serial: int) -> None:
        self.maildrop = maildrop
        self.supports = supports
        self.serial = serial
        self.view: list[int] = []  # message ids; number n is view[n - 1]
        self.deleted: set[int] = set()  # message numbers marked as deleted
        self.seen = Seen()  # sizes and contents this session saw (model/seen.py)

    def fix_numbering(self) -> None:
        """Entering TRANSACTION: the numbering is fixed now, with no message marked."""
        self.view = list(self.maildrop.order)
        self.deleted = set()
        self.seen = Seen()

    @property
    def last(self) -> int:
        """The highest message number of the session (N at login)."""
        return len(self.view)

    @property
    def count(self) -> int:
        """Messages not marked as deleted, as STAT must say."""
        return self.last - len(self.deleted)

    @property
    def size(self) -> int:
        """Octets of the messages not marked as deleted, as STAT must say."""
        return sum(self.octets(n) for n in self.live())

    def sizes(self, n: int) -> tuple[int, ...]:
        """The sizes message ``n`` may have in this session: the one it saw first,
        else the model's (two for an unended message: :attr:`Message.sizes`)."""
        seen = self.seen.size(n)
        return (seen[0],) if seen is not None else self.message(n).sizes

    def octets(self, n: int) -> int:
        """The size of message ``n`` for this session (the first of :meth:`sizes`)."""
        return self.sizes(n)[0]

    def totals(self) -> set[int]:
        """Every total STAT may give now: each message at one of its :meth:`sizes`."""
        totals = {0}
        for n in self.live():
            totals = {t + s for t in totals for s in self.sizes(n)}
        return totals

    def message(self, n: int) -> Message:
        """Message ``n`` (1-based) as this session sees it; KeyError if there is none."""
        return self.maildrop.content[self._id(n)]

    def _id(self, n: int) -> int:
        if not 1 <= n <= self.last:
            raise KeyError(n)
        return self.view[n - 1]

    def is_deleted(self, n: int) -> bool:
        self._id(n)
        return n in self.deleted

    def uid(self, n: int) -> str | None:
        """The unique-id the server gave message ``n`` (learned from UIDL), or None."""
        learned = self.maildrop.learned(self._id(n))
        return learned[0] if learned else None

    def learned(self, n: int) -> tuple[str, int] | None:
        """The unique-id of message ``n`` and the serial of the session that reported it first."""
        return self.maildrop.learned(self._id(n))

    def learn(self, n: int, uid: str) -> None:
        self.maildrop.learn(self._id(n), uid, self.serial)

    def calibrate(self, n: int, data: bytes) -> None:
        """Like :meth:`Maildrop.replace_content`, for message ``n`` of this session.

        Only for a message this session has seen nothing of (:mod:`.seen`):
        what changed before the session is the store's business.
        """
        self.maildrop.replace(self._id(n), data)

    def live(self) -> list[int]:
        return [n for n in range(1, self.last + 1) if n not in self.deleted]

    def commit_marks(self) -> None:
        """UPDATE: the marked messages leave the maildrop."""
        self.maildrop.commit(self.view[n - 1] for n in self.deleted)

    def number(self, spec: CommandSpec, arg: str) -> int | Expectation:
        """Resolve a message-number argument of ``spec``, or the -ERR its use deserves."""
        if not MESSAGE_NUMBER.accepts(arg):
            return Expectation(ERR, spec.invalid_requirement, f"{arg!r} is not a message-number")
        n = int(arg)
        if not 1 <= n <= self.last:
            return Expectation(
                ERR, spec.invalid_requirement, f"no message {n} (this session has 1..{self.last})"
            )
        if n in self.deleted:
            assert spec.deleted_requirement is not None
            return Expectation(ERR, spec.deleted_requirement, f"message {n} is marked as deleted")
        return n
