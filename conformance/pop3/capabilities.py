"""Every CAPA line against the grammar its capability was registered with.

RFC 2449 section 5 gives the line (``capa-tag *(SP param)``, 512 octets at
most); each registration (RFC 2449 section 6, and the later RFCs that
register STLS, SASL, AUTH-RESP-CODE, UTF8 and LANG) gives the arguments and
the states the capability is announced in.  A line that breaks its
registration is a finding against that registration's catalog entry; a tag
no RFC registers is recorded against RFC2449-9-1 (graded info), and an
``X-`` tag, a private extension, is left alone.

The runner runs :func:`capability_findings` on every CAPA answer of every
scenario (its passive hook), so each server is judged on the lines it
really sends, in the state it sent them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from conformance.pop3.events import Finding
from conformance.pop3.states import State

MAX_CAPA_LINE: Final = 512  # RFC 2449 section 5, CRLF included
# RFC 2449 section 3: capa-tag = 1*cchar (printable ASCII but "."), param = 1*VCHAR.
_LINE: Final = re.compile(rb"[\x21-\x2d\x2f-\x7e]+(?: [\x21-\x7e]+)*")
# RFC 4422 section 3.1: sasl-mech = 1*20mech-char (upper-case letters, digits, - and _);
# RFC 5034 section 5 makes the names case-insensitive.
_MECHANISM: Final = r"[A-Z0-9_-]{1,20}"


@dataclass(frozen=True)
class Registration:
    """What a registration says of a capability's line."""

    tag: str
    arguments: str  # a regex for the arguments after "TAG " ("" when it has none)
    shown: str  # the registration's words for them
    requirement: str  # the catalog entry of the registration
    # "optionally followed by USER in AUTHENTICATION state" (EXPIRE, LOGIN-DELAY).
    user_in_authorization: bool = False
    # Announced where the command is permitted: never in TRANSACTION (STLS).
    authorization_only: bool = False

    @property
    def code(self) -> str:
        return f"capa-{self.tag.lower()}"

    def accepts(self, arguments: str) -> bool:
        return re.fullmatch(self.arguments, arguments, re.IGNORECASE) is not None


REGISTRY: Final[dict[str, Registration]] = {
    r.tag: r
    for r in (
        Registration("TOP", "", "none", "RFC2449-6.1-1"),
        Registration("USER", "", "none", "RFC2449-6.2-1"),
        Registration(
            "SASL",
            f"(?:{_MECHANISM}(?: {_MECHANISM})*)?",
            "a space-separated list of SASL mechanism names",
            "RFC5034-3-1",
        ),
        Registration("RESP-CODES", "", "none", "RFC2449-6.4-1"),
        Registration(
            "LOGIN-DELAY",
            "[0-9]+",
            "minimum seconds between logins",
            "RFC2449-6.5-2",
            user_in_authorization=True,
        ),
        Registration("PIPELINING", "", "none", "RFC2449-6.6-1"),
        Registration(
            "EXPIRE",
            "(?:[0-9]+|NEVER)",
            "server-guaranteed minimum retention days, or NEVER",
            "RFC2449-6.7-1",
            user_in_authorization=True,
        ),
        Registration("UIDL", "", "none", "RFC2449-6.8-1"),
        Registration(
            "IMPLEMENTATION",
            ".+",
            "a string giving server implementation information",
            "RFC2449-6.9-1",
        ),
        Registration("AUTH-RESP-CODE", "", "none", "RFC3206-6-1"),
        Registration("STLS", "", "none", "RFC2595-8-1", authorization_only=True),
        Registration("UTF8", "(?:USER)?", "USER, optionally", "RFC6856-2-1"),
        Registration("LANG", "", "none", "RFC6856-3-1"),
    )
}
# The finding codes, with the requirement each one breaks (events.FINDING_REQUIREMENTS).
CAPA_FINDINGS: Final[dict[str, str]] = {
    "capa-line": "RFC2449-5-5",
    "capa-unregistered": "RFC2449-9-1",
    **{r.code: r.requirement for r in REGISTRY.values()},
}


def _finding(code: str, detail: str) -> Finding:
    return Finding(code, CAPA_FINDINGS[code], detail)


def capability_findings(lines: list[bytes], state: State) -> list[Finding]:
    """What is wrong with the lines of one CAPA answer received in ``state``."""
    found: list[Finding] = []
    for raw in lines:
        found += _line_findings(raw, state)
    return found


def _line_findings(raw: bytes, state: State) -> list[Finding]:
    shown = raw[:80].decode("latin-1")
    if len(raw) + 2 > MAX_CAPA_LINE or not _LINE.fullmatch(raw):
        return [
            _finding(
                "capa-line",
                f"{shown!r}: not a tag and parameters one space apart, in {MAX_CAPA_LINE} "
                "octets (RFC 2449 section 5)",
            )
        ]
    tag, _, arguments = raw.decode("ascii").partition(" ")
    registration = REGISTRY.get(tag.upper())
    if registration is None:
        return _unregistered(tag, shown)
    problems = []
    value, user = arguments, False
    if registration.user_in_authorization and re.search(r"(?i) USER$", arguments):
        value, user = arguments[: -len(" USER")], True
    if not registration.accepts(value):
        problems.append(f"{shown!r}: the arguments are {registration.shown}")
    if user and state is State.TRANSACTION:
        problems.append(f"{shown!r}: USER follows the value only in the AUTHORIZATION state")
    if registration.authorization_only and state is State.TRANSACTION:
        problems.append(f"{shown!r} in the TRANSACTION state, where the command is not permitted")
    return [_finding(registration.code, problem) for problem in problems]


def _unregistered(tag: str, shown: str) -> list[Finding]:
    if tag.upper().startswith("X"):
        return []  # RFC 2449 section 9: private extensions begin with X
    # A registered tag glued to its argument ("EXPIRENEVER"): that capability,
    # malformed, rather than an unknown one.
    for registration in REGISTRY.values():
        head, rest = tag[: len(registration.tag)], tag[len(registration.tag) :]
        if head.upper() == registration.tag and rest and registration.accepts(rest):
            return [
                _finding(
                    registration.code,
                    f"{shown!r}: no space between the tag {registration.tag} and its argument",
                )
            ]
    return [_finding("capa-unregistered", f"{shown!r}: no RFC registers the tag {tag.upper()}")]
