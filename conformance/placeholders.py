"""Placeholders in scenario lines: ``{user}``, ``{size:2}``, ``{uid:1}`` ...

Values come from the leased accounts and from the mailbox model of the
session the line is sent on, so that a scenario says "the size of message 2"
and never hard-codes a number that depends on the corpus or the server.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence

from conformance.model import SessionModel
from conformance.scenario.escapes import decode_escapes
from conformance.secrets import Secrets
from conformance.target import Account

PLACEHOLDER = re.compile(r"\{([a-z0-9]+)(?::(\d+))?\}")
ACCOUNT_KEYS = {
    "user": (1, "user"),
    "password": (1, "password"),
    "user2": (2, "user"),
    "password2": (2, "password"),
}
MODEL_KEYS = {"count", "size", "last", "beyond", "uid"}
# Credentials in the forms the authentication commands carry them.  They are
# computed, never written in a scenario, so the files hold no secret.
# {plain}: SASL PLAIN (RFC 4616) "\0user\0password" in base64; {b64user} and
# {b64password}: the LOGIN mechanism's two answers; {apop}: the APOP digest
# over the session's greeting timestamp; {cram}: the CRAM-MD5 answer
# (RFC 2195) to the session's last "+ challenge".
# {plainjunk}: the PLAIN response with "!" (outside the base64 alphabet)
# after its first four characters: inside the string whatever the account's
# padding, so a decoder that skips or stops at it is judged the same way for
# every account.
CREDENTIAL_KEYS = {"plain", "plainjunk", "b64user", "b64password"}
SESSION_KEYS = {"apop", "cram"}
# {spaces:N}: N spaces, so that a scenario can send a line of 64 KiB without
# holding one.
FILL_KEYS = {"spaces"}
MAX_FILL = 1 << 20
KNOWN = set(ACCOUNT_KEYS) | MODEL_KEYS | CREDENTIAL_KEYS | SESSION_KEYS | FILL_KEYS


class PlaceholderError(Exception):
    pass


def names_in(text: str) -> list[str]:
    return [m.group(1) for m in PLACEHOLDER.finditer(text)]


def _b64(data: str) -> str:
    return base64.b64encode(data.encode("utf-8")).decode("ascii")


def apop_digest(timestamp: str, password: str) -> str:
    """RFC 1939 section 7: MD5 over the greeting's timestamp followed by the secret."""
    return hashlib.md5((timestamp + password).encode("utf-8")).hexdigest()


def cram_md5_answer(challenge_b64: str, user: str, password: str) -> str | None:
    """RFC 2195: base64 of "user SP hex(HMAC-MD5(password, challenge))"; None if undecodable."""
    try:
        challenge = base64.b64decode(challenge_b64, validate=True)
    except (binascii.Error, ValueError):
        return None
    mac = hmac.new(password.encode("utf-8"), challenge, hashlib.md5).hexdigest()
    return _b64(f"{user} {mac}")


def expand(
    text: str,
    accounts: Sequence[Account],
    model: SessionModel | None,
    session_values: Mapping[str, str] | None = None,
    secrets: Secrets | None = None,
) -> str:
    """Replace every placeholder in ``text``; PlaceholderError when one has no value.

    ``session_values`` holds what only the session knows: "timestamp" (the
    greeting's APOP timestamp) and "challenge" (the last "+ " line's base64).
    Credentials computed here (SASL tokens, digests) join ``secrets``: a
    server that echoes one must not put it into a report.
    """
    known = session_values or {}

    def value(m: re.Match[str]) -> str:
        found = _value(m)
        if secrets is not None and m.group(1) in CREDENTIAL_KEYS | SESSION_KEYS:
            secrets.add(found, encoded=m.group(1) == "b64password")
        return found

    def _value(m: re.Match[str]) -> str:
        key, arg = m.group(1), m.group(2)
        if key in FILL_KEYS:
            count = int(arg) if arg is not None else -1
            if not 0 < count <= MAX_FILL:
                raise PlaceholderError(f"{{spaces:N}} needs N from 1 to {MAX_FILL}")
            return " " * count
        if key in CREDENTIAL_KEYS or key in SESSION_KEYS:
            index = int(arg) if arg is not None else 1
            if index < 1 or index > len(accounts):
                raise PlaceholderError(f"{{{key}}} needs {index} accounts")
            account = accounts[index - 1]
            if key == "plain":
                return _b64(f"\0{account.user}\0{account.password}")
            if key == "plainjunk":
                token = _b64(f"\0{account.user}\0{account.password}")
                return token[:4] + "!" + token[4:]
            if key == "b64user":
                return _b64(account.user)
            if key == "b64password":
                return _b64(account.password)
            if key == "apop":
                if "timestamp" not in known:
                    raise PlaceholderError("{apop}: the greeting has no <timestamp>")
                return apop_digest(known["timestamp"], account.password)
            answer = cram_md5_answer(known.get("challenge", ""), account.user, account.password)
            if answer is None or "challenge" not in known:
                raise PlaceholderError("{cram}: no base64 '+ challenge' line came before")
            return answer
        if key in ACCOUNT_KEYS:
            index, attr = ACCOUNT_KEYS[key]
            if index > len(accounts):
                raise PlaceholderError(f"{{{key}}} needs {index} accounts")
            return str(getattr(accounts[index - 1], attr))
        if key not in MODEL_KEYS:
            raise PlaceholderError(f"unknown placeholder {{{key}}}")
        if model is None:
            raise PlaceholderError(f"{{{key}}} needs known mailbox content and a logged-in session")
        if key == "count":
            return str(model.count)
        if key == "last":
            return str(model.last)
        if key == "beyond":
            return str(model.last + 1)
        if key == "size":
            return str(model.size if arg is None else model.message(int(arg)).size)
        uid = model.uid(int(arg)) if arg is not None else None
        if uid is None:
            raise PlaceholderError(f"{{uid:{arg}}}: no unique-id learned yet for message {arg}")
        return uid

    return PLACEHOLDER.sub(value, text)


def expand_raw(
    text: str,
    accounts: Sequence[Account],
    model: SessionModel | None,
    session_values: Mapping[str, str] | None = None,
    secrets: Secrets | None = None,
) -> bytes:
    """The bytes of a ``raw:`` line: its escapes decoded, its placeholders replaced.

    A value is sent as it is (UTF-8): a backslash in a password is no
    escape.  Secrets computed here join ``secrets`` as in :func:`expand`,
    and the transcript redacts PASS, APOP and AUTH lines by the spec.
    """
    out = bytearray()
    done = 0
    for match in PLACEHOLDER.finditer(text):
        out += decode_escapes(text[done : match.start()])
        out += expand(match.group(0), accounts, model, session_values, secrets).encode("utf-8")
        done = match.end()
    return bytes(out + decode_escapes(text[done:]))
