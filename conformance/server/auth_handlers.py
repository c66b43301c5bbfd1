"""The AUTHORIZATION state's commands: USER, PASS, APOP, AUTH (SASL), STLS and QUIT.

Each handler is a function of the :class:`~conformance.server.session.Session`
and the :class:`~conformance.server.vocabulary.Command`; the session's table
(:data:`~conformance.server.session.HANDLERS`) says in which phase each one
answers.  Also here: privacy mode (RFC 2595 section 2.2), the SASL exchange
after "+ " (RFC 5034) and opening and locking the maildrop after a login.

Like the rest of the server this imports nothing from the harness.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from typing import TYPE_CHECKING, Final

from conformance.server import sasl
from conformance.server.config import IMPLEMENTATION
from conformance.server.maildrop import Maildrop
from conformance.server.vocabulary import CRLF, Command, Phase, Reply, err, log, multiline, ok

if TYPE_CHECKING:
    from conformance.server.session import Session

# RFC 2595 section 2.2 privacy mode, before TLS.  USER gets no [AUTH]: RFC 3206
# section 5 "strongly RECOMMENDED that the server not issue this response code
# to the USER command".  APOP and AUTH get it: RFC 3206 section 5 counts "an
# attempt to authenticate in violation of policy" as a credentials problem.
# The same answer whatever the credentials (RFC 8314 section 4.1: no
# "indication over a cleartext channel of whether the user's authentication
# credentials were valid").
PLAINTEXT_REFUSED: Final = "plaintext login refused: use STLS first"


def plaintext_refused(session: Session) -> bool:
    """No login of any kind yet: privacy mode and TLS not active (RFC 2595 section 2.2)."""
    return session.config.refuse_plaintext_auth and not session.secure


def _b64decode(session: Session, data: bytes) -> bytes | None:
    if session.defect("auth-bad-base64-accepted"):
        try:  # non-alphabet characters silently dropped
            return base64.b64decode(data, validate=False)
        except (binascii.Error, ValueError):
            return None
    return _strict_b64decode(data)


def open_maildrop(session: Session, user: str) -> Reply:
    """Credentials are good: lock the maildrop and enter TRANSACTION."""
    directory = session.config.maildir_for(user)
    key = os.path.abspath(directory)
    delay = session.config.login_delay
    if delay and session.config.login_delay_enforced:
        since = session.locks.seconds_since_login(key)
        if since is not None and since < delay:
            # RFC 2449 section 6.5: "Servers enforce LOGIN-DELAY by rejecting
            # an authentication command with or without the LOGIN-DELAY
            # error response."
            return Reply(err(f"[LOGIN-DELAY] wait {delay:g} seconds between logins"))
    if session.defect("lock-check-then-set"):
        # Checked now, set only once the connection has waited (see
        # Session.take_pending_lock): a login in between finds it free too.
        free = key not in session.locks
        session.pending_lock = key if free else None
    else:
        free = session.defect("no-lock") or session.locks.acquire(key)
    if not free:
        # Authentication worked, so no [AUTH] (RFC 2449 section 8.1.2).
        if session.defect("in-use-without-code"):
            return Reply(err("maildrop already locked"))
        if session.defect("in-use-auth-code"):
            return Reply(err("[AUTH] maildrop already locked"))
        return Reply(err("[IN-USE] maildrop already locked"))
    try:
        maildrop = Maildrop.load(directory)
    except OSError:
        # RFC 1939 section 4: release the lock before refusing.
        session.locks.release(key)
        session.pending_lock = None
        log.exception("cannot open maildrop of %s", user)
        return Reply(err("[SYS/TEMP] cannot open maildrop"))
    session.lock_key = key
    session.locks.note_login(key)
    session.user = user
    session.maildrop = maildrop
    session.deleted = set()
    session.phase = Phase.TRANSACTION
    log.info("%s logged in, %d messages", user, len(maildrop))
    size = sum(message.size for message in maildrop)
    return Reply(ok(f"maildrop locked and ready, {len(maildrop)} messages ({size} octets)"))


def auth_failed(session: Session) -> Reply:
    session.phase = Phase.AUTHORIZATION
    session.user = None
    if session.defect("wrong-password-no-auth-code"):
        return Reply(err("invalid user name or password"))
    return Reply(err("[AUTH] invalid user name or password"))


def user_cmd(session: Session, command: Command) -> Reply:
    if len(command.args) != 1:
        return Reply(err("USER takes one argument"))
    if plaintext_refused(session):
        # RFC 1939 section 7: "The server may return a negative response if
        # mailbox exists, but does not permit plaintext password authentication."
        # Said for every name, so that it tells nothing about which exist.
        return Reply(err(PLAINTEXT_REFUSED))
    # Any name gets +OK: a -ERR here would tell which names exist (RFC 1939 section 13).
    if session.behaves("user-refuses-unknown") and command.args[0] not in session.config.accounts:
        return Reply(err("never heard of mailbox name"))
    session.user = command.args[0]
    session.phase = Phase.AUTHORIZATION_USER
    return Reply(ok("send PASS"))


def pass_cmd(session: Session, command: Command) -> Reply:
    user = session.user
    session.phase = Phase.AUTHORIZATION
    session.user = None
    if user is None:  # pragma: no cover - the table only routes PASS after USER
        raise RuntimeError("PASS without a pending USER")
    if not command.rest:
        return Reply(err("PASS takes one argument"))
    lax = session.defect("any-password") and user in session.config.accounts
    if not (lax or session.password_ok(user, command.rest)):
        return auth_failed(session)
    if user in session.config.apop_users:
        # RFC 1939 section 13: this mailbox takes APOP, so not USER/PASS.
        return auth_failed(session)
    return open_maildrop(session, user)


def apop_cmd(session: Session, command: Command) -> Reply:
    if len(command.args) != 2:
        return Reply(err("APOP takes a name and a digest"))
    if plaintext_refused(session):
        return Reply(err(f"[AUTH] {PLAINTEXT_REFUSED}"))
    user, digest = command.args
    secret = session.config.accounts.get(user)
    expected = hashlib.md5(
        (session.timestamp + (secret or "")).encode("utf-8"), usedforsecurity=False
    ).hexdigest()
    # The RFC asks clients for lower-case hex; accepting upper case costs nothing.
    if not hmac.compare_digest(digest.lower().encode("ascii", "replace"), expected.encode()):
        return auth_failed(session)
    if secret is None or user not in session.config.apop_users:
        # Only mailboxes set up for APOP take it (RFC 1939 section 13).
        return auth_failed(session)
    return open_maildrop(session, user)


def mechanisms(session: Session) -> list[str]:
    """The SASL mechanisms offered now.

    None before TLS in privacy mode.  With TLS available but not active,
    none that carries the password itself: RFC 2595 section 6, "The PLAIN
    SASL mechanism MUST NOT be advertised or used unless a strong
    encryption layer (such as the provided by TLS) is active or backwards
    compatibility dictates otherwise", and RFC 5034 section 4 wants that
    configuration by default.  A server without TLS keeps them: there,
    backwards compatibility does dictate otherwise.
    """
    if plaintext_refused(session):
        return []
    if session.config.tls and not session.secure:
        return [name for name in sasl.MECHANISMS if name not in sasl.CLEARTEXT]
    return list(sasl.MECHANISMS)


def auth_cmd(session: Session, command: Command) -> Reply:
    if not command.args:
        # Neither RFC 1734 nor RFC 5034 defines AUTH without a mechanism
        # (RFC 5034 section 5: "AUTH" SP sasl-mech ...).  Listing the
        # mechanisms is the widespread pre-CAPA convention and contradicts
        # no rule, so it stays; CAPA's SASL line is the standard way.
        body = b"".join(name.encode() + CRLF for name in mechanisms(session))
        return Reply(multiline("SASL mechanisms follow", body))
    if len(command.args) > 2:
        return Reply(err("AUTH takes a mechanism and an optional initial response"))
    # RFC 5034 section 5: mechanism names are case-insensitive.
    mechanism = sasl.MECHANISMS.get(command.args[0].upper())
    if mechanism is None:
        # RFC 5034 section 4: "If the requested authentication mechanism is
        # not supported, the server rejects the AUTH command with an -ERR reply."
        return Reply(err("unsupported SASL mechanism"))
    if command.args[0].upper() not in mechanisms(session):
        return Reply(err(f"[AUTH] {PLAINTEXT_REFUSED}"))
    initial: bytes | None = None
    if len(command.args) == 2:
        # RFC 5034 section 4: "=" is a present but empty initial response.
        argument = command.args[1]
        initial = (
            b"" if argument == "=" else _b64decode(session, argument.encode("ascii", "replace"))
        )
        if initial is None:
            return Reply(err("invalid base64"))
    return _sasl_outcome(session, mechanism(initial, session))


def sasl_response(session: Session, line: bytes) -> Reply:
    """Answer a line sent after "+ ": the client's next SASL response."""
    step, session.sasl_step = session.sasl_step, None
    session.phase = Phase.AUTHORIZATION
    log.debug("C: <SASL response>")
    if step is None:  # pragma: no cover - SASL phase always has a step
        raise RuntimeError("SASL phase without a step")
    if line == b"*":
        if session.defect("auth-cancel-ignored"):
            session.phase, session.sasl_step = Phase.SASL, step
            return Reply(b"+ \r\n")
        # RFC 5034 section 4: "it MUST reject the AUTH command by sending an -ERR reply."
        return Reply(err("authentication cancelled"))
    decoded = _b64decode(session, line)
    if decoded is None:
        # RFC 5034 section 4: "If the server cannot Base64 decode a client
        # response, it MUST reject the AUTH command with an -ERR reply."
        return Reply(err("invalid base64"))
    return _sasl_outcome(session, step(decoded))


