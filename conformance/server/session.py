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
import hashlib
import hmac
import itertools
import os
import re
import socket
import time
from collections.abc import Callable
from typing import Final, Protocol

from conformance.server import defects as d
from conformance.server import sasl
from conformance.server.config import IMPLEMENTATION, ServerConfig
from conformance.server.maildrop import Maildrop, top
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

__all__ = [
    "CRLF",
    "DEFAULT_LANGUAGE",
    "HANDLERS",
    "LANGUAGES",
    "MAX_COMMAND",
    "MAX_SASL_RESPONSE",
    "MAX_STATUS",
    "PLAINTEXT_REFUSED",
    "SECRET_COMMANDS",
    "UTF8_REFUSED",
    "Command",
    "Handler",
    "Locks",
    "Phase",
    "Reply",
    "SaslStep",
    "Session",
    "err",
    "make_timestamp",
    "multiline",
    "ok",
]

MAX_COMMAND: Final = 255  # RFC 2449 section 4, CRLF included
# RFC 5034 section 4: SASL responses are not bound by the command limit.
MAX_SASL_RESPONSE: Final = 16384
# LANG (RFC 6856 section 3): the one language the server's texts are in.
LANGUAGES: Final = {"en": "English"}
DEFAULT_LANGUAGE: Final = "en"
# RFC 2595 section 2.2 privacy mode, before TLS.  USER gets no [AUTH]: RFC 3206
# section 5 "strongly RECOMMENDED that the server not issue this response code
# to the USER command".  APOP and AUTH get it: RFC 3206 section 5 counts "an
# attempt to authenticate in violation of policy" as a credentials problem.
# The same answer whatever the credentials (RFC 8314 section 4.1: no
# "indication over a cleartext channel of whether the user's authentication
# credentials were valid").
PLAINTEXT_REFUSED: Final = "plaintext login refused: use STLS first"
UTF8_REFUSED: Final = "[UTF8] message has UTF-8 headers: send UTF8 first"
# Commands whose arguments are secrets: logged by keyword only.
SECRET_COMMANDS: Final = frozenset({"PASS", "APOP", "AUTH"})
_DIGITS: Final = re.compile(r"[0-9]+")
_HOSTNAME: Final = re.compile(r"[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*")
_greetings = itertools.count(1)


