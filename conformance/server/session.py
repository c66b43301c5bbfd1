"""One POP3 conversation, without sockets.

:class:`Session` takes command lines (terminator removed) and returns the
bytes to send back, plus whether to close afterwards.  What a command does in
each state is the table :data:`HANDLERS` (``HANDLERS[phase][keyword]``): a
command missing from the current phase's table is answered ``-ERR``, as
RFC 1939 section 3 requires for unknown and wrong-state commands alike.  The
handlers are functions of the session, one module per concern:
:mod:`~conformance.server.auth_handlers` (AUTHORIZATION: USER, PASS, APOP,
AUTH, STLS), :mod:`~conformance.server.transaction_handlers` (TRANSACTION and
UPDATE) and :mod:`~conformance.server.extension_handlers` (CAPA, UTF8, LANG).
What an injected defect (:mod:`~conformance.server.defects`) does to the
dispatch itself is at the end of this module.

This module deliberately shares no code with the harness (``conformance.pop3``
and friends): the harness judges this server, so a bug they had in common
would go unseen.
"""

from __future__ import annotations

import hmac
import itertools
import os
import re
import socket
import time
from collections.abc import Callable
from typing import Final, Protocol

from conformance.server import auth_handlers as auth
from conformance.server import behaviours as b
from conformance.server import defects as d
from conformance.server import extension_handlers as extension
from conformance.server import sasl
from conformance.server import transaction_handlers as transaction
from conformance.server.config import IMPLEMENTATION, ServerConfig
from conformance.server.maildrop import Maildrop
from conformance.server.vocabulary import (
    CRLF,
    MAX_STATUS,
    Command,
    Phase,
    Reply,
    err,
    log,
    multiline,
    ok,
)

# A response code right after -ERR (removed by the "no-resp-codes" behaviour).
_RESP_CODE: Final = re.compile(rb"^-ERR \[[^\]]*\] ?")

__all__ = [
    "CRLF",
    "HANDLERS",
    "MAX_COMMAND",
    "MAX_SASL_RESPONSE",
    "MAX_STATUS",
    "SECRET_COMMANDS",
    "Command",
    "Handler",
    "Locks",
    "Phase",
    "Reply",
    "SaslStep",
    "Session",
    "dispatch_keywords",
    "err",
    "make_timestamp",
    "multiline",
    "ok",
]

MAX_COMMAND: Final = 255  # RFC 2449 section 4, CRLF included
# RFC 5034 section 4: SASL responses are not bound by the command limit.
MAX_SASL_RESPONSE: Final = 16384
# Commands whose arguments are secrets: logged by keyword only.
SECRET_COMMANDS: Final = frozenset({"PASS", "APOP", "AUTH"})
_HOSTNAME: Final = re.compile(r"[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*")
_greetings = itertools.count(1)


class Locks(Protocol):
    """Exclusive maildrop locks shared by all sessions of a server."""

    def acquire(self, key: str) -> bool: ...

    def release(self, key: str) -> None: ...

    def release_after(self, key: str, seconds: float) -> None: ...

    def seconds_since_login(self, key: str) -> float | None: ...

    def note_login(self, key: str) -> None: ...

    def take(self, key: str) -> None:
        """Hold ``key`` without checking it (the "lock-check-then-set" defect)."""
        ...

    def __contains__(self, key: object) -> bool: ...


Handler = Callable[["Session", Command], Reply]
SaslStep = Callable[[bytes], sasl.Outcome]


def make_timestamp() -> str:
    """An APOP timestamp in msg-id syntax, different for every greeting (RFC 1939 section 7)."""
    host = socket.gethostname()
    if not _HOSTNAME.fullmatch(host):
        host = "localhost"
    return f"<{os.getpid()}.{next(_greetings)}.{time.time_ns()}@{host}>"


