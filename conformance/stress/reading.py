"""Reading a whole mailbox in one read-only session: before the load and after it.

Each message is named by its marker (:func:`conformance.stress.marked.identity`)
from ``TOP n 0`` (RETR where the server has no TOP), beside its unique-id.  The
login waits for a locked mailbox as long as ``lock_wait`` allows: at the end
of a run, sessions that were stopped may still hold a lock for a moment.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

from conformance.login import LoginError, logged_in
from conformance.pop3 import Response, parse_stat, parse_uid_line
from conformance.probe import ServerProfile
from conformance.results import TranscriptEntry
from conformance.secrets import Secrets
from conformance.stress.marked import identity
from conformance.target import Account, Target
from conformance.transcript import Transcript
from conformance.transport import ConnectError, Session


class ReadError(Exception):
    """The mailbox could not be read; the message says why (the transcript is kept)."""

    def __init__(self, message: str, transcript: list[TranscriptEntry]) -> None:
        super().__init__(message)
        self.transcript = transcript


@dataclass
class Reading:
    user: str
    messages: list[tuple[str | None, str]]  # (unique-id or None, identity), by message number
    transcript: list[TranscriptEntry] = field(default_factory=list)
    top: bool = True  # TOP answered (else the messages were read with RETR)

    @property
    def identities(self) -> list[str]:
        return [name for _, name in self.messages]


@dataclass
class Reader:
    """How to reach mailboxes: the target, its secrets, and what the server offers."""

    target: Target
    profile: ServerProfile
    secrets: Secrets
    top: bool = True
    uidl: bool = True
    lock_wait: float = 30.0
    t0: float | None = None

    def logged_in(
        self, account: Account, method: str, transcript: Transcript, label: str, patience: float
    ) -> contextlib.AbstractContextManager[Session]:
        """A session logged in by ``method`` (its last line may wait for a lock)."""
        return logged_in(
            self.target,
            account,
            self.profile,
            transcript,
            label,
            patience=patience,
            method=method,
            wait=self.lock_wait,
        )

    def read(self, account: Account, method: str, label: str = "R") -> Reading:
        """Every message's unique-id and identity, in a session that marks nothing.

        A refused login is tried again for as long as a lock may take: at the
        end of a run, sessions that were stopped may still hold one.
        """
        transcript = Transcript(self.secrets, t0=self.t0)
        try:
            with self.logged_in(account, method, transcript, label, self.lock_wait) as session:
                return self._read(session, account, transcript)
        except (ConnectError, LoginError) as exc:
            raise ReadError(str(exc), transcript.entries) from exc

    def _read(self, session: Session, account: Account, transcript: Transcript) -> Reading:
        def fail(what: str, response: Response) -> ReadError:
            return ReadError(f"{what}: {response.describe()}", transcript.entries)

        stat = session.command("STAT")
        counted = parse_stat(stat.text) if stat.ok else None
        if counted is None:
            raise fail("STAT", stat)
        uids: dict[int, str] = {}
        if self.uidl:
            listing = session.command("UIDL")
            if listing.kind == "multi" and listing.ok:
                for raw in listing.lines:
                    line = parse_uid_line(raw)
                    if line is not None and line.valid_uid is not None:
                        uids[line.number] = line.valid_uid
            elif not listing.answered:
                raise fail("UIDL", listing)
        reading = Reading(account.user, [], top=self.top)
        for number in range(1, counted[0] + 1):
            found = self._header_block(session, number, reading)
            if not (found.kind == "multi" and found.ok):
                raise fail(f"message {number} of {counted[0]}", found)
            reading.messages.append((uids.get(number), identity(found.payload)))
        session.command("QUIT")
        reading.transcript = transcript.entries
        return reading

    def _header_block(self, session: Session, number: int, reading: Reading) -> Response:
        """TOP n 0, or RETR n where the server has no TOP (learned on the first refusal)."""
        if reading.top:
            top = session.command(f"TOP {number} 0")
            if (top.kind == "multi" and top.ok) or not top.answered:
                return top
            reading.top = False  # no TOP after all: RETR from now on
        return session.command(f"RETR {number}")