def _sasl_outcome(session: Session, outcome: sasl.Outcome) -> Reply:
    """Answer what a mechanism decided: a challenge, a failure or a login."""
    if isinstance(outcome, sasl.Challenge):
        session.phase = Phase.SASL
        session.sasl_step = outcome.next
        # RFC 5034 section 4: "+" SP base64, "MUST NOT contain any text other
        # than the BASE64 encoded challenge"; an empty challenge is "+ " alone.
        return Reply(b"+ " + base64.b64encode(outcome.data) + CRLF)
    if isinstance(outcome, sasl.Malformed):
        return Reply(err(outcome.reason))
    if not outcome.ok:
        # RFC 5034 section 4: "the server MUST behave as if the client had
        # not issued the AUTH command" (still AUTHORIZATION).
        reply = auth_failed(session)
        if session.defect("failed-auth-enters-transaction"):
            # The maildrop is opened before the result is checked (and never locked).
            session.user, session.deleted = outcome.authcid, set()
            session.maildrop = Maildrop.load(session.config.maildir_for(outcome.authcid))
            session.phase = Phase.TRANSACTION
        return reply
    if outcome.authzid and outcome.authzid != outcome.authcid:
        return Reply(err("[AUTH] not authorized to act as another user"))
    return open_maildrop(session, outcome.authcid)


