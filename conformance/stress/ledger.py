"""The invariants' state, kept in one process from every session's observations.

For each mailbox the ledger knows which messages must be there: those it
started with and those delivered since, less those removed at an UPDATE (a
QUIT answered +OK with them marked).  Whatever a stopped session or a failed
delivery left undecided is *uncertain*: there or not, both are right.  At the
end every mailbox is read once more (:meth:`Ledger.account`) and compared:

- a message that must be there and is not is lost; graded against RSET
  (RFC1939-5.RSET-1) or the drop rule (RFC1939-6-2) when a session had marked
  it and then unmarked it or ended without QUIT, against RFC1939-6.QUIT-2
  ("In no case may the server remove any messages not marked as deleted")
  otherwise, with the sessions whose QUIT could have removed it as evidence;
- a message there twice is duplicated; one removed at an UPDATE and still
  there was not removed (RFC1939-6.QUIT-1);
- a unique-id that named two messages is graded RFC1939-7.UIDL-4, or
  RFC1939-7.UIDL-6 (a SHOULD) when the first had been removed; a message that
  had two unique-ids, RFC1939-7.UIDL-5;
- where the server locks, two sessions of different processes that were in
  TRANSACTION on one maildrop at the same time (by more than OVERLAP_MARGIN)
  broke the lock (RFC1939-4-2); a process sees that of its own sessions at
  once (:meth:`conformance.stress.client.StressClient.log_in`).

Observations of one process arrive in order, those of different processes
in any order between them: a worker's session may read and remove a message
before the worker that delivered it has reported the delivery.  So a
delivery never undoes a removal.
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
# Seconds two sessions of different processes must overlap to count: the
# processes' clocks agree only that well (on one machine, far better).
OVERLAP_MARGIN = 0.05


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
    # Sessions' time in TRANSACTION: (login_t, left_t, session, node).
    inside: list[tuple[float, float, str, str]] = field(default_factory=list)
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
    def __init__(
        self, run_id: str, readings: dict[str, Reading], policy: str = "exclusive"
    ) -> None:
        self.run_id = run_id
        self.policy = policy
        self.mailboxes: dict[str, Mailbox] = {}
        self.reported: list[Violation] = []  # from sessions
        self.found: list[Violation] = []  # from the accounting
        self.cutoff: float | None = None  # run seconds: later reported violations do not count
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
            self.reported.append(Violation.from_wire(o))
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
        elif kind == "left":
            box.inside.append((o["login_t"], o["t"], o["session"], o["node"]))

    def apply_all(self, observations: list[Observation]) -> None:
        for o in observations:
            self.apply(o)

    def _delivery(self, box: Mailbox, o: Observation) -> None:
        # Processes report in their own time: a session of another worker may
        # have read and removed the message before its delivery is reported
        # here, so a delivery never undoes a removal.
        name, state = o["id"], o["state"]
        box.arrived.setdefault(name, o["t"])
        if state != "pending":
            self.counts[f"deliveries {state}"] += 1
        if state == "failed":
            self.delivery_errors.append(o.get("error", ""))
        if box.status.get(name) in (GONE, LEAVING):
            return
        box.status[name] = {"pending": ARRIVING, "done": PRESENT}.get(state, FAILED)

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
            requirement, why = "RFC1939-6.QUIT-2", "no session marked it as deleted"
        suspects = self._suspects(box, name)
        note = (
            "sessions that logged in before it arrived and sent QUIT after: "
            + ", ".join(q.session for q in suspects)
            if suspects
            else ""
        )
        evidence = reading.transcript + [e for q in suspects for e in q.transcript]
        invariant = "accounting" if requirement == "RFC1939-6.QUIT-2" else "deletion"
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

    def judge_overlaps(self) -> None:
        """Where the server locks: sessions of different processes in at once."""
        if self.policy != "exclusive":
            return
        for box in self.mailboxes.values():
            open_: list[tuple[float, float, str, str]] = []
            for interval in sorted(box.inside):
                login, _, session, node = interval
                open_ = [o for o in open_ if o[1] > login]
                for other in open_:
                    if other[3] != node and min(other[1], interval[1]) - login > OVERLAP_MARGIN:
                        self._found(
                            "lock",
                            "RFC1939-4-2",
                            f"one session at a time in TRANSACTION on {box.user}'s maildrop",
                            f"{other[2]} was in from {other[0]:.3f} s to {other[1]:.3f} s, and "
                            f"{session} from {login:.3f} s to {interval[1]:.3f} s",
                            [
                                e
                                for q in box.recent
                                if q.session in (session, other[2])
                                for e in q.transcript
                            ],
                            "sessions of two processes, merged at the master",
                        )
                open_.append(interval)

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
        """Every breach; those sessions saw after the cutoff (the server went down, or
        the run was interrupted: a Ctrl-C reaches an embedded server too) are left out."""
        cutoff = self.cutoff
        seen = [v for v in self.reported if cutoff is None or v.t < cutoff]
        return seen + self.found

    def figures(self) -> dict[str, Any]:
        statuses = collections.Counter(
            s for b in self.mailboxes.values() for s in b.status.values()
        )
        return {
            **dict(self.counts),
            "messages tracked": sum(statuses.values()),
            "messages uncertain at the end": sum(statuses[s] for s in UNCERTAIN),
        }