class Locks(Protocol):
    """Exclusive maildrop locks shared by all sessions of a server."""

    def acquire(self, key: str) -> bool: ...

    def release(self, key: str) -> None: ...

    def release_after(self, key: str, seconds: float) -> None: ...


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
        self.language = DEFAULT_LANGUAGE
        self.phase = Phase.AUTHORIZATION
        self.user: str | None = None
        self.maildrop: Maildrop | None = None
        self.deleted: set[int] = set()  # 0-based indices marked by DELE
        self.lock_key: str | None = None  # the maildrop lock held in TRANSACTION
        self.sasl_step: SaslStep | None = None  # what takes the next SASL response

    def defect(self, name: str) -> bool:
        """Whether fault ``name`` (see :mod:`conformance.server.defects`) is injected."""
        return name in self.config.defects

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
        try:
            return self._dispatch(line)
        except Exception:
            # A bug must cost one answer, not the server or the connection.
            log.exception("internal error while handling a command")
            return Reply(err("[SYS/TEMP] internal server error"))

    def tls_started(self) -> None:
        """The TLS handshake after STLS completed.

        RFC 2595 section 4: "the server remains in AUTHORIZATION state".  What
        the client said before TLS came from an unprotected channel and is
        forgotten (a pending USER already is: PASS must follow it immediately).
        """
        self.secure = True
        self._leave_user()
        self.language = DEFAULT_LANGUAGE

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
        self.release_lock()

    def _dispatch(self, line: bytes) -> Reply:
        if self.phase is Phase.SASL:
            step, self.sasl_step = self.sasl_step, None
            self.phase = Phase.AUTHORIZATION
            log.debug("C: <SASL response>")
            if step is None:  # pragma: no cover - SASL phase always has a step
                raise RuntimeError("SASL phase without a step")
            if line == b"*":
                if self.defect("auth-cancel-ignored"):
                    self.phase, self.sasl_step = Phase.SASL, step
                    return Reply(b"+ \r\n")
                # RFC 5034 section 4: "it MUST reject the AUTH command by sending an -ERR reply."
                return Reply(err("authentication cancelled"))
            decoded = self._b64decode(line)
            if decoded is None:
                # RFC 5034 section 4: "If the server cannot Base64 decode a client
                # response, it MUST reject the AUTH command with an -ERR reply."
                return Reply(err("invalid base64"))
            return self._sasl_outcome(step(decoded))
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

    # -- authorization ---------------------------------------------------

    def _b64decode(self, data: bytes) -> bytes | None:
        if self.defect("auth-bad-base64-accepted"):
            try:  # non-alphabet characters silently dropped
                return base64.b64decode(data, validate=False)
            except (binascii.Error, ValueError):
                return None
        return _b64decode(data)

    def _plaintext_refused(self) -> bool:
        """No login of any kind yet: privacy mode and TLS not active (RFC 2595 section 2.2)."""
        return self.config.refuse_plaintext_auth and not self.secure

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

    def _open_maildrop(self, user: str) -> Reply:
        """Credentials are good: lock the maildrop and enter TRANSACTION."""
        directory = self.config.maildir_for(user)
        key = os.path.abspath(directory)
        if not (self.defect("no-lock") or self.locks.acquire(key)):
            # Authentication worked, so no [AUTH] (RFC 2449 section 8.1.2).
            if self.defect("in-use-without-code"):
                return Reply(err("maildrop already locked"))
            if self.defect("in-use-auth-code"):
                return Reply(err("[AUTH] maildrop already locked"))
            return Reply(err("[IN-USE] maildrop already locked"))
        try:
            maildrop = Maildrop.load(directory)
        except OSError:
            # RFC 1939 section 4: release the lock before refusing.
            self.locks.release(key)
            log.exception("cannot open maildrop of %s", user)
            return Reply(err("[SYS/TEMP] cannot open maildrop"))
        self.lock_key = key
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
        if self.defect("wrong-password-no-auth-code"):
            return Reply(err("invalid user name or password"))
        return Reply(err("[AUTH] invalid user name or password"))

    def _user_cmd(self, command: Command) -> Reply:
        if len(command.args) != 1:
            return Reply(err("USER takes one argument"))
        if self._plaintext_refused():
            # RFC 1939 section 7: "The server may return a negative response if
            # mailbox exists, but does not permit plaintext password authentication."
            # Said for every name, so that it tells nothing about which exist.
            return Reply(err(PLAINTEXT_REFUSED))
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
        lax = self.defect("any-password") and user in self.config.accounts
        if not (lax or self.password_ok(user, command.rest)):
            return self._auth_failed()
        if user in self.config.apop_users:
            # RFC 1939 section 13: this mailbox takes APOP, so not USER/PASS.
            return self._auth_failed()
        return self._open_maildrop(user)

    def _apop_cmd(self, command: Command) -> Reply:
        if len(command.args) != 2:
            return Reply(err("APOP takes a name and a digest"))
        if self._plaintext_refused():
            return Reply(err(f"[AUTH] {PLAINTEXT_REFUSED}"))
        user, digest = command.args
        secret = self.config.accounts.get(user)
        expected = hashlib.md5(
            (self.timestamp + (secret or "")).encode("utf-8"), usedforsecurity=False
        ).hexdigest()
        # The RFC asks clients for lower-case hex; accepting upper case costs nothing.
        if not hmac.compare_digest(digest.lower().encode("ascii", "replace"), expected.encode()):
            return self._auth_failed()
        if secret is None or user not in self.config.apop_users:
            # Only mailboxes set up for APOP take it (RFC 1939 section 13).
            return self._auth_failed()
        return self._open_maildrop(user)

    def _mechanisms(self) -> list[str]:
        """The SASL mechanisms offered now.

        None before TLS in privacy mode.  With TLS available but not active,
        none that carries the password itself: RFC 2595 section 6, "The PLAIN
        SASL mechanism MUST NOT be advertised or used unless a strong
        encryption layer (such as the provided by TLS) is active or backwards
        compatibility dictates otherwise", and RFC 5034 section 4 wants that
        configuration by default.  A server without TLS keeps them: there,
        backwards compatibility does dictate otherwise.
        """
        if self._plaintext_refused():
            return []
        if self.config.tls and not self.secure:
            return [name for name in sasl.MECHANISMS if name not in sasl.CLEARTEXT]
        return list(sasl.MECHANISMS)

    def _auth_cmd(self, command: Command) -> Reply:
        if not command.args:
            # Neither RFC 1734 nor RFC 5034 defines AUTH without a mechanism
            # (RFC 5034 section 5: "AUTH" SP sasl-mech ...).  Listing the
            # mechanisms is the widespread pre-CAPA convention and contradicts
            # no rule, so it stays; CAPA's SASL line is the standard way.
            body = b"".join(name.encode() + CRLF for name in self._mechanisms())
            return Reply(multiline("SASL mechanisms follow", body))
        if len(command.args) > 2:
            return Reply(err("AUTH takes a mechanism and an optional initial response"))
        # RFC 5034 section 5: mechanism names are case-insensitive.
        mechanism = sasl.MECHANISMS.get(command.args[0].upper())
        if mechanism is None:
            # RFC 5034 section 4: "If the requested authentication mechanism is
            # not supported, the server rejects the AUTH command with an -ERR reply."
            return Reply(err("unsupported SASL mechanism"))
        if command.args[0].upper() not in self._mechanisms():
            return Reply(err(f"[AUTH] {PLAINTEXT_REFUSED}"))
        initial: bytes | None = None
        if len(command.args) == 2:
            # RFC 5034 section 4: "=" is a present but empty initial response.
            argument = command.args[1]
            initial = (
                b"" if argument == "=" else self._b64decode(argument.encode("ascii", "replace"))
            )
            if initial is None:
                return Reply(err("invalid base64"))
        return self._sasl_outcome(mechanism(initial, self))

    def _sasl_outcome(self, outcome: sasl.Outcome) -> Reply:
        """Answer what a mechanism decided: a challenge, a failure or a login."""
        if isinstance(outcome, sasl.Challenge):
            self.phase = Phase.SASL
            self.sasl_step = outcome.next
            # RFC 5034 section 4: "+" SP base64, "MUST NOT contain any text other
            # than the BASE64 encoded challenge"; an empty challenge is "+ " alone.
            return Reply(b"+ " + base64.b64encode(outcome.data) + CRLF)
        if isinstance(outcome, sasl.Malformed):
            return Reply(err(outcome.reason))
        if not outcome.ok:
            # RFC 5034 section 4: "the server MUST behave as if the client had
            # not issued the AUTH command" (still AUTHORIZATION).
            reply = self._auth_failed()
            if self.defect("failed-auth-enters-transaction"):
                # The maildrop is opened before the result is checked (and never locked).
                self.user, self.deleted = outcome.authcid, set()
                self.maildrop = Maildrop.load(self.config.maildir_for(outcome.authcid))
                self.phase = Phase.TRANSACTION
            return reply
        if outcome.authzid and outcome.authzid != outcome.authcid:
            return Reply(err("[AUTH] not authorized to act as another user"))
        return self._open_maildrop(outcome.authcid)

    def _stls_cmd(self, command: Command) -> Reply:
        if command.args:
            return Reply(err("STLS takes no argument"))
        if not self.config.tls:
            return Reply(err("TLS is not available"))
        if self.secure:
            # RFC 2595 section 4: "A -ERR response MAY result if a security layer
            # is already active" (its example: "Command not permitted when TLS active").
            return Reply(err("command not permitted when TLS active"))
        if self.utf8:
            # RFC 6856 section 2.1: "Clients MUST NOT issue the "STLS" command
            # after issuing UTF8; servers MAY ... enforce this".
            return Reply(err("STLS not permitted after UTF8"))
        return Reply(ok("begin TLS negotiation"), starttls=True)

    def _stls_offered(self) -> bool:
        # RFC 2595 section 4: "The capability name "STLS" indicates this command
        # is present and permitted in the current state."
        if self.phase is Phase.TRANSACTION or not self.config.tls:
            return False
        if self.secure:
            return self.defect("capa-keeps-stls-after-tls")
        return not self.utf8

    def _utf8_cmd(self, command: Command) -> Reply:
        # RFC 6856 section 2.1: "The "UTF8" command has no parameters."
        if command.args:
            return Reply(err("UTF8 takes no argument"))
        self.utf8 = True
        return Reply(ok("UTF-8 mode enabled"))

    def _lang_cmd(self, command: Command) -> Reply:
        if not command.args:
            # RFC 6856 section 3.2: one "language listing" per line, the tag
            # "optionally followed by a single space and a human-readable
            # description of the language in the language itself".
            body = "".join(f"{tag} {name}\r\n" for tag, name in LANGUAGES.items())
            return Reply(multiline("language listing follows", body.encode("utf-8")))
        if len(command.args) != 1:
            return Reply(err("LANG takes one language range"))
        tag = _match_language(command.args[0])
        if tag is None:
            # RFC 6856 section 3.2: on -ERR the previous language stays in use.
            return Reply(err("unsupported language"))
        self.language = tag
        # RFC 6856 section 3.2: "+OK response followed by a single space, the
        # exact language tag selected, and another space".
        return Reply(ok(f"{tag} language changed"))

    def capabilities(self) -> list[str]:
        """What CAPA lists in the current state."""
        refused = self._plaintext_refused()
        # In privacy mode USER and SASL appear only once TLS is on: RFC 2595
        # section 4 "The server MAY advertise different capabilities after STLS".
        capabilities = ["TOP", "UIDL", *([] if refused else ["USER"]), "RESP-CODES", "PIPELINING"]
        mechanisms = self._mechanisms()
        if mechanisms:
            # RFC 5034 section 3: kept in TRANSACTION too, "even though no further
            # AUTH commands may be issued".
            capabilities.append("SASL " + " ".join(mechanisms))
        capabilities.append("AUTH-RESP-CODE")
        if self._stls_offered():
            capabilities.append("STLS")
        capabilities += ["UTF8", "LANG", f"IMPLEMENTATION {IMPLEMENTATION}"]
        return capabilities

    def _capa_cmd(self, command: Command) -> Reply:
        if command.args:
            return Reply(err("CAPA takes no argument"))
        body = b"".join(c.encode() + CRLF for c in self.capabilities())
        return Reply(multiline("capability list follows", body))

    def _quit_authorization(self, command: Command) -> Reply:
        if command.args:
            return Reply(err("QUIT takes no argument"))
        self.phase = Phase.CLOSED
        return Reply(ok(f"{IMPLEMENTATION} signing off"), close=True)

    # -- transaction -----------------------------------------------------

    @property
    def drop(self) -> Maildrop:
        """The locked maildrop (TRANSACTION only)."""
        if self.maildrop is None:  # pragma: no cover - TRANSACTION always has one
            raise RuntimeError("no maildrop outside TRANSACTION")
        return self.maildrop

    def _message(self, argument: str, *, deleted_ok: bool = False) -> int | Reply:
        """The 0-based index a message-number argument names, or the -ERR to send."""
        if not _DIGITS.fullmatch(argument):
            return Reply(err("invalid message number"))
        digits = argument.lstrip("0")
        # Bounded before int(): a message count never has 19 digits.
        number = int(digits) if 0 < len(digits) < 19 else 0
        if self.defect("renumber-after-dele"):
            live = self._live()
            return live[number - 1] if 1 <= number <= len(live) else Reply(err("no such message"))
        if not 1 <= number <= len(self.drop):
            return Reply(err("no such message"))
        if number - 1 in self.deleted and not deleted_ok:
            return Reply(err(f"message {number} already deleted"))
        return number - 1

    def _live(self, *, deleted_too: bool = False) -> list[int]:
        return [i for i in range(len(self.drop)) if deleted_too or i not in self.deleted]

    def _size(self, index: int) -> int:
        size = self.drop[index].size
        if self.defect("size-lf-count"):
            data = self._read(index)
            size -= data.count(CRLF) if isinstance(data, bytes) else 0
        return size

    def _uid(self, index: int) -> str:
        if self.defect("uidl-duplicate") and index == 1:
            index = 0
        uid = self.drop[index].uid
        if self.defect("uidl-unstable"):
            uid = hashlib.sha1((self.timestamp + uid).encode()).hexdigest()
        if self.defect("uidl-too-long"):
            uid = uid.ljust(d.LONG_UID, "x")
        return uid

    def _stat_cmd(self, command: Command) -> Reply:
        if command.args:
            return Reply(err("STAT takes no argument"))
        live = self._live(deleted_too=self.defect("stat-counts-deleted"))
        size = sum(self._size(i) for i in live)
        if self.defect("bare-lf"):
            return Reply(ok(f"{len(live)} {size}")[: -len(CRLF)] + b"\n")
        return Reply(ok(f"{len(live)} {size}"))

    def _list_cmd(self, command: Command) -> Reply:
        if len(command.args) > 1:
            return Reply(err("LIST takes at most one argument"))
        if command.args:
            index = self._message(command.args[0])
            if isinstance(index, Reply):
                return index
            return Reply(ok(f"{index + 1} {self._size(index)}"))
        live = self._live(deleted_too=self.defect("list-shows-deleted"))
        size = sum(self._size(i) for i in live)
        body = "".join(f"{i + 1} {self._size(i)}\r\n" for i in live).encode()
        reply = multiline(f"{len(live)} messages ({size} octets)", body)
        if self.defect("missing-terminator") and not live:
            reply = reply[: -len(b".\r\n")]
        return Reply(reply)

    def _uidl_cmd(self, command: Command) -> Reply:
        if len(command.args) > 1:
            return Reply(err("UIDL takes at most one argument"))
        if command.args:
            index = self._message(command.args[0])
            if isinstance(index, Reply):
                return index
            return Reply(ok(f"{index + 1} {self._uid(index)}"))
        live = self._live(deleted_too=self.defect("uidl-lists-deleted"))
        body = "".join(f"{i + 1} {self._uid(i)}\r\n" for i in live).encode()
        reply = multiline("unique-id listing follows", body)
        if self.defect("extra-line-after-terminator"):
            reply += b"stray line\r\n"
        return Reply(reply)

    def _read(self, index: int) -> bytes | Reply:
        try:
            return self.drop.read(index)
        except OSError:
            log.exception("cannot read message %d", index + 1)
            return Reply(err("[SYS/TEMP] cannot read message"))

    def _utf8_refused(self, message: bytes) -> bool:
        """Whether the message's header section needs UTF-8 mode, which is off.

        RFC 6856 section 2.1: "When UTF-8 mode has not been enabled, character
        strings outside the ASCII repertoire MUST NOT be sent to the client as
        is ... the server MUST either send the client a surrogate message ...
        or fail the request with an -ERR response."  Only the header section
        counts: an 8-bit body under MIME 8bit transfer encoding is "obviously
        allowed" (same section).
        """
        if self.utf8 or self.defect("utf8-headers-without-utf8-mode"):
            return False
        end = message.find(CRLF + CRLF)
        header = message if end < 0 else message[:end]
        return not header.isascii()

    def _retr_cmd(self, command: Command) -> Reply:
        if len(command.args) != 1:
            return Reply(err("RETR takes one argument"))
        index = self._message(command.args[0], deleted_ok=self.defect("retr-deleted"))
        if isinstance(index, Reply):
            return index
        data = self._read(index)
        if isinstance(data, Reply):
            return data
        if self._utf8_refused(data):
            return Reply(err(UTF8_REFUSED))
        if self.defect("retr-drops-last-line"):
            data = data[: data.rfind(CRLF, 0, len(data) - len(CRLF)) + len(CRLF)]
        stuffed = not self.defect("no-dot-stuffing")
        return Reply(multiline(f"{len(data)} octets", data, stuffed=stuffed))

    def _top_cmd(self, command: Command) -> Reply:
        if self.defect("top-advertised-not-implemented"):
            return Reply(err("unknown command"))
        if len(command.args) != 2:
            return Reply(err("TOP takes a message number and a line count"))
        index = self._message(command.args[0], deleted_ok=self.defect("top-deleted"))
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
        if self._utf8_refused(data):
            return Reply(err(UTF8_REFUSED))
        if self.defect("top-extra-line"):
            lines += 1
        head = top(data, lines)
        if self.defect("top-no-blank-line"):
            head = head.replace(CRLF + CRLF, CRLF, 1)
        return Reply(multiline("top of message follows", head))

    def _dele_cmd(self, command: Command) -> Reply:
        if len(command.args) != 1:
            return Reply(err("DELE takes one argument"))
        index = self._message(command.args[0], deleted_ok=self.defect("dele-twice-ok"))
        if isinstance(index, Reply):
            return index
        if self.defect("dele-removes-at-once"):
            self.drop.remove([index])
        self.deleted.add(index)
        return Reply(ok(f"message {index + 1} deleted"))

    def _noop_cmd(self, command: Command) -> Reply:
        if command.args:
            return Reply(err("NOOP takes no argument"))
        return Reply(b"+ok\r\n" if self.defect("lower-case-ok") else ok(""))

    def _rset_cmd(self, command: Command) -> Reply:
        if command.args:
            return Reply(err("RSET takes no argument"))
        if not self.defect("rset-ignored"):
            self.deleted = set()
        live = len(self.drop)
        return Reply(ok(f"maildrop has {live} messages"))

    def _quit_transaction(self, command: Command) -> Reply:
        """Enter UPDATE: remove exactly the marked messages, release the lock, close."""
        if command.args:
            return Reply(err("QUIT takes no argument"))
        marked = self.deleted
        if self.defect("quit-keeps-deleted"):
            marked = set()
        elif self.defect("quit-removes-some"):
            marked = set(sorted(marked)[:1])
        failed = self.drop.remove(marked)
        removed = len(marked) - len(failed)
        left = len(self.drop) - removed
        # Released before the +OK leaves, so a client that logs in again right
        # after reading it never meets its own stale lock.
        self.phase = Phase.CLOSED
        self.release_lock()
        log.info("%s: UPDATE removed %d messages, %d failed", self.user, removed, len(failed))
        if failed:
            return Reply(err("[SYS/TEMP] some deleted messages not removed"), close=True)
        return Reply(ok(f"{IMPLEMENTATION} signing off ({left} messages left)"), close=True)

    def release_lock(self) -> None:
        """Release the maildrop lock, if one is held."""
        if self.lock_key is not None:
            self.locks.release(self.lock_key)
            self.lock_key = None