def stls_cmd(session: Session, command: Command) -> Reply:
    if command.args:
        return Reply(err("STLS takes no argument"))
    if not session.config.tls:
        return Reply(err("TLS is not available"))
    if session.secure:
        # RFC 2595 section 4: "A -ERR response MAY result if a security layer
        # is already active" (its example: "Command not permitted when TLS active").
        return Reply(err("command not permitted when TLS active"))
    if session.utf8:
        # RFC 6856 section 2.1: "Clients MUST NOT issue the "STLS" command
        # after issuing UTF8; servers MAY ... enforce this".
        return Reply(err("STLS not permitted after UTF8"))
    return Reply(ok("begin TLS negotiation"), starttls=True)


def stls_offered(session: Session) -> bool:
    # RFC 2595 section 4: "The capability name "STLS" indicates this command
    # is present and permitted in the current state."
    if session.phase is Phase.TRANSACTION or not session.config.tls:
        return False
    if session.secure:
        return session.defect("capa-keeps-stls-after-tls")
    return not session.utf8


def quit_cmd(session: Session, command: Command) -> Reply:
    if command.args:
        return Reply(err("QUIT takes no argument"))
    session.phase = Phase.CLOSED
    return Reply(ok(f"{IMPLEMENTATION} signing off"), close=True)


def _strict_b64decode(data: bytes) -> bytes | None:
    """Strict base64 (RFC 5034 section 4): any character outside the alphabet is an error."""
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return None