class Session:
    """The state of one connection: phase, pending USER, the locked maildrop and its marks."""

    def __init__(
        self,
        config: ServerConfig,
        locks: Locks,
        timestamp: str | None = None,
        *,
        secure: bool = False,
    ) -> None:
        self.config = config
        self.locks = locks
        self.timestamp = timestamp or make_timestamp()
        self.secure = secure  # TLS is active (implicit TLS, or after STLS)
        self.utf8 = False  # RFC 6856 UTF-8 mode
        self.language = extension.DEFAULT_LANGUAGE
        self.phase = Phase.AUTHORIZATION
        self.user: str | None = None
        self.maildrop: Maildrop | None = None
        self.deleted: set[int] = set()  # 0-based indices marked by DELE
        self.retrieved: set[int] = set()  # 0-based indices RETR has sent
        self.lock_key: str | None = None  # the maildrop lock held in TRANSACTION
        # "lock-check-then-set": the lock checked free at login, to be set later.
        self.pending_lock: str | None = None
        self.sasl_step: SaslStep | None = None  # what takes the next SASL response

    def defect(self, name: str) -> bool:
        """Whether fault ``name`` (see :mod:`conformance.server.defects`) is injected."""
        return name in self.config.defects

    def behaves(self, name: str) -> bool:
        """Whether permitted behaviour ``name`` (:mod:`conformance.server.behaviours`) is on."""
        return name in self.config.behaviours

    # -- driving ---------------------------------------------------------

    def greeting(self) -> bytes:
        return ok(f"{self.timestamp} {IMPLEMENTATION} ready")

    @property
    def line_limit(self) -> int:
        """The longest line (terminator included) the current phase accepts."""
        return MAX_SASL_RESPONSE if self.phase is Phase.SASL else MAX_COMMAND

    def receive_line(self, line: bytes) -> Reply:
        """Answer one line (without its CRLF or LF)."""
        if (self.defect("crash-on-long-line") and len(line) > d.CRASH_LINE_OCTETS) or (
            self.defect("crash-on-nul") and b"\0" in line
        ):
            return Reply(b"", close=True)  # as if the process serving it had died
        authorization = self.phase in (Phase.AUTHORIZATION, Phase.AUTHORIZATION_USER, Phase.SASL)
        try:
            reply = self._dispatch(line)
        except Exception:
            # A bug must cost one answer, not the server or the connection.
            log.exception("internal error while handling a command")
            return Reply(err("[SYS/TEMP] internal server error"))
        if self.behaves("no-resp-codes") and reply.data.startswith(b"-ERR ["):
            reply = Reply(
                _RESP_CODE.sub(b"-ERR ", reply.data, count=1), reply.close, reply.starttls
            )
        if (
            self.behaves("close-after-auth-err")
            and authorization
            and reply.data.startswith(b"-ERR")
        ):
            return Reply(reply.data, close=True)
        return reply

    def tls_started(self) -> None:
        """The TLS handshake after STLS completed.

        RFC 2595 section 4: "the server remains in AUTHORIZATION state".  What
        the client said before TLS came from an unprotected channel and is
        forgotten (a pending USER already is: PASS must follow it immediately).
        """
        self.secure = True
        self._leave_user()
        self.language = extension.DEFAULT_LANGUAGE

    def line_too_long(self) -> Reply:
        self._leave_user()
        if self.phase is Phase.SASL:
            self.phase = Phase.AUTHORIZATION
            self.sasl_step = None
        return Reply(err("line too long"))

    def end(self) -> None:
        """The connection ended without QUIT: release the lock, remove nothing."""
        dropped = self.phase is Phase.TRANSACTION
        self.phase = Phase.CLOSED
        if dropped and self.defect("drop-applies-deletions"):
            self.drop.remove(self.deleted)
        if dropped and self.lock_key is not None:
            if self.defect("lock-kept-after-drop"):
                self.lock_key = None  # forgotten, never released
            elif self.defect("lock-released-late"):
                self.locks.release_after(self.lock_key, d.LATE_RELEASE_S)
                self.lock_key = None
            elif self.behaves("lock-released-later"):
                self.locks.release_after(self.lock_key, b.LATER_RELEASE_S)
                self.lock_key = None
        self.release_lock()

    def _dispatch(self, line: bytes) -> Reply:
        if self.phase is Phase.SASL:
            return auth.sasl_response(self, line)
        phase = self.phase
        if b"\0" in line:
            self._leave_user()
            return Reply(err("NUL octet in command"))
        text = line.decode("utf-8", "surrogateescape")
        keyword, space, rest = text.partition(" ")
        if not self.defect("case-sensitive-keywords"):
            keyword = keyword.upper() if keyword.isascii() else ""
        args = tuple(rest.split(" ")) if space else ()
        command = Command(keyword, args, rest)
        log.debug("C: %r", _loggable(command))
        if keyword != "PASS":
            self._leave_user()  # RFC 1939 section 7: PASS only *immediately* after USER
        handler = HANDLERS[phase].get(keyword) or _defective_handler(self, phase, keyword)
        if handler is not None and self.behaves("no-top-uidl") and keyword in ("TOP", "UIDL"):
            return Reply(err("not implemented"))
        if handler is None:
            known = any(keyword in table for table in HANDLERS.values())
            if known:
                return Reply(err("command not valid in this state"))
            if self.defect("long-status"):
                return Reply(b"-ERR unknown command ".ljust(d.LONG_STATUS - 2, b"x") + CRLF)
            return Reply(err("unknown command"))
        if keyword != "PASS" and "" in args:
            return Reply(err("syntax error: arguments are separated by one space"))
        return handler(self, command)

    def _leave_user(self) -> None:
        if self.phase is Phase.AUTHORIZATION_USER:
            self.phase = Phase.AUTHORIZATION
            self.user = None

    # -- credentials: what the SASL mechanisms may ask (sasl.Credentials) --

    def secret(self, user: str) -> str | None:
        """The account's password (for challenge-response mechanisms), None if unknown."""
        return self.config.accounts.get(user)

    def password_ok(self, user: str, password: str) -> bool:
        expected = self.config.accounts.get(user)
        if expected is None:
            # Compare anyway, so that unknown users cost the same time.
            hmac.compare_digest(password.encode("utf-8", "surrogateescape"), b"")
            return False
        return hmac.compare_digest(
            password.encode("utf-8", "surrogateescape"), expected.encode("utf-8")
        )

    # -- the locked maildrop (TRANSACTION) --------------------------------

    @property
    def drop(self) -> Maildrop:
        """The locked maildrop (TRANSACTION only)."""
        if self.maildrop is None:  # pragma: no cover - TRANSACTION always has one
            raise RuntimeError("no maildrop outside TRANSACTION")
        return self.maildrop

    def take_pending_lock(self) -> None:
        """Set the lock that the "lock-check-then-set" defect only checked at login."""
        if self.pending_lock is not None:
            self.locks.take(self.pending_lock)
            self.pending_lock = None

    def release_lock(self) -> None:
        """Release the maildrop lock, if one is held."""
        if self.lock_key is not None:
            self.locks.release(self.lock_key)
            self.lock_key = None


