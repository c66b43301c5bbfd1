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

import functools
from collections import deque
from dataclasses import dataclass, field
from typing import Final, NamedTuple

from conformance.pop3.errors import LocalProtocolError
from conformance.pop3.events import Finding, Response, finding
from conformance.pop3.reader import DEFAULT_LIMITS, NEED_DATA, Limits, NeedData, ResponseReader
from conformance.pop3.spec import SECRET_KEYWORDS
from conformance.pop3.states import Shape, State
from conformance.pop3.transitions import (
    SASL_RESPONSE,
    Rule,
    resolve_shape,
    rule_for,
    split_command,
)
from conformance.pop3.wire import encode_command

GREETING = "<greeting>"
# Command lines are kept in a cache in TRANSACTION only, and never those of
# the commands that carry a secret (the spec's SECRET_KEYWORDS, each four
# letters): a secret stays in no cache, even a scenario's PASS sent in the
# wrong state.
# Enum members bound once: on Python 3.11 every ``State.X`` goes through
# EnumType.__getattr__ (a hook call, ~100 ns), and this is the path of every answer.
_TRANSACTION: Final = State.TRANSACTION
# The commands whose +OK (LANG's with a language) makes UTF-8 text legal.
_TEXT_MODE_KEYWORDS = frozenset({"UTF8", "LANG"})


class Command(NamedTuple):
    """A client line awaiting (or given) its answer."""

    line: str  # as sent, decoded (UTF-8, errors replaced)
    keyword: str  # upper-cased, or SASL_RESPONSE / GREETING
    args: tuple[str, ...] = ()


def _encode_uncached(line: str) -> tuple[bytes, Command]:
    keyword, args = split_command(line)
    return encode_command(line), Command(line, keyword, tuple(args))


# The same few TRANSACTION lines are sent thousands of times in a run; their
# wire form and queued command are immutable, so one is made per line.  Only
# lines without a secret go in, so a line found here needs no other test.
_ENCODED: dict[str, tuple[bytes, Command]] = {}
_ENCODED_MAX: Final = 4096


def _encode_and_keep(line: str) -> tuple[bytes, Command]:
    """A TRANSACTION line not in the cache yet: encoded, and kept unless it has a secret."""
    encoded = _encode_uncached(line)
    if line.lstrip(" \t")[:4].upper() not in SECRET_KEYWORDS:
        if len(_ENCODED) >= _ENCODED_MAX:
            _ENCODED.clear()
        _ENCODED[line] = encoded
    return encoded


@functools.lru_cache(maxsize=512)
def _reading(state: State, keyword: str, has_args: bool) -> tuple[Rule | None, Shape]:
    """The table rule of ``keyword`` in ``state`` and the shape of its answer."""
    rule = rule_for(state, keyword)
    if rule is None:
        return None, Shape.SINGLE
    return rule, resolve_shape(rule.shape, has_args)


