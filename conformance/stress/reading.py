"""Reading a whole mailbox in one read-only session: before the load and after it.

Each message is named by its marker (:func:`conformance.stress.marked.identity`)
from ``TOP n 0`` (RETR where the server has no TOP), beside its unique-id.  The
login waits for a locked mailbox as long as ``lock_wait`` allows: at the end
of a run, sessions that were stopped may still hold a lock for a moment.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from conformance.login import login_lines
from conformance.pop3 import Response, parse_stat, parse_uid_line
from conformance.results import TranscriptEntry
from conformance.secrets import Secrets
from conformance.stress.marked import identity
from conformance.target import Account, Target
from conformance.transcript import Transcript
from conformance.transport import ConnectError, Session

RETRY_PAUSE = 0.2  # seconds between logins to a mailbox that is in use


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
    secrets: Secrets
    top: bool = True
    uidl: bool = True
    lock_wait: float = 30.0
    t0: float | None = None

    def session(self, label: str, transcript: Transcript) -> Session:
        return Session.to(self.target, label, transcript)

    def log_in(self, session: Session, account: Account, method: str) -> Response:
        """Log in, waiting while the mailbox is in use; the last answer (+OK: in)."""
        deadline = time.monotonic() + self.lock_wait
        while True:
            greeting = session.connect()
            if not greeting.ok:
                return greeting
            *first, last = login_lines(account, method, greeting.status_text(), self.secrets)
            response = greeting
            for line in first:
                response = session.command(line)
                if not response.ok:
                    return response
            response = session.command(last, timeout=self.lock_wait)
            if response.ok or not in_use(response) or time.monotonic() > deadline:
                return response
            session.abandon()
            time.sleep(RETRY_PAUSE)

    def read(self, account: Account, method: str, label: str = "R") -> Reading:
        """Every message's unique-id and identity, in a session that marks nothing."""
        transcript = Transcript(self.secrets, t0=self.t0)
        session = self.session(label, transcript)
        try:
            return self._read(session, account, method, transcript)
        except ConnectError as exc:
            raise ReadError(str(exc), transcript.entries) from exc
        finally:
            session.abandon()

    def _read(
        self, session: Session, account: Account, method: str, transcript: Transcript
    ) -> Reading:
        def fail(what: str, response: Response) -> ReadError:
            return ReadError(f"{what}: {response.describe()}", transcript.entries)

        answer = self.log_in(session, account, method)
        if not answer.ok:
            raise fail(f"{account.user} could not log in", answer)
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


def in_use(response: Response) -> bool:
    """A refusal because the mailbox is locked ([IN-USE], or words saying so)."""
    if response.code is not None and response.code[0].upper() == "IN-USE":
        return True
    text = response.text.lower()
    return response.err and ("lock" in text or "in use" in text or "busy" in text)
