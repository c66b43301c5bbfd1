"""The mailbox model: the executable specification of one maildrop and its sessions.

A :class:`Maildrop` holds the committed content of one mailbox (what was
seeded, minus what QUITs removed).  Each POP3 connection gets a
:class:`SessionModel`, which knows the session's state, the numbering fixed at
login and the messages marked as deleted.  For any command line,
:meth:`SessionModel.expect` says what a conforming server answers and
:meth:`SessionModel.check` compares a real :class:`~conformance.codec.Response`
with it, naming the requirement each difference breaks.

Messages are tracked by an internal id, not by number: numbers belong to a
session (RFC 1939 section 4 fixes them at login), ids belong to the maildrop.
That is what lets a session keep its own view after another session commits
deletions (the "snapshot" outcome of RFC1939-4-2) and what lets the maildrop
remember each message's unique-id across sessions (RFC1939-7.UIDL-5).

States, legal commands and response shapes come from :mod:`conformance.protocol`;
this module adds only what the table cannot say: message numbers, sizes,
content and unique-ids.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from conformance.codec import CRLF, Response
from conformance.drift import same_but_server_fields, seeded_names
from conformance.messages import Message
from conformance.protocol import KNOWN_KEYWORDS, State, next_state, rule_for, split_command

OK, ERR = "+OK", "-ERR"
_IN_AUTHORIZATION = (State.AUTHORIZATION, State.AUTHORIZATION_USER, State.AUTHORIZATION_SASL)
_NUMBER = re.compile(r"[0-9]+")
_STAT_TEXT = re.compile(r"([0-9]+) ([0-9]+)(?: |$)")
_SCAN_LINE = re.compile(rb"([0-9]+) ([0-9]+)(?: .*)?", re.DOTALL)
_UID_LINE = re.compile(rb"([0-9]+) (.*)", re.DOTALL)
_UID = re.compile(rb"[\x21-\x7e]{1,70}")
# At most this many examples per requirement in one discrepancy: a server that
# gets every size wrong in a 10 000-message listing needs one line, not 10 000.
_EXAMPLES = 5


@dataclass(frozen=True)
class Discrepancy:
    """One way a response differs from what a conforming server answers."""

    requirement: str
    expected: str
    actual: str

    def __str__(self) -> str:
        return f"{self.requirement}: expected {self.expected}; got {self.actual}"


@dataclass(frozen=True)
class Expectation:
    """What a conforming server answers to one command line in one state.

    ``status`` is the right answer; ``also_accepted`` is a second status that
    conforms too (an optional command may be refused, a credential may be
    wrong, a lenient server may accept extra arguments).  ``lines`` is the
    expected multi-line body (unstuffed, without CRLF) when the model knows
    it, ``values`` the numbers of a single-line answer (STAT: count and size;
    LIST n: n and size; UIDL n: n).
    """

    status: str
    requirement: str
    reason: str
    lines: list[bytes] | None = None
    values: tuple[int, ...] | None = None
    also_accepted: str | None = None

    def accepts(self, status: str | None) -> bool:
        return status == self.status or (status is not None and status == self.also_accepted)

    def describe(self) -> str:
        head = self.status
        if self.values is not None and self.status == OK:
            head += " " + " ".join(str(v) for v in self.values)
        if self.also_accepted:
            head += f" (or {self.also_accepted})"
        return f"{head}: {self.reason}"


class Maildrop:
    """The committed content of one mailbox, shared by all its sessions."""

    def __init__(self, messages: Sequence[Message], *, server_fields: bool = False) -> None:
        """``server_fields``: accept header fields the server adds to stored
        messages (fields the seed did not have), learning the new content
        instead of calling it a difference; on for real servers (calibration)."""
        self.seeded: frozenset[bytes] = (
            seeded_names(m.data for m in messages) if server_fields else frozenset()
        )
        self._content: dict[int, Message] = {}  # every id ever seen, committed or not
        self._order: list[int] = []  # the committed messages, in mailbox order
        # id -> (uid, serial of the session that first reported it)
        self._uids: dict[int, tuple[str, int]] = {}
        self._next_id = 1
        self._next_session = 1
        for message in messages:
            self.append(message)

    @property
    def messages(self) -> list[Message]:
        """The committed messages, in order."""
        return [self._content[i] for i in self._order]

    def append(self, message: Message) -> None:
        """A message delivered to the mailbox (seen by sessions that log in afterwards)."""
        self._content[self._next_id] = message
        self._order.append(self._next_id)
        self._next_id += 1

    def open_session(self, supports: frozenset[str] = frozenset({"TOP", "UIDL"})) -> SessionModel:
        """A new session in the AUTHORIZATION state.

        ``supports`` names the optional commands (TOP, UIDL) the server
        implements: for those, a refusal is a discrepancy; for the others
        ``-ERR`` is accepted.
        """
        serial = self._next_session
        self._next_session += 1
        return SessionModel(self, frozenset(s.upper() for s in supports), serial)

    def replace_content(self, index: int, data: bytes) -> None:
        """Calibrate committed message ``index`` (0-based) to what the server really stores.

        Some servers rewrite what they were given (Cyrus adds headers, mbox
        servers add status headers); once the harness has seen what the server
        returns, later checks compare with that.  Open sessions see the change too.
        """
        self._replace(self._order[index], data)

    # -- for SessionModel ---------------------------------------------------
    def _replace(self, mid: int, data: bytes) -> None:
        self._content[mid] = Message(self._content[mid].name, data)

    def _commit(self, removed: Iterable[int]) -> None:
        gone = set(removed)
        # Another session may have removed some of them already (snapshot servers).
        self._order = [i for i in self._order if i not in gone]

    def _learned(self, mid: int) -> tuple[str, int] | None:
        return self._uids.get(mid)

    def _learn(self, mid: int, uid: str, serial: int) -> None:
        # The first uid seen is the reference; a later different one is a
        # discrepancy that check() reports, not a new truth.
        self._uids.setdefault(mid, (uid, serial))


class SessionModel:
    """One POP3 session on a :class:`Maildrop`: state, numbering and deletion marks."""

    def __init__(self, maildrop: Maildrop, supports: frozenset[str], serial: int) -> None:
        self.state: State = State.AUTHORIZATION
        self._maildrop = maildrop
        self._supports = supports
        self._serial = serial
        self._view: list[int] = []  # message ids; number n is _view[n - 1]
        self._deleted: set[int] = set()  # message numbers marked as deleted

    # -- the session's view -------------------------------------------------
    def login(self) -> None:
        """The harness logged in: enter TRANSACTION and fix the numbering now."""
        if self.state not in _IN_AUTHORIZATION:
            raise RuntimeError(f"login in state {self.state.value}: only AUTHORIZATION can log in")
        self._enter_transaction()

    def _enter_transaction(self) -> None:
        self.state = State.TRANSACTION
        # RFC 1939 section 4: numbering is fixed for the session; later commits
        # by other sessions do not renumber (or remove) what this one sees.
        self._view = list(self._maildrop._order)
        self._deleted = set()

    @property
    def last(self) -> int:
        """The highest message number of the session (N at login)."""
        return len(self._view)

    @property
    def count(self) -> int:
        """Messages not marked as deleted, as STAT must say."""
        return self.last - len(self._deleted)

    @property
    def size(self) -> int:
        """Octets of the messages not marked as deleted, as STAT must say."""
        return sum(self.message(n).size for n in self._live())

    def message(self, n: int) -> Message:
        """Message ``n`` (1-based) as this session sees it; KeyError if there is none."""
        if not 1 <= n <= self.last:
            raise KeyError(n)
        return self._maildrop._content[self._view[n - 1]]

    def is_deleted(self, n: int) -> bool:
        if not 1 <= n <= self.last:
            raise KeyError(n)
        return n in self._deleted

    def uid(self, n: int) -> str | None:
        """The unique-id the server gave message ``n`` (learned from UIDL), or None."""
        if not 1 <= n <= self.last:
            raise KeyError(n)
        learned = self._maildrop._learned(self._view[n - 1])
        return learned[0] if learned else None

    def calibrate(self, n: int, data: bytes) -> None:
        """Like :meth:`Maildrop.replace_content`, for message ``n`` of this session."""
        if not 1 <= n <= self.last:
            raise KeyError(n)
        self._maildrop._replace(self._view[n - 1], data)

    def _live(self) -> list[int]:
        return [n for n in range(1, self.last + 1) if n not in self._deleted]

    # -- expectations --------------------------------------------------------
    def expect(self, line: str) -> Expectation:
        """What a conforming server answers to ``line`` in the current state."""
        keyword, args = split_command(line)
        if self.state is State.TRANSACTION:
            return self._expect_transaction(keyword, args)
        if self.state in (State.AUTHORIZATION, State.AUTHORIZATION_USER):
            return self._expect_authorization(keyword, args)
        if self.state is State.AUTHORIZATION_SASL:
            if line == "*":
                return Expectation(ERR, "RFC5034-4-6", "'*' cancels the AUTH exchange")
            return Expectation(
                OK,
                "RFC5034-4-14",
                "a SASL response: the exchange continues or ends either way",
                also_accepted=ERR,
            )
        requirement = "RFC1939-6.QUIT-3" if self.state is State.UPDATE else "RFC1939-4.QUIT-1"
        return Expectation(
            ERR, requirement, "the session has ended: the server closes the connection after QUIT"
        )

    def _expect_authorization(self, keyword: str, args: list[str]) -> Expectation:
        if rule_for(self.state, keyword) is None:
            return _wrong_state_or_unknown(self.state, keyword)
        if keyword == "QUIT":
            exp = Expectation(OK, "RFC1939-4.QUIT-1", "QUIT ends the session")
            return _lenient_extra(exp) if args else exp
        if keyword in ("USER", "PASS") and not args:
            return Expectation(ERR, "RFC1939-3-12", f"{keyword} needs an argument")
        if keyword == "APOP" and len(args) != 2:
            return Expectation(ERR, "RFC1939-3-12", "APOP takes a name and a digest")
        either = {
            "USER": ("RFC1939-7.USER-1", "the server may accept or refuse the name"),
            "PASS": ("RFC1939-7.PASS-2", "PASS right after a successful USER: credentials decide"),
            "APOP": ("RFC1939-7.APOP-3", "the digest decides"),
            "AUTH": ("RFC5034-4-14", "the mechanism and credentials decide"),
            "CAPA": ("RFC2449-5-1", "CAPA is optional (RFC 2449)"),
            "STLS": ("RFC2595-4-2", "STLS is optional (RFC 2595)"),
            "UTF8": ("RFC6856-2.1-4", "UTF8 is optional and may be refused (RFC 6856)"),
            "LANG": ("RFC6856-3-1", "LANG is optional (RFC 6856)"),
        }
        requirement, reason = either[keyword]
        return Expectation(OK, requirement, reason, also_accepted=ERR)

    def _expect_transaction(self, keyword: str, args: list[str]) -> Expectation:
        if rule_for(self.state, keyword) is None:
            return _wrong_state_or_unknown(self.state, keyword)
        if keyword == "STAT":
            marked = bool(self._deleted)
            exp = Expectation(
                OK,
                "RFC1939-5.STAT-2" if marked else "RFC1939-5.STAT-3",
                f"{self.count} messages, {self.size} octets"
                + (" (messages marked as deleted are not counted)" if marked else ""),
                values=(self.count, self.size),
            )
        elif keyword == "LIST":
            return self._expect_list(args)
        elif keyword == "RETR":
            return self._expect_retr(args)
        elif keyword == "DELE":
            return self._expect_dele(args)
        elif keyword == "TOP":
            return self._expect_top(args)
        elif keyword == "UIDL":
            return self._expect_uidl(args)
        elif keyword == "NOOP":
            exp = Expectation(OK, "RFC1939-5.NOOP-1", "NOOP replies with a positive response")
        elif keyword == "RSET":
            exp = Expectation(OK, "RFC1939-5.RSET-1", "RSET unmarks and replies positively")
        elif keyword == "QUIT":
            exp = Expectation(OK, "RFC1939-6.QUIT-1", "QUIT removes the marked messages")
        else:  # CAPA, LANG: optional extensions
            requirement = "RFC2449-5-1" if keyword == "CAPA" else "RFC6856-3-1"
            return Expectation(OK, requirement, f"{keyword} is optional", also_accepted=ERR)
        return _lenient_extra(exp) if args else exp

    def _number(self, arg: str, invalid: str, deleted: str) -> int | Expectation:
        """Resolve a message-number argument, or the -ERR its use deserves."""
        if not _NUMBER.fullmatch(arg):
            return Expectation(ERR, invalid, f"{arg!r} is not a message-number")
        n = int(arg)
        if not 1 <= n <= self.last:
            return Expectation(ERR, invalid, f"no message {n} (this session has 1..{self.last})")
        if n in self._deleted:
            return Expectation(ERR, deleted, f"message {n} is marked as deleted")
        return n

    def _expect_list(self, args: list[str]) -> Expectation:
        if not args:
            live = self._live()
            return Expectation(
                OK,
                "RFC1939-5.LIST-2",
                f"one scan listing for each of the {len(live)} messages not marked as deleted",
                lines=[f"{n} {self.message(n).size}".encode() for n in live],
            )
        if len(args) > 1:
            return Expectation(ERR, "RFC1939-3-12", "LIST takes at most one argument")
        n = self._number(args[0], "RFC1939-5.LIST-7", "RFC1939-5.LIST-6")
        if isinstance(n, Expectation):
            return n
        exp = Expectation(
            OK,
            "RFC1939-5.LIST-1",
            f"the scan listing of message {n}",
            values=(n, self.message(n).size),
        )
        return _lenient_padding(exp, args[0])

    def _expect_retr(self, args: list[str]) -> Expectation:
        if not args:
            return Expectation(ERR, "RFC1939-5.RETR-3", "RETR needs a message-number")
        if len(args) > 1:
            return Expectation(ERR, "RFC1939-3-12", "RETR takes one argument")
        n = self._number(args[0], "RFC1939-5.RETR-3", "RFC1939-5.RETR-2")
        if isinstance(n, Expectation):
            return n
        message = self.message(n)
        exp = Expectation(
            OK,
            "RFC1939-5.RETR-1",
            f"message {n} ({message.name}, {message.size} octets)",
            lines=_lines(message.data),
        )
        return _lenient_padding(exp, args[0])

    def _expect_dele(self, args: list[str]) -> Expectation:
        if not args:
            return Expectation(ERR, "RFC1939-5.DELE-5", "DELE needs a message-number")
        if len(args) > 1:
            return Expectation(ERR, "RFC1939-3-12", "DELE takes one argument")
        n = self._number(args[0], "RFC1939-5.DELE-5", "RFC1939-5.DELE-2")
        if isinstance(n, Expectation):
            return n
        exp = Expectation(OK, "RFC1939-5.DELE-1", f"message {n} is marked as deleted")
        return _lenient_padding(exp, args[0])

    def _expect_top(self, args: list[str]) -> Expectation:
        if len(args) != 2:
            return Expectation(
                ERR, "RFC1939-7.TOP-3", "TOP takes a message-number and a number of lines"
            )
        n = self._number(args[0], "RFC1939-7.TOP-3", "RFC1939-7.TOP-3")
        if isinstance(n, Expectation):
            return n
        if not _NUMBER.fullmatch(args[1]):
            return Expectation(
                ERR, "RFC1939-7.TOP-3", f"{args[1]!r} is not a non-negative number of lines"
            )
        k = int(args[1])
        message = self.message(n)
        body = len(message.body_lines)
        whole = k > body
        exp = Expectation(
            OK,
            "RFC1939-7.TOP-2" if whole else "RFC1939-7.TOP-1",
            f"the whole message {n}: {k} lines asked, the body has {body}"
            if whole
            else f"the header block of message {n} and {k} of its {body} body lines",
            lines=_lines(message.top(k)),
            also_accepted=None if "TOP" in self._supports else ERR,
        )
        return _lenient_padding(_lenient_padding(exp, args[0]), args[1])

    def _expect_uidl(self, args: list[str]) -> Expectation:
        optional = None if "UIDL" in self._supports else ERR
        if not args:
            uids = [self.uid(n) for n in self._live()]
            known = all(u is not None for u in uids)
            return Expectation(
                OK,
                "RFC1939-7.UIDL-2",
                "one unique-id listing for each message not marked as deleted",
                lines=[f"{n} {u}".encode() for n, u in zip(self._live(), uids, strict=True)]
                if known
                else None,
                also_accepted=optional,
            )
        if len(args) > 1:
            return Expectation(ERR, "RFC1939-3-12", "UIDL takes at most one argument")
        n = self._number(args[0], "RFC1939-7.UIDL-1", "RFC1939-7.UIDL-7")
        if isinstance(n, Expectation):
            return n
        exp = Expectation(
            OK,
            "RFC1939-7.UIDL-1",
            f"the unique-id listing of message {n}"
            + (f" ({self.uid(n)}, as seen before)" if self.uid(n) else ""),
            values=(n,),
            also_accepted=optional,
        )
        return _lenient_padding(exp, args[0])

    # -- judging ---------------------------------------------------------------
    def check(
        self, line: str, response: Response, expectation: Expectation | None = None
    ) -> list[Discrepancy]:
        """How ``response`` to ``line`` differs from a conforming answer (empty: it conforms).

        ``expectation`` is ``expect(line)`` when the caller already has it: for
        a large RETR, computing it means splitting the whole message again.
        """
        exp = self.expect(line) if expectation is None else expectation
        ended = self.state in (State.UPDATE, State.CLOSED)
        if response.kind == "closed":
            if ended:
                return []
            return [Discrepancy(exp.requirement, exp.describe(), _no_answer(response))]
        if response.kind == "timeout":
            return [Discrepancy(exp.requirement, exp.describe(), _no_answer(response))]
        keyword, args = split_command(line)
        if response.kind == "continuation":
            sasl = self.state is State.AUTHORIZATION_SASL or (
                keyword == "AUTH" and self.state in _IN_AUTHORIZATION
            )
            if sasl and line != "*":
                return []
            return [Discrepancy(exp.requirement, exp.describe(), response.describe())]
        if not exp.accepts(response.status):
            return [Discrepancy(exp.requirement, exp.describe(), response.describe())]
        if response.status != OK or self.state is not State.TRANSACTION:
            return []
        return self._check_content(keyword, args, exp, response)

    def _check_content(
        self, keyword: str, args: list[str], exp: Expectation, response: Response
    ) -> list[Discrepancy]:
        if keyword == "STAT":
            return self._check_stat(exp, response)
        if keyword == "LIST":
            return self._check_list_one(exp, response) if args else self._check_scan(response)
        if keyword == "UIDL":
            if args:
                return self._check_uidl_one(exp, response)
            return self._check_uid_listing(response)
        if keyword in ("RETR", "TOP") and exp.lines is not None:
            expected = CRLF.join(exp.lines) + CRLF if exp.lines else b""
            seeded = self._maildrop.seeded
            if (
                response.payload != expected
                and seeded
                and same_but_server_fields(expected, response.payload, seeded)
            ):
                # The server added header fields of its own (Mailutils writes
                # X-UIDL and Status into stored mail): the same message.
                if keyword == "RETR":
                    self.calibrate(int(args[0]), response.payload)
                return []
            if response.payload != expected:
                return [
                    Discrepancy(
                        exp.requirement,
                        f"{len(expected)} octets, sha256 {_sha(expected)}",
                        _diff(expected, response.payload),
                    )
                ]
        return []

    def _check_stat(self, exp: Expectation, response: Response) -> list[Discrepancy]:
        m = _STAT_TEXT.match(response.text)
        if not m:
            return [
                Discrepancy(
                    "RFC1939-5.STAT-1",
                    "+OK, a space, the message count, a space and the size in octets",
                    response.describe(),
                )
            ]
        got = (int(m.group(1)), int(m.group(2)))
        if exp.values is not None and got != exp.values:
            return [Discrepancy(exp.requirement, exp.describe(), response.describe())]
        return []

    def _check_list_one(self, exp: Expectation, response: Response) -> list[Discrepancy]:
        m = _STAT_TEXT.match(response.text)
        if exp.values is None:
            return []
        n, size = exp.values
        if not m or int(m.group(1)) != n:
            return [Discrepancy("RFC1939-5.LIST-1", f"+OK {n} {size}", response.describe())]
        if int(m.group(2)) != size:
            return [Discrepancy("RFC1939-5.LIST-5", f"+OK {n} {size}", response.describe())]
        return []

    def _check_scan(self, response: Response) -> list[Discrepancy]:
        problems = _Problems()
        numbers: list[int] = []
        for raw in response.lines:
            m = _SCAN_LINE.fullmatch(raw)
            if not m:
                problems.add("RFC1939-5.LIST-4", f"{raw[:80]!r} is not 'number size'")
                continue
            n, size = int(m.group(1)), int(m.group(2))
            numbers.append(n)
            if n in self._deleted:
                problems.add("RFC1939-5.LIST-6", f"message {n} is marked as deleted but listed")
            elif 1 <= n <= self.last and self.message(n).size != size:
                problems.add(
                    "RFC1939-5.LIST-5", f"message {n}: {size} octets, not {self.message(n).size}"
                )
        self._check_numbering(numbers, "RFC1939-5.LIST-2", problems)
        return problems.discrepancies(
            {
                "RFC1939-5.LIST-2": "one line per message not marked as deleted, ascending",
                "RFC1939-5.LIST-4": "each line: message-number SP size",
                "RFC1939-5.LIST-5": "the exact size of each message in octets (CRLF line ends)",
                "RFC1939-5.LIST-6": "messages marked as deleted are not listed",
            }
        )

    def _check_numbering(self, numbers: list[int], requirement: str, problems: _Problems) -> None:
        live = self._live()
        if numbers == live:
            return
        listed = [n for n in numbers if n not in self._deleted]
        missing = sorted(set(live) - set(listed))
        unknown = sorted({n for n in listed if not 1 <= n <= self.last})
        if missing:
            problems.add(requirement, f"missing: {_numbers(missing)}")
        if unknown:
            problems.add(requirement, f"no such message: {_numbers(unknown)}")
        if len(set(listed)) != len(listed):
            problems.add(requirement, "a message is listed twice")
        elif listed != sorted(listed):
            problems.add(requirement, "not in ascending order")

    def _parse_uid_listing(self, response: Response, problems: _Problems) -> dict[int, str]:
        """The valid ``n uid`` pairs of a UIDL listing; what is wrong goes to ``problems``."""
        numbers: list[int] = []
        got: dict[int, str] = {}
        for raw in response.lines:
            m = _UID_LINE.fullmatch(raw)
            if not m:
                problems.add("RFC1939-7.UIDL-2", f"{raw[:80]!r} is not 'number unique-id'")
                continue
            n = int(m.group(1))
            numbers.append(n)
            uid = self._parse_uid(n, m.group(2), problems)
            if n in self._deleted:
                problems.add("RFC1939-7.UIDL-7", f"message {n} is marked as deleted but listed")
            elif uid is not None and 1 <= n <= self.last:
                got.setdefault(n, uid)
        self._check_numbering(numbers, "RFC1939-4-7", problems)
        return got

    @staticmethod
    def _parse_uid(n: int, rest: bytes, problems: _Problems) -> str | None:
        uid, _, extra = rest.partition(b" ")
        if extra or rest.endswith(b" "):
            problems.add("RFC1939-7.UIDL-2", f"message {n}: text follows the unique-id")
        if not _UID.fullmatch(uid):
            problems.add(
                "RFC1939-7.UIDL-3",
                f"message {n}: unique-id {uid[:80]!r} is not 1 to 70 characters in 0x21-0x7E",
            )
            return None
        return uid.decode("ascii")

    def _check_uid_listing(self, response: Response) -> list[Discrepancy]:
        problems = _Problems()
        got = self._parse_uid_listing(response, problems)
        self._check_uids(got, problems)
        return problems.discrepancies(_UIDL_EXPECTED)

    def _check_uidl_one(self, exp: Expectation, response: Response) -> list[Discrepancy]:
        problems = _Problems()
        n = exp.values[0] if exp.values else 0
        m = _UID_LINE.fullmatch(response.text.encode("latin-1"))
        if not m or int(m.group(1)) != n:
            problems.add("RFC1939-7.UIDL-1", f"'+OK {n} unique-id', got {response.describe()!r}")
        else:
            uid = self._parse_uid(n, m.group(2), problems)
            if uid is not None:
                self._check_uids({n: uid}, problems)
        return problems.discrepancies(_UIDL_EXPECTED)

    def _check_uids(self, got: dict[int, str], problems: _Problems) -> None:
        """Consistency with what was learned before, and uniqueness (RFC1939-7.UIDL-1/4/5)."""
        for n, uid in got.items():
            learned = self._maildrop._learned(self._view[n - 1])
            if learned is not None and learned[0] != uid:
                same = learned[1] == self._serial
                problems.add(
                    "RFC1939-7.UIDL-1" if same else "RFC1939-7.UIDL-5",
                    f"message {n} ({self.message(n).name}) is {uid!r}, "
                    f"{'earlier in this session' if same else 'in an earlier session'} "
                    f"{learned[0]!r}",
                )
        # Every message of the session's maildrop, with the uid reported now or
        # learned earlier; one uid for two different contents breaks uniqueness.
        holders: dict[str, list[int]] = {}
        for n in range(1, self.last + 1):
            learned = self._maildrop._learned(self._view[n - 1])
            seen = got.get(n, learned[0] if learned else None)
            if seen is not None:
                holders.setdefault(seen, []).append(n)
        for uid, ns in holders.items():
            contents = {self.message(n).data for n in ns}
            if len(contents) > 1:
                problems.add(
                    "RFC1939-7.UIDL-4",
                    f"{uid!r} names messages {_numbers(ns)} of different content",
                )

    # -- effects -----------------------------------------------------------------
    def apply(self, line: str, response: Response) -> None:
        """Carry out the effects of ``response`` to ``line`` on the session and the maildrop.

        DELE +OK marks, RSET +OK unmarks, QUIT +OK in TRANSACTION commits the
        marks (the maildrop loses those messages) and enters UPDATE; other
        state changes follow :func:`conformance.protocol.next_state`.  What the
        model cannot know is resolved conservatively: a QUIT answered -ERR
        ("some deleted messages not removed") commits nothing, a connection
        closed instead of an answer is a :meth:`drop`, and a timeout or a line
        that is not a status changes nothing.  UIDL answers teach the maildrop
        each message's unique-id (the first one seen stays the reference).
        """
        if response.kind == "closed":
            self.drop()
            return
        if response.kind == "timeout" or self.state in (State.UPDATE, State.CLOSED):
            return
        keyword, args = split_command(line)
        if response.kind == "continuation":
            if keyword == "AUTH" and self.state in _IN_AUTHORIZATION:
                self.state = State.AUTHORIZATION_SASL
            return
        if response.status not in (OK, ERR):
            return  # not a status line: the server's state is unknown, keep ours
        positive = response.status == OK
        if self.state is State.AUTHORIZATION_SASL:
            # The final answer of the exchange is the answer to AUTH.
            after = next_state(State.AUTHORIZATION, "AUTH", positive)
        else:
            after = next_state(self.state, keyword, positive)
        if self.state is State.TRANSACTION:
            if positive:
                self._transaction_effect(keyword, args, response)
            if keyword == "QUIT" and positive:
                self._maildrop._commit(self._view[n - 1] for n in self._deleted)
            self._deleted = self._deleted if after is State.TRANSACTION else set()
            self.state = after
        elif after is State.TRANSACTION:
            self._enter_transaction()
        else:
            self.state = after

    def _transaction_effect(self, keyword: str, args: list[str], response: Response) -> None:
        if keyword == "DELE" and args and _NUMBER.fullmatch(args[0]):
            n = int(args[0])
            if 1 <= n <= self.last:
                self._deleted.add(n)
        elif keyword == "RSET":
            self._deleted.clear()
        elif keyword == "UIDL":
            problems = _Problems()
            if not args:
                got = self._parse_uid_listing(response, problems)
            else:
                got = {}
                m = _UID_LINE.fullmatch(response.text.encode("latin-1"))
                n = int(args[0]) if _NUMBER.fullmatch(args[0]) else 0
                valid = 1 <= n <= self.last and n not in self._deleted
                if m and int(m.group(1)) == n and valid:
                    uid = self._parse_uid(n, m.group(2), problems)
                    if uid is not None:
                        got[n] = uid
            for n, uid in got.items():
                self._maildrop._learn(self._view[n - 1], uid, self._serial)

    def observe(self, line: str, response: Response) -> list[Discrepancy]:
        """:meth:`check`, then :meth:`apply`."""
        found = self.check(line, response)
        self.apply(line, response)
        return found

    def drop(self) -> None:
        """The connection ended without QUIT: nothing is committed, the marks are discarded."""
        self.state = State.CLOSED
        self._deleted = set()


# -- helpers ---------------------------------------------------------------------

_UIDL_EXPECTED = {
    "RFC1939-4-7": "message-numbers 1..N ascending, one line per message not marked as deleted",
    "RFC1939-7.UIDL-1": "'+OK n unique-id', the same unique-id as in the listing",
    "RFC1939-7.UIDL-2": "each line: message-number SP unique-id, nothing after it",
    "RFC1939-7.UIDL-3": "unique-ids of 1 to 70 characters in 0x21-0x7E",
    "RFC1939-7.UIDL-4": "a unique-id names one message (or identical copies)",
    "RFC1939-7.UIDL-5": "a message keeps its unique-id across sessions",
    "RFC1939-7.UIDL-7": "messages marked as deleted are not listed",
}


class _Problems:
    """Collects what is wrong, grouped by requirement, with a few examples each."""

    def __init__(self) -> None:
        self._by_requirement: dict[str, list[str]] = {}

    def add(self, requirement: str, detail: str) -> None:
        self._by_requirement.setdefault(requirement, []).append(detail)

    def discrepancies(self, expected: dict[str, str]) -> list[Discrepancy]:
        out = []
        for requirement, details in self._by_requirement.items():
            shown = "; ".join(details[:_EXAMPLES])
            if len(details) > _EXAMPLES:
                shown += f"; and {len(details) - _EXAMPLES} more"
            out.append(Discrepancy(requirement, expected.get(requirement, requirement), shown))
        return out


def _wrong_state_or_unknown(state: State, keyword: str) -> Expectation:
    if keyword in KNOWN_KEYWORDS:
        if keyword == "PASS" and state is State.AUTHORIZATION:
            return Expectation(ERR, "RFC1939-7.PASS-1", "PASS only right after a successful USER")
        return Expectation(ERR, "RFC1939-3-13", f"{keyword} is not allowed in {state.value}")
    shown = keyword if keyword else "an empty line"
    return Expectation(ERR, "RFC1939-3-12", f"{shown!s} is not a POP3 command")


def _lenient_extra(exp: Expectation) -> Expectation:
    """A command that takes no argument, given one: -ERR is right, +OK is lenient."""
    return Expectation(
        ERR,
        "RFC1939-3-12",
        f"the command takes no argument (a server that ignores it: {exp.reason})",
        lines=exp.lines,
        values=exp.values,
        also_accepted=OK,
    )


def _lenient_padding(exp: Expectation, arg: str) -> Expectation:
    """A number with leading zeros ("01") is still decimal; refusing it is allowed too (INFO)."""
    if exp.status != OK or not (len(arg) > 1 and arg.startswith("0")):
        return exp
    return Expectation(
        exp.status,
        exp.requirement,
        exp.reason + f" ({arg!r} has leading zeros: -ERR is accepted too)",
        lines=exp.lines,
        values=exp.values,
        also_accepted=ERR,
    )


def _lines(payload: bytes) -> list[bytes]:
    return payload.split(CRLF)[:-1] if payload else []


def _no_answer(response: Response) -> str:
    partial = f" (partial: {response.partial[:80]!r})" if response.partial else ""
    if response.kind == "timeout":
        return "no response before the deadline" + partial
    return "connection closed" + partial


def _numbers(ns: Sequence[int]) -> str:
    shown = ", ".join(str(n) for n in ns[:10])
    return shown + (f" and {len(ns) - 10} more" if len(ns) > 10 else "")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def _diff(expected: bytes, actual: bytes) -> str:
    """Where two payloads first differ, for a human reading Expected / Actual."""
    limit = min(len(expected), len(actual))
    i = 0
    # Skip equal blocks first: a byte loop over a 1 MB message is slow.
    while i + 4096 <= limit and expected[i : i + 4096] == actual[i : i + 4096]:
        i += 4096
    while i < limit and expected[i] == actual[i]:
        i += 1
    line = expected.count(b"\n", 0, i) + 1
    return (
        f"{len(actual)} octets, sha256 {_sha(actual)}; first difference at octet {i} "
        f"(line {line}): expected {expected[i : i + 40]!r}, got {actual[i : i + 40]!r}"
    )
