"""Secrets in typed lines: where to mask them, and how a recording writes them.

Masking follows the command spec (:func:`conformance.pop3.secret_offset`):
PASS's password, APOP's digest and AUTH's initial response are hidden from
their first character, and every line inside a SASL exchange is hidden
whole.  A ``:raw`` line that sends such a command is hidden after ``:raw``.

A recording holds no secret: each one is written as the placeholder that
computes it (``{password}``, ``{apop}``, ``{plain}``, ``{cram}`` ...), found
by expanding every candidate for the first two accounts and comparing.  A
secret no placeholder computes (a mistyped password, another account's) is
written as ``********``, which a server refuses just the same.  Account
names become ``{user}`` and ``{user2}`` so that a recording replays on any
account.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from conformance.placeholders import PlaceholderError, expand
from conformance.pop3 import secret_offset, split_command
from conformance.scenario.escapes import decode_escapes
from conformance.secrets import REDACTED, Secrets
from conformance.target import Account
from conformance.transcript import scrub

RAW = ":raw"
# The placeholders a secret may be, by where it is typed; ":2" (or "2") for account 2.
_SECRETS = {
    "PASS": ("{password}", "{password2}"),
    "APOP": ("{apop}", "{apop:2}"),
    "AUTH": ("{plain}", "{plain:2}", "{plainjunk}", "{plainjunk:2}"),
}
_SASL = ("{b64user}", "{b64password}", "{plain}", "{cram}")
_SASL_SECRETS = _SASL + tuple(p.replace("}", ":2}") for p in _SASL)
_USERS = ("{user}", "{user2}")
_NAMED = ("USER", "APOP")  # commands whose first argument is an account name


def mask_from(line: str, in_sasl: bool) -> int | None:
    """The index from which a typed line is a secret (None: it holds none)."""
    if in_sasl:
        return 0
    if line.startswith(RAW + " "):
        return len(RAW) + 1 if raw_has_secret(line[len(RAW) + 1 :]) else None
    return secret_offset(line)


def raw_has_secret(text: str) -> bool:
    """Whether the bytes of a ``:raw`` text send a command with a secret argument."""
    try:
        data = decode_escapes(text)
    except ValueError:
        data = text.encode("utf-8", errors="replace")
    lines = data.replace(b"\r", b"\n").split(b"\n")
    return any(secret_offset(raw.decode("latin-1")) is not None for raw in lines)


def masked(line: str, in_sasl: bool) -> str:
    """The line as a terminal shows it while typed: the secret part as asterisks."""
    start = mask_from(line, in_sasl)
    return line if start is None else line[:start] + "*" * len(line[start:])


class Placeholders:
    """Writes sent lines with placeholders in place of account names and secrets."""

    def __init__(self, accounts: Sequence[Account]) -> None:
        self.accounts = list(accounts[:2])
        # Longest first: a password that contains another is replaced whole.
        self._passwords = sorted(
            ((a.password, ("{password}", "{password2}")[i]) for i, a in enumerate(self.accounts)),
            key=lambda pair: len(pair[0]),
            reverse=True,
        )
        self.used: set[str] = set()  # every placeholder written so far
        self.unknown = 0  # secrets written as ********

    def _match(self, value: str, candidates: Sequence[str], values: Mapping[str, str]) -> str:
        for candidate in candidates:
            try:
                if expand(candidate, self.accounts, None, values) == value:
                    self.used.add(candidate)
                    return candidate
            except PlaceholderError:
                continue
        return ""

    def secret(self, value: str, candidates: Sequence[str], values: Mapping[str, str]) -> str:
        found = self._match(value, candidates, values)
        if not found:
            self.unknown += 1
            return REDACTED
        return found

    def line(self, line: str, in_sasl: bool, values: Mapping[str, str]) -> str:
        """``line`` (as sent) the way a scenario writes it."""
        if in_sasl:
            return line if line == "*" else self.secret(line, _SASL_SECRETS, values)
        keyword, args = split_command(line)
        start = secret_offset(line)
        head, tail = (line, "") if start is None else (line[:start], line[start:])
        if keyword in _NAMED and args:
            name = re.search(r"\S+\s+(\S+)", head)
            if name is not None:
                user = self._match(name.group(1), _USERS, values)
                if user:
                    head = head[: name.start(1)] + user + head[name.end(1) :]
        if tail:
            tail = self.secret(tail, _SECRETS.get(keyword, ()), values)
        return self.passwords(head) + tail

    def has_password(self, text: str) -> bool:
        return any(password and password in text for password, _ in self._passwords)

    def passwords(self, text: str) -> str:
        """Any account password left in ``text`` (an odd place for one) as its placeholder."""
        for password, placeholder in self._passwords:
            if password and password in text:
                text = text.replace(password, placeholder)
                self.used.add(placeholder)
        return text


def shown(line: str, in_sasl: bool, secrets: Secrets) -> str:
    """A typed line as the shell echoes it: the secret part as ********, and no
    known password anywhere."""
    start = mask_from(line, in_sasl)
    return scrub(line if start is None else line[:start] + REDACTED, secrets)
