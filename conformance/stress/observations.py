"""What sessions tell the ledger, as plain data that crosses process boundaries.

In a distributed run the sessions are in worker processes (maybe on other
machines) and the ledger is at the master: every observation is a small dict
of strings, numbers and lists, which Locust's message channel (msgpack)
carries as is.  The constructors here are the only place the field names are
written; :class:`~conformance.stress.ledger.Ledger` is the only reader.

Times (``t``) are seconds since the run started, on the time base every
process of the run shares (see ``Facts.t0``).  Whatever could be cut short by
a user stopped mid-task is sent in two halves, ``pending`` before the act and
``done`` (or ``failed``) after: a QUIT sent but never answered leaves its
deletions uncertain, not unknown.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from conformance.results import TranscriptEntry

Observation = dict[str, Any]


def transcript_to_wire(entries: Iterable[TranscriptEntry]) -> list[list[Any]]:
    return [[e.t_ms, e.session, e.direction, e.text] for e in entries]


def transcript_from_wire(rows: Iterable[Sequence[Any]]) -> list[TranscriptEntry]:
    return [TranscriptEntry(float(r[0]), str(r[1]), str(r[2]), str(r[3])) for r in rows]


@dataclass
class Violation:
    """One breach seen by a session (or by the ledger), with its evidence."""

    invariant: str  # a key of conformance.stress.invariants.INVARIANTS
    requirement: str
    expected: str
    actual: str
    note: str = ""
    t: float = 0.0
    transcript: list[TranscriptEntry] = field(default_factory=list)

    def to_wire(self) -> Observation:
        return {
            "kind": "violation",
            "invariant": self.invariant,
            "requirement": self.requirement,
            "expected": self.expected,
            "actual": self.actual,
            "note": self.note,
            "t": self.t,
            "transcript": transcript_to_wire(self.transcript),
        }

    @classmethod
    def from_wire(cls, d: Observation) -> Violation:
        return cls(
            invariant=d["invariant"],
            requirement=d["requirement"],
            expected=d["expected"],
            actual=d["actual"],
            note=d.get("note", ""),
            t=float(d.get("t", 0.0)),
            transcript=transcript_from_wire(d.get("transcript", [])),
        )


def delivery(user: str, identity: str, state: str, t: float, error: str = "") -> Observation:
    """A message delivered to ``user``: ``pending`` before, ``done`` or ``failed`` after."""
    return {"kind": "deliver", "user": user, "id": identity, "state": state, "t": t, "error": error}


def quit_sent(
    session: str, user: str, identities: Sequence[str], login_t: float, t: float
) -> Observation:
    """A session in TRANSACTION sends QUIT with these messages marked (maybe none)."""
    return {
        "kind": "quit",
        "state": "pending",
        "session": session,
        "user": user,
        "ids": list(identities),
        "login_t": login_t,
        "t": t,
    }


def quit_answered(
    session: str, user: str, ok: bool, t: float, transcript: Iterable[TranscriptEntry]
) -> Observation:
    """The QUIT's answer: +OK (the marked messages are gone) or not (uncertain)."""
    return {
        "kind": "quit",
        "state": "done" if ok else "refused",
        "session": session,
        "user": user,
        "t": t,
        "transcript": transcript_to_wire(transcript),
    }


def left(session: str, node: str, user: str, login_t: float, t: float) -> Observation:
    """A session was in TRANSACTION from ``login_t`` (its +OK came) to ``t`` (QUIT sent,
    or the connection ended): the server's lock was held at least that long."""
    return {
        "kind": "left",
        "session": session,
        "node": node,
        "user": user,
        "login_t": login_t,
        "t": t,
    }


def unmarked(user: str, identities: Sequence[str], how: str, t: float) -> Observation:
    """Marked messages that must stay: the session sent RSET, or ended by FIN or RST."""
    return {"kind": "unmark", "user": user, "ids": list(identities), "how": how, "t": t}


def unique_id(
    user: str,
    uid: str,
    identity: str,
    t: float,
    transcript: Iterable[TranscriptEntry] = (),
) -> Observation:
    """``uid`` named this message in a session (with the session's words when it surprised it)."""
    return {
        "kind": "uid",
        "user": user,
        "uid": uid,
        "id": identity,
        "t": t,
        "transcript": transcript_to_wire(transcript),
    }
