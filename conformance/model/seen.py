"""What one session saw of each message: its size and its content.

RFC 1939 fixes a session's messages at login (section 4 numbers them; the
lock exists "to prevent messages from being modified or removed before the
session enters the UPDATE state").  LIST gives "the exact size of the message
in octets" and RETR sends "the message corresponding to the given
message-number".  So once a session has seen a message's size (LIST, or the
octets of a whole-message answer) or its content (RETR, or TOP of more lines
than the body has), every later answer of that session must agree with it,
whatever the model learns meanwhile from other sessions.

The model learns what a server stored (calibration, :mod:`conformance.drift`)
only *between* sessions: a message a session has seen nothing of, not even
in STAT's total, may be learned as the server returns it now; a message it
has seen may not.  A size or a body that changes inside one session is a
finding (RFC1939-5.LIST-5 for a size, RFC1939-5.RETR-1 or RFC1939-7.TOP-2
for the content), never something to learn.

Only answers that agreed with the model are recorded: a wrong answer is
already a finding, and the next one is judged against the model again.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Sighting:
    """Message ``n`` as one session saw it first."""

    size: int | None = None
    size_by: str = ""  # the command that showed the size: "LIST 2", "RETR 2"
    sha256: str | None = None  # the whole message's digest, as transmitted
    sha256_by: str = ""


class Seen:
    """What a session has seen of its messages, by message-number (fixed at login)."""

    def __init__(self) -> None:
        self._by_number: dict[int, Sighting] = {}
        # The STAT whose total covered every message ("" before one), and the
        # total it gave for the messages then not marked as deleted.
        self.totals_by = ""
        self.total: tuple[frozenset[int], int] | None = None

    def get(self, n: int) -> Sighting | None:
        return self._by_number.get(n)

    def size(self, n: int) -> tuple[int, str] | None:
        """The size this session saw for message ``n``, and the command that showed it."""
        s = self._by_number.get(n)
        return None if s is None or s.size is None else (s.size, s.size_by)

    def content(self, n: int) -> tuple[str, str] | None:
        """The digest of message ``n`` as this session received it, and the command."""
        s = self._by_number.get(n)
        return None if s is None or s.sha256 is None else (s.sha256, s.sha256_by)

    def saw_size(self, n: int, size: int, by: str) -> None:
        s = self._by_number.setdefault(n, Sighting())
        if s.size is None:
            s.size, s.size_by = size, by

    def saw_content(self, n: int, sha256: str, size: int | None, by: str) -> None:
        """``size`` None: the octets received do not fix the size (an unended message)."""
        s = self._by_number.setdefault(n, Sighting())
        if s.sha256 is None:
            s.sha256, s.sha256_by = sha256, by
        if s.size is None and size is not None:
            s.size, s.size_by = size, by

    def saw_totals(self, live: frozenset[int], total: int, by: str) -> None:
        self.totals_by = self.totals_by or by
        if self.total is None:
            self.total = (live, total)

    def anything(self, n: int) -> str:
        """The first command that showed this session message ``n``'s size or content.

        "" if none did (STAT's total counts: it covers every message).
        """
        s = self._by_number.get(n)
        if s is not None and (s.size_by or s.sha256_by):
            return s.size_by or s.sha256_by
        return self.totals_by
