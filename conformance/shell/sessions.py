"""The shell's sessions: named connections, each judged by the model of its mailbox.

Each :class:`ShellSession` is one :class:`~conformance.transport.Session`
(the IO and its deadlines, the connection that owns the state) and the
:class:`~conformance.model.SessionModel` that judges its answers.  Before a
login the model judges states and arguments only; when an answer enters
TRANSACTION, the model follows the mailbox of the account that logged in
(named by USER, APOP or an AUTH PLAIN initial response), or stops judging
content if the shell does not know that mailbox.

:meth:`Sessions.settle` is the one path every answer takes: judged first,
then applied to the model (DELE marks, RSET unmarks, QUIT commits), and a
session that ended (QUIT, a close, a timeout) is let go.
"""

from __future__ import annotations

import base64
import binascii
import string
from dataclasses import dataclass, field

from conformance.model import Maildrop, SessionModel
from conformance.pop3 import GREETING, Answer, Command, State, apop_timestamp
from conformance.probe import ServerProfile
from conformance.runner.checks import QUIT_CLOSE_WITHIN_S
from conformance.shell.judge import Judgement, closed_after_quit, judge
from conformance.shell.mailbox import KNOWN_ACCOUNTS, Mailboxes
from conformance.target import Target
from conformance.tls import TLSError, make_client_context
from conformance.transcript import Transcript
from conformance.transport import Session


class ShellError(Exception):
    """A line the shell cannot carry out: the user's to fix, never the server's fault."""


@dataclass
class ShellSession:
    name: str
    session: Session
    model: SessionModel | None
    account: int | None  # the known account whose mailbox the model follows
    login_name: str | None = None  # the account the last USER, APOP or AUTH PLAIN named
    timestamp: str | None = None  # the greeting's APOP timestamp
    challenge: str | None = None  # the last "+ " line of a SASL exchange

    @property
    def state(self) -> State:
        return self.session.state

    @property
    def in_sasl(self) -> bool:
        return self.state is State.AUTHORIZATION_SASL

    def values(self) -> dict[str, str]:
        """What ``{apop}`` and ``{cram}`` are computed from."""
        known = {"timestamp": self.timestamp, "challenge": self.challenge}
        return {k: v for k, v in known.items() if v is not None}