def _loggable(command: Command) -> str:
    if command.keyword in SECRET_COMMANDS and command.args:
        return f"{command.keyword} <redacted>"
    return " ".join((command.keyword, *command.args))


_AUTHORIZATION: Final[dict[str, Handler]] = {
    "USER": auth.user_cmd,
    "APOP": auth.apop_cmd,
    "AUTH": auth.auth_cmd,
    "CAPA": extension.capa_cmd,
    "STLS": auth.stls_cmd,
    "UTF8": extension.utf8_cmd,
    "LANG": extension.lang_cmd,
    "QUIT": auth.quit_cmd,
}

HANDLERS: Final[dict[Phase, dict[str, Handler]]] = {
    Phase.AUTHORIZATION: _AUTHORIZATION,
    Phase.AUTHORIZATION_USER: {**_AUTHORIZATION, "PASS": auth.pass_cmd},
    Phase.SASL: {},  # lines are SASL responses, handled before the table
    Phase.TRANSACTION: {
        "STAT": transaction.stat_cmd,
        "LIST": transaction.list_cmd,
        "RETR": transaction.retr_cmd,
        "DELE": transaction.dele_cmd,
        "NOOP": transaction.noop_cmd,
        "RSET": transaction.rset_cmd,
        "TOP": transaction.top_cmd,
        "UIDL": transaction.uidl_cmd,
        "CAPA": extension.capa_cmd,
        "LANG": extension.lang_cmd,
        "QUIT": transaction.quit_cmd,
    },
    Phase.CLOSED: {},
}


def dispatch_keywords() -> dict[str, frozenset[str]]:
    """The keywords :data:`HANDLERS` answers in each phase a client can send in, by phase name.

    The clean server's table: what injected defects add is not in it.  CLOSED
    is left out (nothing is read after QUIT); SASL is empty, its lines being
    SASL responses rather than commands.
    """
    return {phase.value: frozenset(HANDLERS[phase]) for phase in Phase if phase is not Phase.CLOSED}


def _positive(session: Session, command: Command) -> Reply:
    return Reply(ok(""))


def _pass_alone(session: Session, command: Command) -> Reply:
    """PASS with no USER before it: log in to whichever account has this password."""
    for user in session.config.accounts:
        if session.password_ok(user, command.rest):
            return auth.open_maildrop(session, user)
    return auth.auth_failed(session)


def _defective_handler(session: Session, phase: Phase, keyword: str) -> Handler | None:
    """What an injected defect does with a command the clean server refuses in ``phase``."""
    authorization = phase in (Phase.AUTHORIZATION, Phase.AUTHORIZATION_USER)
    wrong_state = {
        "noop-before-login": authorization and keyword == "NOOP",
        "user-after-login": phase is Phase.TRANSACTION and keyword == "USER",
        "pass-after-login": phase is Phase.TRANSACTION and keyword == "PASS",
        "unknown-command-ok": not any(keyword in table for table in HANDLERS.values()),
    }
    if any(hit and session.defect(name) for name, hit in wrong_state.items()):
        return _positive
    if phase is Phase.TRANSACTION:
        if keyword == "STLS" and session.defect("stls-in-transaction"):
            return auth.stls_cmd
        if keyword == "UTF8" and session.defect("utf8-in-transaction"):
            return extension.utf8_cmd
    if session.defect("pass-without-user") and phase is Phase.AUTHORIZATION and keyword == "PASS":
        return _pass_alone
    return None
