"""One POP3 conversation, without sockets.

:class:`Session` takes command lines (terminator removed) and returns the
bytes to send back, plus whether to close afterwards.  What a command does in
each state is the table :data:`HANDLERS` (``HANDLERS[phase][keyword]``): a
command missing from the current phase's table is answered ``-ERR``, as
RFC 1939 section 3 requires for unknown and wrong-state commands alike.

This module deliberately shares no code with the harness (``conformance.codec``
and friends): the harness judges this server, so a bug they had in common
would go unseen.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
import itertools
import logging
import os
import re
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Protocol

from conformance.server.config import IMPLEMENTATION, ServerConfig
from conformance.server.maildrop import Maildrop, stuff, top

log = logging.getLogger(__name__)

CRLF: Final = b"\r\n"
MAX_COMMAND: Final = 255  # RFC 2449 section 4, CRLF included
# RFC 5034 section 4: SASL responses are not bound by the command limit.
MAX_SASL_RESPONSE: Final = 16384
MAX_STATUS: Final = 512  # RFC 1939 section 3, CRLF included
CAPABILITIES: Final = (
    "TOP",
    "UIDL",
    "USER",
    "RESP-CODES",
    "PIPELINING",
    "SASL PLAIN",
    "AUTH-RESP-CODE",
    f"IMPLEMENTATION {IMPLEMENTATION}",
)
# Commands whose arguments are secrets: logged by keyword only.
SECRET_COMMANDS: Final = frozenset({"PASS", "APOP", "AUTH"})
_DIGITS: Final = re.compile(r"[0-9]+")
_HOSTNAME: Final = re.compile(r"[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*")
_greetings = itertools.count(1)


class Phase(enum.Enum):
    AUTHORIZATION = "AUTHORIZATION"
    # Right after a successful USER: the only state that accepts PASS.
    AUTHORIZATION_USER = "AUTHORIZATION_USER"
    # After "+ " to AUTH: the next line is a SASL response, not a command.
    SASL = "SASL"
    TRANSACTION = "TRANSACTION"
    CLOSED = "CLOSED"


@dataclass(frozen=True)
class Reply:
    data: bytes
    close: bool = False


@dataclass(frozen=True)
class Command:
    keyword: str  # upper-case
    args: tuple[str, ...]
    rest: str  # everything after the keyword's space: PASS may hold spaces


class Locks(Protocol):
    """Exclusive maildrop locks shared by all sessions of a server."""

    def acquire(self, key: str) -> bool: ...

    def release(self, key: str) -> None: ...


Handler = Callable[["Session", Command], Reply]
SaslStep = Callable[["Session", bytes], Reply]


def make_timestamp() -> str:
    """An APOP timestamp in msg-id syntax, different for every greeting (RFC 1939 section 7)."""
    host = socket.gethostname()
    if not _HOSTNAME.fullmatch(host):
        host = "localhost"
    return f"<{os.getpid()}.{next(_greetings)}.{time.time_ns()}@{host}>"


def ok(text: str) -> bytes:
    return _status("+OK", text)


def err(text: str) -> bytes:
    return _status("-ERR", text)


def _status(indicator: str, text: str) -> bytes:
    line = (f"{indicator} {text}" if text else indicator).encode("utf-8", "surrogateescape")
    return line[: MAX_STATUS - len(CRLF)] + CRLF


def multiline(status: str, body: bytes) -> bytes:
    """A positive multi-line answer; ``body`` is normalised (CRLF-ended) and not yet stuffed."""
    return ok(status) + stuff(body) + b".\r\n"


class Session:
    """The state of one connection: phase, pending USER, the locked maildrop and its marks."""

    def __init__(self, config: ServerConfig, locks: Locks, timestamp: str | None = None) -> None:
        self.config = config
        self.locks = locks
        self.timestamp = timestamp or make_timestamp()
        self.phase = Phase.AUTHORIZATION
        self.user: str | None = None
        self.maildrop: Maildrop | None = None
        self.deleted: set[int] = set()  # 0-based indices marked by DELE
        self._lock_key: str | None = None
        self._sasl_step: SaslStep | None = None

    # -- driving ---------------------------------------------------------

    def greeting(self) -> bytes:
        return ok(f"{self.timestamp} {IMPLEMENTATION} ready")

    @property
    def line_limit(self) -> int:
        """The longest line (terminator included) the current phase accepts."""
        return MAX_SASL_RESPONSE if self.phase is Phase.SASL else MAX_COMMAND

    def receive_line(self, line: bytes) -> Reply:
        """Answer one line (without its CRLF or LF)."""
        try:
            return self._dispatch(line)
        except Exception:
            # A bug must cost one answer, not the server or the connection.
            log.exception("internal error while handling a command")
            return Reply(err("[SYS/TEMP] internal server error"))

    def line_too_long(self) -> Reply:
        self._leave_user()
        if self.phase is Phase.SASL:
            self.phase = Phase.AUTHORIZATION
            self._sasl_step = None
        return Reply(err("line too long"))

    def end(self) -> None:
        """The connection ended without QUIT: release the lock, remove nothing."""
        self.phase = Phase.CLOSED
        self._release()

    def _dispatch(self, line: bytes) -> Reply:
        if self.phase is Phase.SASL:
            step, self._sasl_step = self._sasl_step, None
            self.phase = Phase.AUTHORIZATION
            log.debug("C: <SASL response>")
            if step is None:  # pragma: no cover - SASL phase always has a step
                raise RuntimeError("SASL phase without a step")
            if line == b"*":
                return Reply(err("authentication cancelled"))
            decoded = _b64decode(line)
            if decoded is None:
                return Reply(err("invalid base64"))
            return step(self, decoded)
        phase = self.phase
        if b"\0" in line:
            self._leave_user()
            return Reply(err("NUL octet in command"))
        text = line.decode("utf-8", "surrogateescape")
        keyword, space, rest = text.partition(" ")
        keyword = keyword.upper() if keyword.isascii() else ""
        args = tuple(rest.split(" ")) if space else ()
        command = Command(keyword, args, rest)
        log.debug("C: %r", _loggable(command))
        if keyword != "PASS":
            self._leave_user()  # RFC 1939 section 7: PASS only *immediately* after USER
        handler = HANDLERS[phase].get(keyword)
        if handler is None:
            known = any(keyword in table for table in HANDLERS.values())
            return Reply(err("command not valid in this state" if known else "unknown command"))
        if keyword != "PASS" and "" in args:
            return Reply(err("syntax error: arguments are separated by one space"))
        return handler(self, command)

    def _leave_user(self) -> None:
        if self.phase is Phase.AUTHORIZATION_USER:
            self.phase = Phase.AUTHORIZATION
            self.user = None

    # -- authorization ---------------------------------------------------

    def _password_ok(self, user: str, password: str) -> bool:
        expected = self.config.accounts.get(user)
        if expected is None:
            # Compare anyway, so that unknown users cost the same time.
            hmac.compare_digest(password.encode("utf-8", "surrogateescape"), b"")
            return False
        return hmac.compare_digest(
            password.encode("utf-8", "surrogateescape"), expected.encode("utf-8")
        )

    def _open_maildrop(self, user: str) -> Reply:
        """Credentials are good: lock the maildrop and enter TRANSACTION."""
        directory = self.config.maildir_for(user)
        key = os.path.abspath(directory)
        if not self.locks.acquire(key):
            # Authentication worked, so no [AUTH] (RFC 2449 section 8.1.2).
            return Reply(err("[IN-USE] maildrop already locked"))
        try:
            maildrop = Maildrop.load(directory)
        except OSError:
            # RFC 1939 section 4: release the lock before refusing.
            self.locks.release(key)
            log.exception("cannot open maildrop of %s", user)
            return Reply(err("[SYS/TEMP] cannot open maildrop"))
        self._lock_key = key
        self.user = user
        self.maildrop = maildrop
        self.deleted = set()
        self.phase = Phase.TRANSACTION
        log.info("%s logged in, %d messages", user, len(maildrop))
        size = sum(message.size for message in maildrop)
        return Reply(ok(f"maildrop locked and ready, {len(maildrop)} messages ({size} octets)"))

    def _auth_failed(self) -> Reply:
        self.phase = Phase.AUTHORIZATION
        self.user = None
        return Reply(err("[AUTH] invalid user name or password"))

    def _user_cmd(self, command: Command) -> Reply:
        if len(command.args) != 1:
            return Reply(err("USER takes one argument"))
        # Any name gets +OK: a -ERR here would tell which names exist (RFC 1939 section 13).
        self.user = command.args[0]
        self.phase = Phase.AUTHORIZATION_USER
        return Reply(ok("send PASS"))

    def _pass_cmd(self, command: Command) -> Reply:
        user = self.user
        self.phase = Phase.AUTHORIZATION
        self.user = None
        if user is None:  # pragma: no cover - the table only routes PASS after USER
            raise RuntimeError("PASS without a pending USER")
        if not command.rest:
            return Reply(err("PASS takes one argument"))
        if not self._password_ok(user, command.rest):
            return self._auth_failed()
        return self._open_maildrop(user)

    def _apop_cmd(self, command: Command) -> Reply:
        if len(command.args) != 2:
            return Reply(err("APOP takes a name and a digest"))
        user, digest = command.args
        secret = self.config.accounts.get(user)
        expected = hashlib.md5(
            (self.timestamp + (secret or "")).encode("utf-8"), usedforsecurity=False
        ).hexdigest()
        # The RFC asks clients for lower-case hex; accepting upper case costs nothing.
        if not hmac.compare_digest(digest.lower().encode("ascii", "replace"), expected.encode()):
            return self._auth_failed()
        if secret is None:
            return self._auth_failed()
        return self._open_maildrop(user)

    def _auth_cmd(self, command: Command) -> Reply:
        if not command.args:
            # RFC 1734 style: list the mechanisms.
            body = b"".join(name.encode() + CRLF for name in MECHANISMS)
            return Reply(multiline("SASL mechanisms follow", body))
        if len(command.args) > 2:
            return Reply(err("AUTH takes a mechanism and an optional initial response"))
        step = MECHANISMS.get(command.args[0].upper())
        if step is None:
            return Reply(err("unsupported SASL mechanism"))
        if len(command.args) == 1:
            self.phase = Phase.SASL
            self._sasl_step = step
            return Reply(b"+ \r\n")  # RFC 5034 section 4: empty challenge, nothing else
        initial = command.args[1]
        # RFC 5034 section 4: "=" is a present but empty initial response.
        decoded = b"" if initial == "=" else _b64decode(initial.encode("ascii", "replace"))
        if decoded is None:
            return Reply(err("invalid base64"))
        return step(self, decoded)

    def _plain(self, response: bytes) -> Reply:
        """SASL PLAIN (RFC 4616): authzid NUL authcid NUL password."""
        parts = response.split(b"\0")
        if len(parts) != 3:
            return Reply(err("malformed PLAIN response"))
        authzid, authcid, password = (p.decode("utf-8", "surrogateescape") for p in parts)
        if not self._password_ok(authcid, password):
            return self._auth_failed()
        if authzid and authzid != authcid:
            return Reply(err("[AUTH] not authorized to act as another user"))
        return self._open_maildrop(authcid)

    def _capa_cmd(self, command: Command) -> Reply:
        if command.args:
            return Reply(err("CAPA takes no argument"))
        body = b"".join(c.encode() + CRLF for c in CAPABILITIES)
        return Reply(multiline("capability list follows", body))

    def _quit_authorization(self, command: Command) -> Reply:
        if command.args:
            return Reply(err("QUIT takes no argument"))
        self.phase = Phase.CLOSED
        return Reply(ok(f"{IMPLEMENTATION} signing off"), close=True)

    # -- transaction -----------------------------------------------------

    @property
    def _drop(self) -> Maildrop:
        if self.maildrop is None:  # pragma: no cover - TRANSACTION always has one
            raise RuntimeError("no maildrop outside TRANSACTION")
        return self.maildrop

    def _message(self, argument: str) -> int | Reply:
        """The 0-based index a message-number argument names, or the -ERR to send."""
        if not _DIGITS.fullmatch(argument):
            return Reply(err("invalid message number"))
        digits = argument.lstrip("0")
        # Bounded before int(): a message count never has 19 digits.
        number = int(digits) if 0 < len(digits) < 19 else 0
        if not 1 <= number <= len(self._drop):
            return Reply(err("no such message"))
        if number - 1 in self.deleted:
            return Reply(err(f"message {number} already deleted"))
        return number - 1

    def _live(self) -> list[int]:
        return [i for i in range(len(self._drop)) if i not in self.deleted]

    def _stat_cmd(self, command: Command) -> Reply:
        if command.args:
            return Reply(err("STAT takes no argument"))
        live = self._live()
        size = sum(self._drop[i].size for i in live)
        return Reply(ok(f"{len(live)} {size}"))

    def _list_cmd(self, command: Command) -> Reply:
        if len(command.args) > 1:
            return Reply(err("LIST takes at most one argument"))
        if command.args:
            index = self._message(command.args[0])
            if isinstance(index, Reply):
                return index
            return Reply(ok(f"{index + 1} {self._drop[index].size}"))
        live = self._live()
        size = sum(self._drop[i].size for i in live)
        body = "".join(f"{i + 1} {self._drop[i].size}\r\n" for i in live).encode()
        return Reply(multiline(f"{len(live)} messages ({size} octets)", body))

    def _uidl_cmd(self, command: Command) -> Reply:
        if len(command.args) > 1:
            return Reply(err("UIDL takes at most one argument"))
        if command.args:
            index = self._message(command.args[0])
            if isinstance(index, Reply):
                return index
            return Reply(ok(f"{index + 1} {self._drop[index].uid}"))
        body = "".join(f"{i + 1} {self._drop[i].uid}\r\n" for i in self._live()).encode()
        return Reply(multiline("unique-id listing follows", body))

    def _read(self, index: int) -> bytes | Reply:
        try:
            return self._drop.read(index)
        except OSError:
            log.exception("cannot read message %d", index + 1)
            return Reply(err("[SYS/TEMP] cannot read message"))

    def _retr_cmd(self, command: Command) -> Reply:
        if len(command.args) != 1:
            return Reply(err("RETR takes one argument"))
        index = self._message(command.args[0])
        if isinstance(index, Reply):
            return index
        data = self._read(index)
        if isinstance(data, Reply):
            return data
        return Reply(multiline(f"{len(data)} octets", data))

    def _top_cmd(self, command: Command) -> Reply:
        if len(command.args) != 2:
            return Reply(err("TOP takes a message number and a line count"))
        index = self._message(command.args[0])
        if isinstance(index, Reply):
            return index
        if not _DIGITS.fullmatch(command.args[1]):
            return Reply(err("invalid line count"))
        digits = command.args[1].lstrip("0")
        # More lines than any message has is the same as "all of them".
        lines = int(digits or "0") if len(digits) < 19 else 1 << 62
        data = self._read(index)
        if isinstance(data, Reply):
            return data
        return Reply(multiline("top of message follows", top(data, lines)))

    def _dele_cmd(self, command: Command) -> Reply:
        if len(command.args) != 1:
            return Reply(err("DELE takes one argument"))
        index = self._message(command.args[0])
        if isinstance(index, Reply):
            return index
        self.deleted.add(index)
        return Reply(ok(f"message {index + 1} deleted"))

    def _noop_cmd(self, command: Command) -> Reply:
        if command.args:
            return Reply(err("NOOP takes no argument"))
        return Reply(ok(""))

    def _rset_cmd(self, command: Command) -> Reply:
        if command.args:
            return Reply(err("RSET takes no argument"))
        self.deleted = set()
        live = len(self._drop)
        return Reply(ok(f"maildrop has {live} messages"))

    def _quit_transaction(self, command: Command) -> Reply:
        """Enter UPDATE: remove exactly the marked messages, release the lock, close."""
        if command.args:
            return Reply(err("QUIT takes no argument"))
        failed = self._drop.remove(self.deleted)
        removed = len(self.deleted) - len(failed)
        left = len(self._drop) - removed
        # Released before the +OK leaves, so a client that logs in again right
        # after reading it never meets its own stale lock.
        self.end()
        log.info("%s: UPDATE removed %d messages, %d failed", self.user, removed, len(failed))
        if failed:
            return Reply(err("[SYS/TEMP] some deleted messages not removed"), close=True)
        return Reply(ok(f"{IMPLEMENTATION} signing off ({left} messages left)"), close=True)

    def _release(self) -> None:
        if self._lock_key is not None:
            self.locks.release(self._lock_key)
            self._lock_key = None


def _b64decode(data: bytes) -> bytes | None:
    """Strict base64 (RFC 5034 section 4): any character outside the alphabet is an error."""
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return None


def _loggable(command: Command) -> str:
    if command.keyword in SECRET_COMMANDS and command.args:
        return f"{command.keyword} <redacted>"
    return " ".join((command.keyword, *command.args))


MECHANISMS: Final[dict[str, SaslStep]] = {"PLAIN": Session._plain}

_AUTHORIZATION: Final[dict[str, Handler]] = {
    "USER": Session._user_cmd,
    "APOP": Session._apop_cmd,
    "AUTH": Session._auth_cmd,
    "CAPA": Session._capa_cmd,
    "QUIT": Session._quit_authorization,
}

HANDLERS: Final[dict[Phase, dict[str, Handler]]] = {
    Phase.AUTHORIZATION: _AUTHORIZATION,
    Phase.AUTHORIZATION_USER: {**_AUTHORIZATION, "PASS": Session._pass_cmd},
    Phase.SASL: {},  # lines are SASL responses, handled before the table
    Phase.TRANSACTION: {
        "STAT": Session._stat_cmd,
        "LIST": Session._list_cmd,
        "RETR": Session._retr_cmd,
        "DELE": Session._dele_cmd,
        "NOOP": Session._noop_cmd,
        "RSET": Session._rset_cmd,
        "TOP": Session._top_cmd,
        "UIDL": Session._uidl_cmd,
        "CAPA": Session._capa_cmd,
        "QUIT": Session._quit_transaction,
    },
    Phase.CLOSED: {},
}
