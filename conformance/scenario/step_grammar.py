"""The steps of a scenario file: every line after the header's ``---``.

:class:`StepGrammar` turns each line into a step of
:mod:`~conformance.scenario.steps`: ``C:`` and ``raw:`` (with its escapes),
``open``, ``tls``, ``login``, ``use``, ``check``, ``quit``/``close``/``reset``/
``half-close``, ``drop``, ``expect closed``, ``snapshot``, ``unchanged``,
``eventually``, ``sleep``, ``timestamps differ``, ``read``, ``body``/``head``,
``deliver``, and the ``when`` ... ``end`` blocks.  It groups the consecutive ``S:`` lines
after a ``C:``, ``raw:``, ``read`` or ``open`` into one expectation, each
parsed by the expectation grammar it extends, and checks what can be checked
without a server: sessions are opened before use, labels and snapshots are
defined before use, placeholders are known.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final

from conformance.messages import message_named
from conformance.scenario.escapes import decode_escapes
from conformance.scenario.expectations import ExpectationGrammar
from conformance.scenario.steps import (
    Alternative,
    Body,
    Check,
    Condition,
    Deliver,
    Differ,
    End,
    Eventually,
    Expect,
    ExpectClosed,
    Login,
    Open,
    Read,
    Send,
    Sleep,
    Snapshot,
    StartTls,
    Step,
    Unchanged,
    Use,
    When,
    Where,
)

__all__ = ["StepGrammar"]

DEFAULT_CLOSE_WITHIN_S: Final = 5.0

SESSION_RE: Final = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
DURATION_RE: Final = re.compile(r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*(ms|s)")
BODY_MODES: Final = ("has", "lacks", "all")


@dataclass
class _Block:
    """The steps of the file (the outermost block) or of one ``when`` ... ``end``."""

    line: int  # the "when" line (0 for the file itself)
    condition: Condition | None
    steps: list[Step] = field(default_factory=list)
    pending: list[Alternative] = field(default_factory=list)  # S: lines not yet closed
    pending_line: int = 0
    after_send: bool = False  # the last step of this block is a C: or raw:


class StepGrammar(ExpectationGrammar):
    """Parses the lines after the header into steps; an ``S:`` line goes to the base class."""

    def parse_steps(self, first: int) -> list[Step]:
        """The steps from the 0-based line index ``first`` (just after the header) on."""
        stack = [_Block(line=0, condition=None)]
        for index in range(first, len(self.lines)):
            number = index + 1
            line = self.lines[index]
            stripped = line.strip()
            if not stripped or stripped.startswith("#"):
                continue  # ignored: S: alternatives may be separated by comments
            block = stack[-1]
            if stripped.startswith("S:"):
                self.add_alternative(block, line.lstrip()[2:], number)
                continue
            self.flush(block)
            keyword = stripped.split()[0]
            if keyword == "when":
                stack.append(_Block(line=number, condition=self.parse_condition(stripped, number)))
                continue
            if keyword == "end":
                if stripped != "end":
                    raise self.error(number, f"'end' takes nothing after it, got {stripped!r}")
                if len(stack) == 1:
                    raise self.error(number, "'end' without a 'when'")
                stack.pop()
                assert block.condition is not None  # only the file block has none
                parent = stack[-1]
                parent.steps.append(
                    When(self.where(block.line), block.condition, tuple(block.steps))
                )
                parent.after_send = False
                continue
            step = self.parse_step(line, stripped, number)
            block.steps.append(step)
            # An S: after 'open' judges the greeting.
            block.after_send = isinstance(step, Send | Open | Read)
        self.flush(stack[-1])
        if len(stack) > 1:
            raise self.error(stack[-1].line, "'when' without a matching 'end'")
        return stack[0].steps

    def flush(self, block: _Block) -> None:
        if block.pending:
            block.steps.append(Expect(self.where(block.pending_line), tuple(block.pending)))
            block.pending = []
            block.after_send = False

    def add_alternative(self, block: _Block, text: str, number: int) -> None:
        if not block.pending and not block.after_send:
            raise self.error(
                number,
                "'S:' must follow a 'C:', 'raw:', 'read' or 'open' line (or another 'S:' line)",
            )
        if not block.pending:
            block.pending_line = number
        alternative = self.parse_expectation(text, number)
        if alternative.form == "model" and self.mailbox == "none":
            # Without known content there is no model: "model" would pass anything.
            raise self.error(number, "'S: model' needs known content: not with 'mailbox: none'")
        block.pending.append(alternative)

    def parse_step(self, line: str, stripped: str, number: int) -> Step:
        where = self.where(number)
        if stripped.startswith("C:"):
            text = self.after_prefix(line.lstrip(), "C:", number)
            self.check_placeholders(text, number)
            return self.send(where, text=text, data=b"", raw=False)
        if stripped.startswith("raw:"):
            text = self.after_prefix(line.lstrip(), "raw:", number)
            self.check_placeholders(text, number)
            data = self.decode_escapes(text, number)
            if not data:
                raise self.error(number, "'raw:' sends nothing")
            return self.send(where, text=text, data=data, raw=True)

        words = stripped.split()
        keyword, args = words[0], words[1:]
        if keyword == "open":
            if len(args) == 2 and args[1] == "tls":
                return Open(where, self.open_session(args[0], number), tls=True)
            if len(args) != 1:
                raise self.error(number, "expected 'open NAME' or 'open NAME tls'")
            return Open(where, self.open_session(args[0], number))
        if keyword == "tls":
            optional = bool(args) and args[-1] == "optional"
            names = args[:-1] if optional else args
            if len(names) > 1:
                raise self.error(number, "expected 'tls [NAME] [optional]'")
            return StartTls(where, self.optional_session(names, number), optional)
        if keyword == "login":
            return self.parse_login(args, number)
        if keyword == "use":
            return Use(where, self.known_session(self.one_arg(keyword, args, number), number))
        if keyword == "check":
            requirement = self.one_arg(keyword, args, number)
            self.check_requirement(requirement, number)
            return Check(where, requirement)
        if keyword in ("quit", "close", "reset", "half-close"):
            if len(args) > 1:
                raise self.error(number, f"'{keyword}' takes at most a session name")
            return End(where, self.optional_session(args, number), keyword)
        if keyword == "drop":
            return self.parse_drop(args, number)
        if keyword == "expect":
            return self.parse_expect_closed(args, number)
        if keyword == "snapshot":
            return self.parse_snapshot(args, number)
        if keyword == "unchanged":
            return self.parse_unchanged(args, number)
        if keyword == "eventually":
            return self.parse_eventually(stripped, number)
        if keyword == "sleep":
            if args == ["login-delay"]:
                # As long as the server's LOGIN-DELAY says (RFC 2449 section 6.5).
                return Sleep(where, 0.0, login_delay=True)
            return Sleep(where, self.duration(stripped[len("sleep") :], number))
        if keyword == "timestamps":
            if len(args) != 3 or args[0] != "differ":
                raise self.error(number, "expected 'timestamps differ NAME NAME'")
            first = self.known_session(args[1], number)
            second = self.known_session(args[2], number)
            return Differ(where, first, second)
        if keyword == "read":
            if len(args) > 1:
                raise self.error(number, "'read' takes at most a session name")
            return Read(where, self.optional_session(args, number))
        if keyword in ("body", "head"):
            return self.parse_body(keyword, args, stripped, number)
        if keyword == "deliver":
            return self.parse_deliver(args, number)
        raise self.error(number, f"unknown step {keyword!r}")

    def send(self, where: Where, *, text: str, data: bytes, raw: bool) -> Step:
        if self.current is None:
            raise self.error(where.line, "no session is open yet: start with 'open A' or 'login A'")
        return Send(where, None, text, data, raw)

    def after_prefix(self, text: str, prefix: str, number: int) -> str:
        """The verbatim text after ``PREFIX `` (one space); ``PREFIX`` alone means empty."""
        rest = text[len(prefix) :]
        if rest == "":
            return ""
        if not rest.startswith(" "):
            raise self.error(number, f"expected a space after '{prefix}'")
        return rest[1:]

    def one_arg(self, keyword: str, args: list[str], number: int) -> str:
        if len(args) != 1:
            raise self.error(number, f"'{keyword}' takes exactly one argument")
        return args[0]

    # sessions ---------------------------------------------------------------

    def session_name(self, name: str, number: int) -> str:
        if not SESSION_RE.fullmatch(name):
            raise self.error(
                number, f"bad session name {name!r}: a letter, then letters, digits or '_'"
            )
        return name

    def open_session(self, name: str, number: int) -> str:
        self.session_name(name, number)
        self.opened.add(name)
        self.current = name
        return name

    def known_session(self, name: str, number: int) -> str:
        self.session_name(name, number)
        if name not in self.opened:
            raise self.error(
                number, f"session {name!r} is used before any 'open {name}' or 'login {name}'"
            )
        self.current = name
        return name

    def optional_session(self, args: list[str], number: int) -> str | None:
        """An optional leading session name; None means the current session."""
        if args:
            return self.known_session(args[0], number)
        if self.current is None:
            raise self.error(number, "no session is open yet: start with 'open A' or 'login A'")
        return None

    def parse_login(self, args: list[str], number: int) -> Login:
        if len(args) not in (1, 3) or (len(args) == 3 and args[1] != "as"):
            raise self.error(number, "expected 'login NAME' or 'login NAME as N'")
        account = 1
        if len(args) == 3:
            if not args[2].isdigit() or not args[2].isascii() or int(args[2]) < 1:
                raise self.error(number, f"bad account number {args[2]!r}: expected 1 or 2")
            account = int(args[2])
        if account > self.accounts:
            if self.accounts == 0:
                raise self.error(
                    number, "'login' needs an account, and the header says 'accounts: 0'"
                )
            raise self.error(
                number,
                f"login as account {account}, but the scenario leases"
                f" {self.accounts} (set 'accounts: {account}' in the header)",
            )
        return Login(self.where(number), self.open_session(args[0], number), account)

    def parse_drop(self, args: list[str], number: int) -> End:
        session_args = args[:1] if args and not args[0].startswith("mid-") else []
        rest = args[len(session_args) :]
        session = self.optional_session(session_args, number)
        if rest == ["mid-command"]:
            return End(self.where(number), session, "mid-command")
        if len(rest) == 2 and rest[0] == "mid-retr":
            if not rest[1].isascii() or not rest[1].isdigit() or int(rest[1]) < 1:
                raise self.error(number, f"bad message number {rest[1]!r} for 'mid-retr'")
            return End(self.where(number), session, "mid-retr", int(rest[1]))
        raise self.error(number, "expected 'drop [NAME] mid-command' or 'drop [NAME] mid-retr N'")

    def parse_expect_closed(self, args: list[str], number: int) -> ExpectClosed:
        if not args or args[0] != "closed":
            raise self.error(number, "expected 'expect closed [NAME] [within N s]'")
        rest = args[1:]
        session_args = rest[:1] if rest and rest[0] != "within" else []
        rest = rest[len(session_args) :]
        session = self.optional_session(session_args, number)
        within = DEFAULT_CLOSE_WITHIN_S
        if rest:
            if rest[0] != "within" or len(rest) == 1:
                raise self.error(number, "expected 'expect closed [NAME] [within N s]'")
            within = self.duration(" ".join(rest[1:]), number)
        return ExpectClosed(self.where(number), session, within)

    def parse_snapshot(self, args: list[str], number: int) -> Snapshot:
        session, name = self.session_word_snapshot(args, "snapshot", "as", number)
        name = self.plain_name(name, number, "snapshot name")
        self.snapshots.add(name)
        return Snapshot(self.where(number), session, name)

    def parse_unchanged(self, args: list[str], number: int) -> Unchanged:
        session, name = self.session_word_snapshot(args, "unchanged", "since", number)
        if name not in self.snapshots:
            raise self.error(number, f"no earlier 'snapshot ... as {name}'")
        return Unchanged(self.where(number), session, name)

    def session_word_snapshot(
        self, args: list[str], keyword: str, word: str, number: int
    ) -> tuple[str | None, str]:
        """The ``[NAME] WORD SNAPSHOT`` after ``snapshot`` and ``unchanged``: session, snapshot."""
        session_args = args[:-2]
        if len(session_args) > 1 or len(args) < 2 or args[-2] != word:
            raise self.error(number, f"expected '{keyword} [NAME] {word} SNAPSHOT'")
        return self.optional_session(session_args, number), args[-1]

    def parse_body(self, keyword: str, args: list[str], stripped: str, number: int) -> Body:
        if not args or args[0] not in BODY_MODES:
            raise self.error(
                number, "expected 'body has /REGEX/', 'body lacks /REGEX/' or 'body all /REGEX/'"
            )
        text = stripped[len(keyword) :].strip()[len(args[0]) :].strip()
        if len(text) < 2 or not text.startswith("/") or not text.endswith("/"):
            raise self.error(number, f"'body {args[0]}' takes one /REGEX/ and nothing after it")
        pattern = text[1:-1]
        try:
            re.compile(pattern)
        except re.error as error:
            raise self.error(number, f"bad regex /{pattern}/: {error}") from None
        return Body(self.where(number), args[0], pattern, header_only=keyword == "head")

    def parse_deliver(self, args: list[str], number: int) -> Deliver:
        if len(args) not in (1, 2):
            raise self.error(number, "expected 'deliver [NAME] MESSAGE' (a corpus message's name)")
        session = self.optional_session(args[:-1], number)
        try:
            message_named(args[-1])
        except KeyError:
            raise self.error(
                number, f"no corpus message named {args[-1]!r} (e.g. m01-plain, s01-small)"
            ) from None
        return Deliver(self.where(number), session, args[-1])

    def parse_eventually(self, stripped: str, number: int) -> Eventually:
        head, colon, tail = stripped[len("eventually") :].partition(":")
        if not colon:
            raise self.error(number, "expected 'eventually N s: login NAME'")
        within = self.duration(head, number)
        words = tail.split()
        if not words or words[0] != "login":
            raise self.error(
                number, "'eventually' can only retry a login: 'eventually N s: login NAME'"
            )
        return Eventually(self.where(number), within, self.parse_login(words[1:], number))

    def duration(self, text: str, number: int) -> float:
        match = DURATION_RE.fullmatch(text.strip())
        if match is None:
            raise self.error(
                number, f"bad duration {text.strip()!r}: expected 'N s', 'Ns', 'N ms' or 'Nms'"
            )
        value = float(match.group(1)) / (1000.0 if match.group(2) == "ms" else 1.0)
        if value <= 0:
            raise self.error(number, f"bad duration {text.strip()!r}: must be more than zero")
        return value

    # conditions --------------------------------------------------------------

    def parse_condition(self, stripped: str, number: int) -> Condition:
        words = stripped.split()[1:]
        negate = bool(words) and words[0] == "not"
        if negate:
            words = words[1:]
        if len(words) == 2 and words[0] == "capa":
            return Condition("capa", self.capa_name(words[1], number), negate)
        if len(words) == 1 and words[0] != "capa":
            label = words[0]
            if label not in self.labels:
                raise self.error(
                    number, f"'when {label}': no earlier expectation sets it with 'as {label}'"
                )
            return Condition("label", label, negate)
        raise self.error(number, "expected 'when [not] LABEL' or 'when [not] capa NAME'")

    # text helpers ------------------------------------------------------------

    def decode_escapes(self, text: str, number: int) -> bytes:
        try:
            return decode_escapes(text)
        except ValueError as exc:
            raise self.error(number, str(exc)) from None
