"""The invariants' state, kept in one process from every session's observations.

For each mailbox the ledger knows which messages must be there: those it
started with and those delivered since, less those removed at an UPDATE (a
QUIT answered +OK with them marked).  Whatever a stopped session or a failed
delivery left undecided is *uncertain*: there or not, both are right.  At the
end every mailbox is read once more (:meth:`Ledger.account`) and compared:

- a message that must be there and is not is lost; graded against RSET
  (RFC1939-5.RSET-1) or the drop rule (RFC1939-6-2) when a session had marked
  it and then unmarked it or ended without QUIT, against RFC1939-6.QUIT-1
  otherwise, with the sessions whose QUIT could have removed it as evidence;
- a message there twice is duplicated; one removed at an UPDATE and still
  there was not removed (RFC1939-6.QUIT-1);
- a unique-id that named two messages is graded RFC1939-7.UIDL-4, or
  RFC1939-7.UIDL-6 (a SHOULD) when the first had been removed; a message that
  had two unique-ids, RFC1939-7.UIDL-5.
"""

from __future__ import annotations

import collections
import itertools
from dataclasses import dataclass, field
from typing import Any

from conformance.results import TranscriptEntry
from conformance.stress import marked
from conformance.stress.observations import Observation, Violation, transcript_from_wire
from conformance.stress.reading import Reading

PRESENT, ARRIVING, GONE, LEAVING, FAILED = "present", "arriving", "gone", "leaving", "failed"
UNCERTAIN = frozenset({ARRIVING, LEAVING, FAILED})
QUITS_KEPT = 200  # per mailbox: the evidence for a lost message
SUSPECTS_SHOWN = 2


@dataclass
class Quit:
    session: str
    ids: list[str]
    login_t: float
    t: float
    state: str = "pending"
    transcript: list[TranscriptEntry] = field(default_factory=list)


@dataclass
class Mailbox:
    user: str
    status: dict[str, str] = field(default_factory=dict)
    arrived: dict[str, float] = field(default_factory=dict)  # delivery time, run seconds
    kept: dict[str, set[str]] = field(default_factory=dict)  # marked, then RSET, FIN or RST
    uid_names: dict[str, list[tuple[str, list[TranscriptEntry]]]] = field(default_factory=dict)
    name_uids: dict[str, list[str]] = field(default_factory=dict)
    quits: dict[str, Quit] = field(default_factory=dict)
    recent: collections.deque[Quit] = field(
        default_factory=lambda: collections.deque(maxlen=QUITS_KEPT)
    )

    def saw(self, uid: str, name: str, evidence: list[TranscriptEntry]) -> None:
        names = self.uid_names.setdefault(uid, [])
        if not names or names[-1][0] != name:
            names.append((name, evidence))
        uids = self.name_uids.setdefault(name, [])
        if uid not in uids:
            uids.append(uid)