@dataclass(slots=True)
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

    reason: str  # "closed", "timeout", "overflow", "unsolicited", "ended"
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
    # The answer being read: its command, rule and shape (None between answers).
    _head: tuple[Command, Rule | None, Shape] | None = None
    # UTF-8 text is legal in answers (RFC 6856 UTF8 or LANG accepted).
    utf8_text: bool = False
    # The server said +OK to STLS: the octets that follow belong to TLS (RFC
    # 2595 section 4), so no POP3 command may go out and nothing that comes
    # back is a POP3 answer until start_tls().
    tls_pending: bool = False

    def __post_init__(self) -> None:
        self._reader = ResponseReader(self.limits)

    # -- sending -------------------------------------------------------------
    def send_command(self, line: str) -> bytes:
        """The wire form of one command line, queued for its answer."""
        if self.dead is not None or self.tls_pending:
            self._usable()
        if self._partial_line:
            data = encode_command(line)
            self._queue_lines(data)
            return data
        if self.state is _TRANSACTION:
            data, command = _ENCODED.get(line) or _encode_and_keep(line)
        else:
            data, command = _encode_uncached(line)
        self._queue.append(command)
        return data

    def send_raw(self, data: bytes) -> bytes:
        """Bytes sent as they are: each line they complete is queued for its answer."""
        self._usable()
        self._queue_lines(data)
        return data

    def _queue_lines(self, data: bytes) -> None:
        if self._partial_line:
            data = self._partial_line + data
        *lines, self._partial_line = data.split(b"\n")
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

    def buffered(self) -> bool:
        """Whether what was received may already hold the next answer (else read first).

        Raises LocalProtocolError when no answer is owed or the connection is
        dead, before the caller waits for bytes that cannot be an answer.
        """
        if self._head is None:
            self._head = self._choose_reader()
        return self._reader.has_input

    def next_event(self) -> Answer | NeedData:
        """The next answer (the greeting first), or NEED_DATA."""
        if self.tls_pending:
            # h11's PAUSED after a protocol switch: what arrives now is TLS.
            return NEED_DATA
        head = self._head
        if head is None:
            head = self._head = self._choose_reader()
        command, rule, shape = head
        event = self._reader.next_event(shape)
        if isinstance(event, NeedData):
            return event
        self._head = None
        # A line that is no status line at all is that finding (not-a-status),
        # not this one as well: one root cause, one finding.
        line = event.status_line
        # ``0 in line`` looks for the NUL octet; ``b"\0" in line`` would cost an
        # exception raised and cleared inside bytes.__contains__ on every answer.
        if event.status is not None and (not line.isascii() or 0 in line):
            self._judge_octets(event)
        if command.keyword == GREETING:
            self._greeted = True
        else:
            self._queue.popleft()
        before = self.state
        self._take(command, rule, event)
        if command.keyword == "STLS" and event.ok:
            self.tls_pending = True
        return Answer(command, event, before, self.state)

    def _choose_reader(self) -> tuple[Command, Rule | None, Shape]:
        """The next answer owed, its table rule in the current state and its shape
        (h11's ``READERS[state]``); fixed until that answer is read."""
        if self.dead is not None or self.tls_pending:
            self._usable()
        if not self._greeted:
            return Command("", GREETING), None, Shape.SINGLE
        if not self._queue:
            raise LocalProtocolError("no command is awaiting an answer")
        command = self._queue[0]
        return (command, *_reading(self.state, command.keyword, bool(command.args)))

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
        self._take(command, rule_for(before, keyword), response)
        return Answer(command, response, before, self.state)

    def time_out(self, partial: bytes, limit: float) -> Answer:
        """The transport's deadline passed before the next answer was whole.

        The command is answered by a "timeout" response and the connection
        is dead: a late answer would be read as the next command's, so
        nothing more is read from it.  The server's doing (it did not answer
        in time), graded by whatever judges the answer.
        """
        self._usable()
        if not self._greeted:
            command = Command("", GREETING)
        elif self._queue:
            command = self._queue[0]
        else:
            raise LocalProtocolError("no command is awaiting an answer")
        before = self.state
        response = Response(kind="timeout", partial=partial)
        body = self._reader.body_octets
        if body is not None:
            # A multi-line answer that started and never ended: the terminator is
            # missing (RFC 1939 section 3), whether the server stalled or streams on.
            response.findings.append(
                finding(
                    "missing-terminator",
                    f"no '.' line ended the multi-line answer within {limit:g} s "
                    f"({body} octets of it read)",
                )
            )
        read = " (part of it was read)" if self._reader.in_progress else ""
        detail = f"no complete answer to {command.keyword} within {limit:g} s{read}"
        self.die("timeout", detail, by_server=True)
        return Answer(command, response, before, self.state)

    def _judge_octets(self, response: Response) -> None:
        """A NUL, or an 8-bit octet outside UTF-8 mode, in a status line (RFC 2449 section 3)."""
        line = response.status_line
        if b"\0" in line:
            what = "a NUL octet"
        elif not self.utf8_text and not line.isascii():
            what = "an 8-bit octet (no UTF8 or LANG was accepted)"
        else:
            return
        response.findings.append(
            finding("octets-outside-text", f"{what} in the status line: {line[:60]!r}")
        )

    def _take(self, command: Command, rule: Rule | None, response: Response) -> None:
        """Move the state as the table says for ``response``, the answer to ``command``."""
        kind = response.kind
        if kind == "closed" or kind == "overflow":
            self.die(kind, response.describe(), by_server=True)
            return
        status = response.status
        if rule is not None and status is not None:
            self.state = rule.leads.get(status, self.state)
        # RFC 6856: after UTF8, or LANG with a language, texts may be UTF-8.
        if (
            status == "+OK"
            and command.keyword in _TEXT_MODE_KEYWORDS
            and (command.keyword == "UTF8" or command.args)
        ):
            self.utf8_text = True

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
        self._head = None

    def _usable(self) -> None:
        if self.dead is not None:
            raise LocalProtocolError(
                f"the connection is dead ({self.dead.reason}: {self.dead.detail})"
            )
        if self.tls_pending:
            raise LocalProtocolError(
                "the +OK to STLS handed the connection to TLS: no POP3 command or answer "
                "until the handshake"
            )

    def start_tls(self) -> bytes:
        """The +OK to STLS came: a new layer starts, with a new reader.

        Returns the octets the server sent in the clear after that answer
        (RFC 2595 section 4 has TLS start right after its CRLF, so a conforming
        server sends none); they are never read as answers.
        """
        stray = self._reader.take_pending()
        self.tls_pending = False
        self._reader = ResponseReader(self.limits)
        # Lines sent in the clear behind STLS (an injection) are not commands
        # of the new layer: a conforming server discards them.
        self._queue.clear()
        self._head = None
        self._partial_line = b""
        return stray

    def stray_data(self) -> bytes:
        """Bytes received after the last complete answer."""
        return self._reader.pending()

    @property
    def buffered_input(self) -> bool:
        """Whether bytes were received that no answer has taken yet."""
        return self._reader.has_bytes

    def stray_finding(self, response: Response) -> Finding | None:
        """Bytes already received after ``response``, a whole multi-line answer: a finding.

        RFC 1939 section 3: the next response starts right after the
        terminator.  Only a multi-line response is judged: after a single
        -ERR a server may say goodbye and close (section 4), and pipelined
        raw input legitimately has answers queued behind.
        """
        stray = self.stray_data()
        if not stray or response.kind != "multi" or self.awaiting or self._partial_line:
            return None
        return Finding(
            "stray-data", "RFC1939-3-8", f"bytes after a complete response: {stray[:40]!r}"
        )

    def take_stray(self) -> bytes:
        return self._reader.take_pending()

    @property
    def eof(self) -> bool:
        return self._reader.eof

    @property
    def mid_answer(self) -> bool:
        """Whether part of an answer has been read: reading on would desynchronise."""
        return self._reader.in_progress
