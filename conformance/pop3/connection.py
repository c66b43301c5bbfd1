"""The client side of one POP3 connection, without sockets: it owns the state.

:class:`ClientConnection` is the one state tracker of a connection.  Every
line the harness sends is queued as a command awaiting its answer (a
pipelined batch queues several); bytes from the server go in with
:meth:`receive_data`, and :meth:`next_event` cuts the next answer with the
reader its state calls for (h11's ``READERS[state]``: the greeting first,
then each queued command's answer, single- or multi-line as the transition
table says for the state the command was answered in) and moves the state.

When the stream can no longer be trusted (a close, an answer too long to
read, a timeout the transport reports) the connection is dead: it says why,
and whose fault that was, and hands out no further answer.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from conformance.pop3.errors import LocalProtocolError
from conformance.pop3.events import Response
from conformance.pop3.reader import DEFAULT_LIMITS, NEED_DATA, Limits, NeedData, ResponseReader
from conformance.pop3.states import Shape, State
from conformance.pop3.transitions import (
    SASL_RESPONSE,
    resolve_shape,
    rule_for,
    split_command,
)
from conformance.pop3.wire import encode_command

GREETING = "<greeting>"


@dataclass(frozen=True)
class Command:
    """A client line awaiting (or given) its answer."""

    line: str  # as sent, decoded (UTF-8, errors replaced)
    keyword: str  # upper-cased, or SASL_RESPONSE / GREETING
    args: tuple[str, ...] = ()


@dataclass
class Answer:
    """One answer, the command it answers and the states around it."""

    command: Command
    response: Response
    before: State
    after: State

    @property
    def entered_transaction(self) -> bool:
        return self.after is State.TRANSACTION and self.before is not State.TRANSACTION


@dataclass
class Death:
    """Why a connection hands out no more answers."""

    reason: str  # "closed", "timeout", "overflow", "reset", "local"
    detail: str
    by_server: bool  # the server ended it (close, overflow) or the harness did


@dataclass
class ClientConnection:
    limits: Limits = DEFAULT_LIMITS
    state: State = State.AUTHORIZATION
    dead: Death | None = None
    _reader: ResponseReader = field(init=False)
    _queue: deque[Command] = field(default_factory=deque)
    _partial_line: bytes = b""
    _greeted: bool = False

    def __post_init__(self) -> None:
        self._reader = ResponseReader(self.limits)

    # -- sending -------------------------------------------------------------
    def send_command(self, line: str) -> bytes:
        """The wire form of one command line, queued for its answer."""
        self._usable()
        data = encode_command(line)
        self._queue_lines(data)
        return data

    def send_raw(self, data: bytes) -> bytes:
        """Bytes sent as they are: each line they complete is queued for its answer."""
        self._usable()
        self._queue_lines(data)
        return data

    def _queue_lines(self, data: bytes) -> None:
        buffered = self._partial_line + data
        *lines, self._partial_line = buffered.split(b"\n")
        for raw in lines:
            line = raw.removesuffix(b"\r").decode("utf-8", errors="replace")
            keyword, args = split_command(line)
            self._queue.append(Command(line, keyword, tuple(args)))

    @property
    def awaiting(self) -> int:
        """Answers still owed (the greeting counts until it is read)."""
        return len(self._queue) + (0 if self._greeted else 1)

    @property
    def unfinished_line(self) -> bytes:
        """Bytes sent after the last line end: a command the server has not got whole."""
        return self._partial_line

    # -- receiving -----------------------------------------------------------
    def receive_data(self, data: bytes) -> None:
        """Bytes from the server; ``b""`` when it closed its side."""
        self._reader.receive_data(data)

    def next_event(self) -> Answer | NeedData:
        """The next answer (the greeting first), or NEED_DATA."""
        self._usable()
        if not self._greeted:
            command = Command("", GREETING)
            shape = Shape.SINGLE
        elif self._queue:
            command = self._queue[0]
            shape = self._shape_for(command)
        else:
            raise LocalProtocolError("no command is awaiting an answer")
        self._reader.expect(shape)
        event = self._reader.next_event()
        if event is NEED_DATA:
            return NEED_DATA
        assert isinstance(event, Response)
        if command.keyword == GREETING:
            self._greeted = True
        else:
            self._queue.popleft()
        before = self.state
        self._advance(command, event)
        return Answer(command, event, before, self.state)

    def answer(self, line: str, response: Response) -> Answer:
        """Take ``response`` as the answer to ``line`` (the greeting first), as if both
        had crossed the wire: for a model used on its own and for tests."""
        self._usable()
        if not self._greeted:
            self._greeted = True
            return Answer(Command(line, GREETING), response, self.state, self.state)
        keyword, args = split_command(line)
        if self.state is State.AUTHORIZATION_SASL:
            keyword = SASL_RESPONSE
        command = Command(line, keyword, tuple(args))
        before = self.state
        self._advance(command, response)
        return Answer(command, response, before, self.state)

    def time_out(self, partial: bytes) -> Answer:
        """The transport's deadline passed before the next answer was whole.

        The command is answered by a "timeout" response; the state stays.
        """
        self._usable()
        if not self._greeted:
            command = Command("", GREETING)
            self._greeted = True
        elif self._queue:
            command = self._queue.popleft()
        else:
            raise LocalProtocolError("no command is awaiting an answer")
        response = Response(kind="timeout", partial=partial)
        return Answer(command, response, self.state, self.state)

    def _shape_for(self, command: Command) -> Shape:
        rule = rule_for(self.state, command.keyword)
        if rule is None:
            return Shape.SINGLE
        return resolve_shape(rule.shape, bool(command.args))

    def _advance(self, command: Command, response: Response) -> None:
        if response.kind in ("closed", "overflow"):
            self.die(response.kind, response.describe(), by_server=True)
            return
        if command.keyword == GREETING:
            return
        rule = rule_for(self.state, command.keyword)
        if rule is None:
            return
        after = rule.after(response.status)
        if after is not None:
            self.state = after

    def command_row(self, line: str) -> str:
        """The table row a line would be looked up by in the current state."""
        if self.state is State.AUTHORIZATION_SASL:
            return SASL_RESPONSE
        return split_command(line)[0]

    # -- ending --------------------------------------------------------------
    def die(self, reason: str, detail: str, *, by_server: bool) -> None:
        """No answer from now on can be trusted; the first cause is the one kept."""
        if self.dead is None:
            self.dead = Death(reason, detail, by_server)
        self.state = State.CLOSED
        self._queue.clear()

    def _usable(self) -> None:
        if self.dead is not None:
            raise LocalProtocolError(
                f"the connection is dead ({self.dead.reason}: {self.dead.detail})"
            )

    def start_tls(self) -> bytes:
        """The +OK to STLS came: a new layer starts, with a new reader.

        Returns the octets the server sent in the clear after that answer
        (RFC 2595 section 4 has TLS start right after its CRLF, so a conforming
        server sends none); they are never read as answers.
        """
        stray = self._reader.take_pending()
        self._reader = ResponseReader(self.limits)
        # Lines sent in the clear behind STLS (an injection) are not commands
        # of the new layer: a conforming server discards them.
        self._queue.clear()
        self._partial_line = b""
        return stray

    def stray_data(self) -> bytes:
        """Bytes received after the last complete answer."""
        return self._reader.pending()

    def take_stray(self) -> bytes:
        return self._reader.take_pending()

    @property
    def eof(self) -> bool:
        return self._reader.eof

    @property
    def mid_answer(self) -> bool:
        """Whether part of an answer has been read: reading on would desynchronise."""
        return self._reader.in_progress