class Ledger:
    def __init__(self, run_id: str, readings: dict[str, Reading]) -> None:
        self.run_id = run_id
        self.mailboxes: dict[str, Mailbox] = {}
        self.reported: list[Violation] = []  # from sessions
        self.found: list[Violation] = []  # from the accounting
        self.cutoff: float | None = None  # violations reported after this are not kept
        self.counts: collections.Counter[str] = collections.Counter()
        self.delivery_errors: list[str] = []
        for user, reading in readings.items():
            box = self.mailbox(user)
            for uid, name in reading.messages:
                box.status[name] = PRESENT
                if uid is not None:
                    box.saw(uid, name, [])

    def mailbox(self, user: str) -> Mailbox:
        return self.mailboxes.setdefault(user, Mailbox(user))

    # -- observations -----------------------------------------------------------------
    def apply(self, o: Observation) -> None:
        kind = o["kind"]
        if kind == "violation":
            violation = Violation.from_wire(o)
            if self.cutoff is None or violation.t < self.cutoff:
                self.reported.append(violation)
            return
        box = self.mailbox(o["user"])
        if kind == "deliver":
            self._delivery(box, o)
        elif kind == "quit":
            self._quit(box, o)
        elif kind == "unmark":
            self.counts[o["how"]] += 1
            for name in o["ids"]:
                box.kept.setdefault(name, set()).add(o["how"])
        elif kind == "uid":
            box.saw(o["uid"], o["id"], transcript_from_wire(o.get("transcript", [])))

    def apply_all(self, observations: list[Observation]) -> None:
        for o in observations:
            self.apply(o)

    def _delivery(self, box: Mailbox, o: Observation) -> None:
        name, state = o["id"], o["state"]
        if state == "pending":
            box.status[name] = ARRIVING
            box.arrived[name] = o["t"]
            return
        self.counts[f"deliveries {state}"] += 1
        if state == "done":
            box.status[name] = PRESENT
        else:
            box.status[name] = FAILED
            self.delivery_errors.append(o.get("error", ""))

    def _quit(self, box: Mailbox, o: Observation) -> None:
        if o["state"] == "pending":
            record = Quit(o["session"], list(o["ids"]), o["login_t"], o["t"])
            box.quits[record.session] = record
            for name in record.ids:
                if box.status.get(name) != GONE:
                    box.status[name] = LEAVING
            return
        record = box.quits.pop(o["session"], Quit(o["session"], [], o["t"], o["t"]))
        record.state, record.t = o["state"], o["t"]
        record.transcript = transcript_from_wire(o.get("transcript", []))
        box.recent.append(record)
        self.counts["sessions ended by QUIT"] += 1
        if record.state == "done":
            self.counts["messages removed at UPDATE"] += len(record.ids)
            for name in record.ids:
                box.status[name] = GONE

    # -- the end ----------------------------------------------------------------------
    def account(self, user: str, reading: Reading) -> None:
        """Compare ``user``'s mailbox as read at the end with what must be in it."""
        box = self.mailbox(user)
        for uid, name in reading.messages:
            if uid is not None:
                box.saw(uid, name, reading.transcript)
        there = collections.Counter(reading.identities)
        for name, status in box.status.items():
            if there[name] == 0 and status == PRESENT:
                self._lost(box, name, reading)
            elif there[name] and status == GONE:
                self._found(
                    "accounting",
                    "RFC1939-6.QUIT-1",
                    f"{name} removed: a QUIT was answered +OK with it marked",
                    f"{name} is still in {user}'s maildrop",
                    reading.transcript + self._quit_evidence(box, [name]),
                )
        for name, count in there.items():
            if count > 1 and not name.startswith(marked.UNMARKED):
                self._found(
                    "accounting",
                    "RFC1939-6.QUIT-1",
                    f"{name} once in {user}'s maildrop",
                    f"{name} is there {count} times",
                    reading.transcript,
                )
            elif name not in box.status and marked.of_run(name, self.run_id):
                self._found(
                    "accounting",
                    "RFC1939-6.QUIT-1",
                    f"only messages delivered to {user}",
                    f"{name}, which no session delivered to {user}, is in the maildrop",
                    reading.transcript,
                    f"it was made for {marked.owner(name) or '?'}",
                )

    def missing(self, user: str, reading: Reading) -> list[str]:
        """Messages that must be in ``user``'s mailbox and are not in ``reading``."""
        there = set(reading.identities)
        box = self.mailbox(user)
        return [n for n, status in box.status.items() if status == PRESENT and n not in there]

    def _lost(self, box: Mailbox, name: str, reading: Reading) -> None:
        kept = box.kept.get(name, set())
        where = f"{name} in {box.user}'s maildrop"
        if "rset" in kept:
            requirement, why = "RFC1939-5.RSET-1", "it was marked, then RSET unmarked it"
        elif kept:
            requirement = "RFC1939-6-2"
            why = f"it was marked in a session that ended by {'/'.join(sorted(kept)).upper()}"
        else:
            requirement, why = "RFC1939-6.QUIT-1", "no session marked it as deleted"
        suspects = self._suspects(box, name)
        note = (
            "sessions that logged in before it arrived and sent QUIT after: "
            + ", ".join(q.session for q in suspects)
            if suspects
            else ""
        )
        evidence = reading.transcript + [e for q in suspects for e in q.transcript]
        invariant = "accounting" if requirement == "RFC1939-6.QUIT-1" else "deletion"
        self._found(invariant, requirement, where + f" ({why})", f"{name} is gone", evidence, note)

    def _suspects(self, box: Mailbox, name: str) -> list[Quit]:
        arrived = box.arrived.get(name)
        if arrived is None:
            return []
        found = [q for q in box.recent if q.state == "done" and q.login_t < arrived < q.t]
        return found[:SUSPECTS_SHOWN]

    def _quit_evidence(self, box: Mailbox, names: list[str]) -> list[TranscriptEntry]:
        quits = [q for q in box.recent if set(names) & set(q.ids)]
        return [e for q in quits[:SUSPECTS_SHOWN] for e in q.transcript]

    def judge_unique_ids(self) -> None:
        for box in self.mailboxes.values():
            for uid, names in box.uid_names.items():
                for (first, _), (second, evidence) in itertools.pairwise(names):
                    reused = box.status.get(first) in (GONE, LEAVING)
                    self._found(
                        "unique-ids",
                        "RFC1939-7.UIDL-6" if reused else "RFC1939-7.UIDL-4",
                        f"unique-id {uid} for {first} only",
                        f"{uid} named {first}, then {second}"
                        + (" (after the first was removed)" if reused else ""),
                        evidence,
                    )
            for name, uids in box.name_uids.items():
                if len(uids) > 1:
                    self._found(
                        "unique-ids",
                        "RFC1939-7.UIDL-5",
                        f"one unique-id for {name}, persistent across sessions",
                        f"{name} had unique-ids {', '.join(uids[:4])}",
                        [],
                    )

    def _found(
        self,
        invariant: str,
        requirement: str,
        expected: str,
        actual: str,
        evidence: list[TranscriptEntry],
        note: str = "",
    ) -> None:
        self.found.append(Violation(invariant, requirement, expected, actual, note, 0.0, evidence))

    @property
    def violations(self) -> list[Violation]:
        return self.reported + self.found

    def figures(self) -> dict[str, Any]:
        statuses = collections.Counter(
            s for b in self.mailboxes.values() for s in b.status.values()
        )
        return {
            **dict(self.counts),
            "messages tracked": sum(statuses.values()),
            "messages uncertain at the end": sum(statuses[s] for s in UNCERTAIN),
        }