def _b64decode(data: bytes) -> bytes | None:
    """Strict base64 (RFC 5034 section 4): any character outside the alphabet is an error."""
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return None


def _match_language(language_range: str) -> str | None:
    """The supported tag a basic language range picks (RFC 4647 section 3.3.1), or None.

    RFC 6856 section 3.2: "*" asks for the administrator's preferred language.
    """
    if language_range == "*":
        return DEFAULT_LANGUAGE
    wanted = language_range.lower()
    for tag in LANGUAGES:
        if tag == wanted or tag.startswith(wanted + "-"):
            return tag
    return None


def _loggable(command: Command) -> str:
    if command.keyword in SECRET_COMMANDS and command.args:
        return f"{command.keyword} <redacted>"
    return " ".join((command.keyword, *command.args))


_AUTHORIZATION: Final[dict[str, Handler]] = {
    "USER": Session._user_cmd,
    "APOP": Session._apop_cmd,
    "AUTH": Session._auth_cmd,
    "CAPA": Session._capa_cmd,
    "STLS": Session._stls_cmd,
    "UTF8": Session._utf8_cmd,
    "LANG": Session._lang_cmd,
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
        "LANG": Session._lang_cmd,
        "QUIT": Session._quit_transaction,
    },
    Phase.CLOSED: {},
}


def _positive(session: Session, command: Command) -> Reply:
    return Reply(ok(""))


def _pass_alone(session: Session, command: Command) -> Reply:
    """PASS with no USER before it: log in to whichever account has this password."""
    for user in session.config.accounts:
        if session.password_ok(user, command.rest):
            return session._open_maildrop(user)
    return session._auth_failed()


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
            return Session._stls_cmd
        if keyword == "UTF8" and session.defect("utf8-in-transaction"):
            return Session._utf8_cmd
    if session.defect("pass-without-user") and phase is Phase.AUTHORIZATION and keyword == "PASS":
        return _pass_alone
    return None
