"""One POP3 session on a maildrop: the oracle that judges every answer.

For any command line, :meth:`SessionModel.expect` says what a conforming
server answers in a state and :meth:`SessionModel.check` compares a real
:class:`~conformance.pop3.Response` with it, naming the requirement each
difference breaks.  The session's protocol state is not tracked here: it is
the state of the session's :class:`~conformance.pop3.ClientConnection`, the
one tracker, and each :class:`~conformance.pop3.Answer` says the states
around it.  This module dispatches to one oracle per command family, keyed
by the spec's keywords (:data:`ORACLES`).
"""

from __future__ import annotations

from typing import Final

from conformance.model.authorization import Authorization, sasl_response
from conformance.model.capabilities import Capabilities
from conformance.model.expectation import (
    ERR,
    OK,
    Discrepancy,
    Expectation,
    no_answer,
    tolerate,
    wrong_state_or_unknown,
)
from conformance.model.listing import List, Stat, Uidl
from conformance.model.maildrop import Maildrop
from conformance.model.marks import Marks
from conformance.model.oracle import Asked, Oracle
from conformance.model.retrieval import Retrieval
from conformance.model.view import SessionView
from conformance.pop3 import (
    COMMANDS,
    IN_AUTHORIZATION,
    KNOWN_KEYWORDS,
    Answer,
    ClientConnection,
    Response,
    State,
    check_line,
    parse_status_line,
    rule_for,
    split_command,
)


def _oracles(*families: Oracle) -> dict[str, Oracle]:
    table: dict[str, Oracle] = {}
    for family in families:
        for keyword in family.keywords:
            table[keyword] = family
    return table


ORACLES: Final[dict[str, Oracle]] = _oracles(
    Authorization(), Capabilities(), Stat(), List(), Uidl(), Retrieval(), Marks()
)


class SessionModel(SessionView):
    def __init__(
        self,
        maildrop: Maildrop,
        supports: frozenset[str],
        serial: int,
        connection: ClientConnection | None = None,
    ) -> None:
        super().__init__(maildrop, supports, serial)
        if connection is None:
            # The model used on its own: a connection that has been greeted.
            connection = ClientConnection()
            connection.answer("", parse_status_line(b"+OK\r\n"))
        self.connection = connection

    @property
    def state(self) -> State:
        return self.connection.state

    def login(self) -> None:
        """The harness logged in (USER and PASS answered +OK): TRANSACTION, numbering fixed."""
        if self.state not in IN_AUTHORIZATION:
            raise RuntimeError(f"login in state {self.state.value}: only AUTHORIZATION can log in")
        for line in ("USER harness", "PASS harness"):
            self.observe(line, parse_status_line(b"+OK\r\n"))

    # -- expectations --------------------------------------------------------
    def expect(self, line: str, state: State | None = None) -> Expectation:
        """What a conforming server answers to ``line`` in ``state`` (default: the current one)."""
        state = self.state if state is None else state
        if state is State.AUTHORIZATION_SASL:
            return sasl_response(line)
        keyword, args = split_command(line)
        if state in (State.UPDATE, State.CLOSED):
            requirement = "RFC1939-6.QUIT-3" if state is State.UPDATE else "RFC1939-4.QUIT-1"
            return Expectation(
                ERR,
                requirement,
                "the session has ended: the server closes the connection after QUIT",
            )
        if rule_for(state, keyword) is None:
            return wrong_state_or_unknown(state, keyword, keyword in KNOWN_KEYWORDS)
        # One argument rule for every command (conformance.pop3.arguments): what
        # the grammar forbids gets -ERR; spacing and leading zeros are tolerated.
        problem = check_line(COMMANDS[keyword], line)
        if problem is not None and not problem.tolerated:
            return Expectation(ERR, problem.requirement, problem.reason)
        expected = ORACLES[keyword].expect(Asked(self, keyword, args), state)
        return expected if problem is None else tolerate(expected, problem)

    # -- judging ---------------------------------------------------------------
    def check(
        self,
        line: str,
        response: Response,
        expectation: Expectation | None = None,
        state: State | None = None,
    ) -> list[Discrepancy]:
        """How ``response`` to ``line`` differs from a conforming answer (empty: it conforms).

        ``state`` is the state the line was answered in (default: the current
        one); ``expectation`` is ``expect(line, state)`` when the caller already
        has it: for a large RETR, computing it again costs a digest.
        """
        state = self.state if state is None else state
        exp = self.expect(line, state) if expectation is None else expectation
        if response.kind == "closed" and state in (State.UPDATE, State.CLOSED):
            return []
        if not response.answered:
            return [Discrepancy(exp.requirement, exp.describe(), no_answer(response))]
        keyword, args = split_command(line)
        if response.kind == "continuation":
            if state is State.AUTHORIZATION_SASL and line != "*":
                return []
            # A challenge to AUTH takes the command, as a +OK would.
            if keyword == "AUTH" and state in IN_AUTHORIZATION and exp.accepts(OK):
                return []
            if keyword == "AUTH" and exp.tolerates(OK):
                return [Discrepancy(exp.tolerated_by, exp.describe(), response.describe(), True)]
            return [Discrepancy(exp.requirement, exp.describe(), response.describe())]
        tolerated = exp.tolerates(response.status)
        if not (tolerated or exp.accepts(response.status)):
            return [Discrepancy(exp.requirement, exp.describe(), response.describe())]
        found: list[Discrepancy] = []
        oracle = ORACLES.get(keyword)
        if response.status == OK and state is State.TRANSACTION and oracle is not None:
            found = oracle.check(Asked(self, keyword, args), exp, response)
        if tolerated and not found:
            # What the catalog lets a server do: recorded, not broken.
            return [Discrepancy(exp.tolerated_by, exp.describe(), response.describe(), True)]
        return found

    # -- effects -----------------------------------------------------------------
    def apply(self, answer: Answer) -> None:
        """Carry out the effects of ``answer`` on the session's view and the maildrop.

        DELE +OK marks, RSET +OK unmarks, QUIT +OK in TRANSACTION commits the
        marks (the maildrop loses those messages); entering TRANSACTION fixes
        the numbering.  What the model cannot know is resolved conservatively:
        a QUIT answered -ERR ("some deleted messages not removed") commits
        nothing, a connection closed instead of an answer commits nothing, and
        a timeout or a line that is not a status changes nothing.  UIDL answers
        teach the maildrop each message's unique-id (the first one stays).
        """
        response = answer.response
        if response.kind in ("closed", "overflow"):
            self.drop()
            return
        before = answer.before
        if response.kind != "status" and response.kind != "multi":
            return
        if before is State.TRANSACTION:
            oracle = ORACLES.get(answer.command.keyword)
            if response.ok and oracle is not None:
                asked = Asked(self, answer.command.keyword, list(answer.command.args))
                oracle.apply(asked, response)
            if answer.after is not State.TRANSACTION:
                self.deleted = set()
        elif answer.entered_transaction:
            self.fix_numbering()

    def observe(self, line: str, response: Response) -> list[Discrepancy]:
        """The model used on its own: judge ``response`` to ``line``, then apply it.

        The line goes through the connection's state table as if it had been
        sent and answered on the wire.
        """
        answer = self.connection.answer(line, response)
        found = self.check(line, response, state=answer.before)
        self.apply(answer)
        return found

    def drop(self) -> None:
        """The connection ended without an UPDATE: nothing is committed, the marks are discarded."""
        self.deleted = set()
        if self.connection.dead is None:
            self.connection.die("ended", "the connection ended without QUIT", by_server=False)
