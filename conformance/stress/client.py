"""One POP3 session of a load task: each answer timed for Locust and checked on the spot.

The session is the harness's own (:class:`conformance.transport.Session` over
the sans-IO core); this module adds what a load test needs around it: every
exchange reported as a Locust request (keyword, latency, octets, failure),
and the checks a session can make alone, each a
:class:`~conformance.stress.observations.Violation` with the session's
transcript:

- the session's view stays as it was at login while other sessions run
  (the same messages, sizes and unique-ids, each still readable);
- each answer is the answer to its own command (LIST n names message n, a
  message belongs to the mailbox logged in to);
- every command is answered before the deadline;
- no other session of this process is in TRANSACTION on the same maildrop
  where the server locks it.

What needs every process's observations (messages lost or duplicated,
unique-ids reused) is left to the ledger.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from conformance.login import login_lines
from conformance.pop3 import IN_AUTHORIZATION, Response, parse_stat, parse_uid_line, split_command
from conformance.results import TranscriptEntry
from conformance.stress import marked
from conformance.stress import observations as obs
from conformance.stress.world import World
from conformance.target import Account
from conformance.transcript import Transcript
from conformance.transport import ConnectError, Session

# The requirement each kind of breach is graded against (see invariants.py).
VIEW = "RFC1939-4-2"  # messages modified or removed before this session's UPDATE
ANSWER = "RFC1939-5-1"  # "After each command, the POP3 server issues a response."
GREETING = "RFC1939-3-2"  # "When the connection is established, the POP3 server sends a greeting."
UNIQUE = "RFC1939-7.UIDL-4"  # a unique-id names one message


class Unanswered(Exception):
    """A command got no answer (deadline, close, overflow): the session is over."""


@dataclass
class View:
    """The maildrop as this session saw it at login, and its own marks."""

    sizes: dict[int, int] = field(default_factory=dict)
    uids: dict[int, str] = field(default_factory=dict)
    names: dict[int, str] = field(default_factory=dict)  # identities learned here
    marked: set[int] = field(default_factory=set)

    def live(self) -> list[int]:
        return [n for n in self.sizes if n not in self.marked]

    def marked_names(self) -> list[str]:
        return [self.names[n] for n in sorted(self.marked) if n in self.names]


class StressClient:
    def __init__(
        self, world: World, account: Account, transcript: Transcript | None = None
    ) -> None:
        self.world = world
        self.account = account
        self.label = world.label()
        self.transcript = transcript or Transcript(world.secrets, t0=world.facts.t0)
        self.session = Session.to(world.target, self.label, self.transcript)
        self.greeting = ""
        self._refused = False  # the last answer was -ERR in AUTHORIZATION
        self.view = View()
        self.login_t: float | None = None  # when the login's +OK came (None: not in)

    @property
    def user(self) -> str:
        return self.account.user

    def entries(self) -> list[TranscriptEntry]:
        return list(self.transcript.entries)

    def violate(
        self,
        invariant: str,
        requirement: str,
        expected: str,
        actual: str,
        note: str = "",
        others: Sequence[StressClient] = (),
    ) -> None:
        entries = self.entries() + [e for other in others for e in other.entries()]
        entries.sort(key=lambda e: e.t_ms)
        violation = obs.Violation(
            invariant, requirement, expected, actual, note, self.world.now(), entries
        )
        self.world.recorder.emit(violation.to_wire())

    # -- the connection -------------------------------------------------------------
    def open(self) -> bool:
        """Connect and read the greeting; False when there is no usable one."""
        try:
            greeting = self.session.connect()
        except ConnectError as exc:
            self.world.recorder.request("CONNECT", 0.0, 0, str(exc))
            return False
        if greeting.ok:
            self.greeting = greeting.status_text()
            self.world.recorder.request("CONNECT", greeting.elapsed_ms, greeting.octets, None)
            return True
        failure = greeting.describe()
        self.world.recorder.request("CONNECT", greeting.elapsed_ms, greeting.octets, failure)
        if not greeting.answered:
            self.violate(
                "responsive", GREETING, "a greeting once the connection is established", failure
            )
        return False

    def command(self, line: str, timeout: float | None = None, login: bool = False) -> Response:
        """Send one command and read its answer; Unanswered if none came.

        A login refused because the mailbox is in use is no failure: it is
        reported apart (``PASS (in use)``), with how long the server made it wait.
        """
        name = split_command(line)[0]
        refused_before = self._refused
        answer = self.session.exchange(line, timeout)
        response = answer.response
        self._refused = response.err and answer.before in IN_AUTHORIZATION
        if response.kind == "closed" and refused_before:
            # RFC 1939 section 4: "After returning a negative status indicator,
            # the server may close the connection."
            self.session.abandon()
            return response
        if not response.answered:
            self.world.recorder.request(name, response.elapsed_ms, 0, response.describe())
            self._unanswered(name, response)
        failure = self.world.secrets.scrub(f"-ERR {response.text}") if response.err else None
        if login and response.names_lock:
            name, failure = f"{name} (in use)", None
        self.world.recorder.request(name, response.elapsed_ms, response.octets, failure)
        if any(f.code == "not-a-status" for f in response.findings):
            self.violate(
                "answers",
                ANSWER,
                f"the answer to {name}, starting with +OK or -ERR",
                response.describe(),
                "a line that is no status line came where an answer was due: part of "
                "another answer?",
            )
        return response

    def _unanswered(self, name: str, response: Response) -> None:
        deadline = self.world.facts.lock_wait if name in ("PASS", "APOP", "AUTH") else None
        limit = deadline or self.world.target.timeout
        expected = f"an answer to {name} within {limit:g} s"
        self.violate("responsive", ANSWER, expected, response.describe())
        self.end()
        raise Unanswered(f"{name}: {response.describe()}")

    # -- logging in -----------------------------------------------------------------
    def prelude(self, method: str) -> str | None:
        """Send a login's lines but the last (USER); the last line, or None if refused."""
        *first, last = login_lines(self.account, method, self.greeting, self.world.secrets)
        for line in first:
            if not self.command(line).ok:
                return None
        return last

    def finish(self, line: str) -> bool:
        """Send the login's last line (waiting as long as a lock may take): True if in."""
        response = self.command(line, timeout=self.world.facts.lock_wait, login=True)
        if response.ok:
            self._enter()
        return response.ok

    def log_in(self, method: str) -> bool:
        last = self.prelude(method)
        return last is not None and self.finish(last)

    def _enter(self) -> None:
        self.login_t = self.world.now()
        others = self.world.occupancy.enter(self.user, self)
        if others and self.world.facts.policy == "exclusive":
            names = ", ".join(other.label for other in others)
            self.violate(
                "lock",
                VIEW,
                f"no second session in TRANSACTION on {self.user}'s maildrop: the server "
                "refused (or delayed) a second login while the first was in",
                f"{self.label} was let in while {names} had logged in and not yet sent QUIT",
                others=others,
            )

    def _leave(self) -> None:
        """Out of TRANSACTION from here on (QUIT about to be sent, or the connection ended)."""
        if self.login_t is None:
            return
        self.world.occupancy.leave(self.user, self)
        self.world.recorder.emit(
            obs.left(self.label, self.world.node, self.user, self.login_t, self.world.now())
        )
        self.login_t = None

    # -- the view -------------------------------------------------------------------
    def learn_view(self) -> bool:
        """STAT, LIST and UIDL right after login: the view kept for the session."""
        stat = self.command("STAT")
        if not stat.ok:
            return False
        if parse_stat(stat.text) is None:
            self.violate("answers", ANSWER, "+OK nn mm, the answer to STAT", stat.describe())
            return False
        listing = self.command("LIST")
        if listing.kind != "multi" or not listing.ok:
            return False
        for raw in listing.lines:
            parts = raw.split()
            if len(parts) >= 2 and parts[0].isdigit() and parts[1].isdigit():
                self.view.sizes[int(parts[0])] = int(parts[1])
        self.world.knowledge.counts[self.user] = len(self.view.sizes)
        if self.world.facts.uidl:
            return self._learn_uids()
        return True

    def _learn_uids(self) -> bool:
        listing = self.command("UIDL")
        if listing.kind != "multi" or not listing.ok:
            return False
        seen: dict[str, int] = {}
        for raw in listing.lines:
            line = parse_uid_line(raw)
            if line is None or line.valid_uid is None:
                continue
            uid = line.valid_uid
            if uid in seen:
                self.violate(
                    "unique-ids",
                    UNIQUE,
                    "a different unique-id for every message of the maildrop",
                    f"messages {seen[uid]} and {line.number} both have unique-id {uid}",
                )
            seen[uid] = line.number
            self.view.uids[line.number] = uid
        missing = [n for n in self.view.sizes if n not in self.view.uids]
        if missing:
            self.violate(
                "lock",
                VIEW,
                f"a unique-id for each of the {len(self.view.sizes)} messages LIST showed",
                f"UIDL leaves out message(s) {', '.join(map(str, missing[:5]))}",
            )
        return True

    def _changed(self, what: str, actual: str) -> None:
        self.violate(
            "lock",
            VIEW,
            f"{what}, as at login: nothing is modified or removed before this session's UPDATE",
            actual,
        )

    def check_stat(self) -> None:
        stat = self.command("STAT")
        counted = parse_stat(stat.text) if stat.ok else None
        if counted is None:
            return
        live = self.view.live()
        size = sum(self.view.sizes[n] for n in live)
        if counted[0] < len(live) or (counted[0] == len(live) and counted[1] != size):
            self._changed(f"STAT {len(live)} {size}", stat.describe())

    def check_list(self, number: int) -> None:
        response = self.command(f"LIST {number}")
        scan = parse_stat(response.text) if response.ok else None
        expected = f"+OK {number} {self.view.sizes[number]}"
        if response.err:
            self._changed(expected, response.describe())
        elif scan is not None and scan[0] != number:
            self.violate("answers", ANSWER, expected, response.describe())
        elif scan is not None and scan[1] != self.view.sizes[number]:
            self._changed(expected, response.describe())

    def check_uidl(self, number: int) -> None:
        uid = self.view.uids.get(number)
        response = self.command(f"UIDL {number}")
        line = parse_uid_line(response.text.encode("latin-1")) if response.ok else None
        expected = f"+OK {number} {uid}"
        if response.err:
            self._changed(expected, response.describe())
        elif line is not None and line.number != number:
            self.violate("answers", ANSWER, expected, response.describe())
        elif line is not None and uid is not None and line.valid_uid != uid:
            self._changed(expected, response.describe())

    def read(self, number: int, keyword: str = "TOP", lines: int = 0) -> str | None:
        """TOP n lines (RETR n where there is no TOP): the message's identity, checked."""
        if keyword == "TOP" and not self.world.facts.top:
            keyword = "RETR"
        line = f"TOP {number} {lines}" if keyword == "TOP" else f"RETR {number}"
        response = self.command(line)
        if not (response.kind == "multi" and response.ok):
            if response.err:
                self._changed(f"+OK and message {number}", response.describe())
            return None
        name = marked.identity(response.payload)
        self._check_name(number, name, response)
        return name

    def _check_name(self, number: int, name: str, response: Response) -> None:
        owner = marked.owner(name)
        if owner is not None and owner != self.user:
            self.violate(
                "answers",
                ANSWER,
                f"message {number} of {self.user}'s maildrop",
                f"a message made for {owner}: {response.describe()}",
                "an answer meant for another session?",
            )
            return
        earlier = self.view.names.get(number)
        if earlier is not None and earlier != name:
            self._changed(f"message {number} still {earlier}", f"now {name}")
        self.view.names[number] = name
        uid = self.view.uids.get(number)
        if uid is None:
            return
        if self.world.knowledge.named(self.user, uid) is None:
            self.world.recorder.emit(obs.unique_id(self.user, uid, name, self.world.now()))
        before = self.world.knowledge.learn(self.user, uid, name)
        if before is not None:
            # Reused or shared: the ledger, which sees every deletion, decides which.
            self.world.recorder.emit(
                obs.unique_id(self.user, uid, name, self.world.now(), self.entries())
            )

    def dele(self, number: int) -> bool:
        response = self.command(f"DELE {number}")
        if response.ok:
            self.view.marked.add(number)
        elif response.err:
            self._changed(f"+OK: message {number} marked as deleted", response.describe())
        return response.ok

    def rset(self) -> None:
        names = self.view.marked_names()
        if self.command("RSET").ok:
            self.view.marked.clear()
            self.world.recorder.emit(obs.unmarked(self.user, names, "rset", self.world.now()))

    # -- ending ---------------------------------------------------------------------
    def quit(self) -> None:
        """QUIT: in TRANSACTION the marked messages go, and the ledger is told so."""
        inside = self.login_t is not None
        if inside:
            assert self.login_t is not None
            self.world.recorder.emit(
                obs.quit_sent(
                    self.label,
                    self.user,
                    self.view.marked_names(),
                    self.login_t,
                    self.world.now(),
                )
            )
            self._leave()
        response = self.command("QUIT")
        if inside:
            self.world.recorder.emit(
                obs.quit_answered(
                    self.label, self.user, response.ok, self.world.now(), self.entries()
                )
            )
        self.session.abandon()

    def drop(self, how: str) -> None:
        """End without QUIT, by FIN ("fin") or RST ("rst"): nothing may be removed."""
        self._leave()
        names = self.view.marked_names()
        if names:
            self.world.recorder.emit(obs.unmarked(self.user, names, how, self.world.now()))
        if how == "rst":
            self.session.reset()
        else:
            self.session.close(settle=0.2)

    def end(self) -> None:
        """Whatever is left open is reset (a task that stopped half-way)."""
        self._leave()
        if self.session.open_socket:
            self.session.reset()