@dataclass
class Sessions:
    target: Target
    profile: ServerProfile
    mailboxes: Mailboxes
    transcript: Transcript
    by_name: dict[str, ShellSession] = field(default_factory=dict)
    current: str | None = None

    # -- opening and choosing -------------------------------------------------
    def next_name(self) -> str:
        return next(c for c in string.ascii_uppercase if c not in self.by_name)

    def open(self, name: str, where: str) -> tuple[ShellSession, Judgement]:
        """Connect, read the greeting and judge it; raises ConnectError."""
        old = self.by_name.get(name)
        if old is not None:
            self.forget(old)
        # The target's reader bounds too (--max-line, --max-response).
        session = Session.to(self.target, name, self.transcript)
        greeting = session.connect()
        known = 1 if 1 in self.mailboxes.maildrops else None
        # Before a login only states and arguments are judged: an empty maildrop does.
        maildrop = self.mailboxes.maildrops.get(1) or Maildrop([])
        model = maildrop.open_session(self.profile.implements(), session.connection)
        shell_session = ShellSession(name, session, model, known)
        shell_session.timestamp = apop_timestamp(greeting.status_text())
        self.by_name[name] = shell_session
        self.current = name
        answer = Answer(Command("", GREETING), greeting, State.AUTHORIZATION, session.state)
        return shell_session, self.settle(shell_session, answer, where)

    def get(self, name: str | None = None) -> ShellSession:
        """The session named (or the current one); ShellError if there is none."""
        chosen = name or self.current
        if chosen is None:
            raise ShellError("no session is open: ':open' opens one")
        found = self.by_name.get(chosen)
        if found is None:
            known = ", ".join(self.by_name) or "none"
            raise ShellError(f"no open session {chosen} (open: {known})")
        return found

    def use(self, name: str) -> ShellSession:
        found = self.get(name)
        self.current = name
        return found

    # -- sending --------------------------------------------------------------
    def send(self, line: str, where: str) -> Judgement:
        s = self.get()
        return self.settle(s, s.session.exchange(line), where)

    def send_raw(self, data: bytes, where: str) -> list[Judgement]:
        """Send bytes as they are, then read and judge every answer the lines they end owe."""
        s = self.get()
        s.session.send_raw(data)
        judged = []
        connection = s.session.connection
        while s.name in self.by_name and connection.dead is None and connection.awaiting:
            judged.append(self.settle(s, s.session.read_answer(), where))
        return judged

    # -- after every answer -----------------------------------------------------
    def settle(self, s: ShellSession, answer: Answer, where: str) -> Judgement:
        """Judge an answer, apply it to the model, and let go of a session that ended."""
        judgement = judge(answer, s.model, s.session.connection, self.profile, where)
        response = answer.response
        # Inside a SASL exchange a line is a SASL response, whatever its first word.
        keyword = "" if answer.before is State.AUTHORIZATION_SASL else answer.command.keyword
        args = answer.command.args
        if keyword in ("USER", "APOP") and args:
            s.login_name = args[0]
        elif keyword == "AUTH" and len(args) == 2:
            s.login_name = _plain_user(args[1]) or s.login_name
        elif answer.before is State.AUTHORIZATION_SASL:
            s.login_name = _plain_user(answer.command.line) or s.login_name
        if response.kind == "continuation":
            s.challenge = response.text.strip()
        if s.session.connection.stray_finding(response) is not None:
            judgement.notes.append(
                f"session {s.name} is out of step: later answers may belong to earlier "
                "commands (':reset' ends it)"
            )
        if answer.entered_transaction:
            self._follow_mailbox(s, judgement)
        if s.model is not None:
            s.model.apply(answer)
        if response.kind == "timeout":
            # A late answer would be read as the next command's: the session is dead.
            s.session.reset()
            judgement.notes.append(f"session {s.name} reset: no answer before the deadline")
            self.forget(s)
        elif not response.answered or s.session.connection.dead is not None:
            judgement.notes.append(f"session {s.name}: the server closed the connection")
            self.forget(s)
        elif keyword == "QUIT":
            closed = s.session.wait_closed(QUIT_CLOSE_WITHIN_S)
            closed_after_quit(judgement, closed, where)
            judgement.notes.append(f"session {s.name} ended")
            self.forget(s)
        elif keyword == "STLS" and response.ok:
            self._start_tls(s, judgement)
        return judgement

    def _follow_mailbox(self, s: ShellSession, judgement: Judgement) -> None:
        """The login is done: the model follows the mailbox of the account that logged in."""
        index = next(
            (
                i
                for i, a in enumerate(self.target.accounts[:KNOWN_ACCOUNTS], 1)
                if a.user == s.login_name
            ),
            None,
        )
        maildrop = self.mailboxes.maildrops.get(index) if index is not None else None
        if maildrop is None:
            s.model, s.account = None, None
            judgement.notes.append(
                f"the shell does not know the mailbox of {s.login_name or 'this login'}: "
                "answers are judged by their grammar only"
            )
        elif index != s.account:
            s.model = maildrop.open_session(self.profile.implements(), s.session.connection)
            s.account = index

    def _start_tls(self, s: ShellSession, judgement: Judgement) -> None:
        context = make_client_context(self.target.tls_ca, self.target.tls_insecure)
        try:
            s.session.starttls(context, self.target.tls_servername)
        except TLSError as exc:
            judgement.notes.append(f"session {s.name}: TLS handshake failed ({exc}); closed")
            self.forget(s)
            return
        judgement.notes.append(f"session {s.name}: TLS established, {s.session.tls_version}")

    # -- ending ---------------------------------------------------------------
    def end(self, how: str, name: str | None = None) -> str:
        """``close`` (FIN), ``reset`` (RST) or ``half-close``; what happened, in words."""
        s = self.get(name)
        if how == "close":
            s.session.close()
            said = "closed (FIN, no QUIT)"
        elif how == "reset":
            s.session.reset()
            said = "reset (RST)"
        else:
            closed = s.session.half_close()
            said = "half-closed; the server " + (
                "closed its side" if closed else "kept its side open for 5 s"
            )
        self.forget(s)
        return f"session {s.name} {said}: nothing is committed"

    def forget(self, s: ShellSession) -> None:
        s.session.abandon()
        if s.model is not None:
            s.model.drop()  # marks not committed by a QUIT are void
        self.by_name.pop(s.name, None)
        if self.current == s.name:
            self.current = None

    def close_all(self) -> list[str]:
        return [self.end("close", name) for name in list(self.by_name)]


def _plain_user(initial_response: str) -> str | None:
    """The account an AUTH PLAIN initial response names (RFC 4616), if it is one."""
    try:
        parts = base64.b64decode(initial_response, validate=True).split(b"\0")
    except (binascii.Error, ValueError):
        return None
    if len(parts) != 3:
        return None
    return (parts[0] or parts[1]).decode("utf-8", errors="replace")
