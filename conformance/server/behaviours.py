"""Behaviours the RFCs permit, which the reference server can adopt on request.

A defect (:mod:`conformance.server.defects`) breaks a rule and must be caught;
a behaviour here breaks none and must never be failed.  Each quotes the
sentence that permits it.  ``pop3-conformance serve --behave NAME`` and
``run --behave NAME`` use them, and a test runs the whole suite against each:
a fail or an error there is a harness bug (a check that fails a correct
server), as bad as a defect that goes uncaught.

Like the rest of the server, this module imports nothing from the harness.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

# "lock-released-later": the lock of a dropped session goes this long after the
# drop, well within the 15 s the scenarios' "eventually" steps allow.
LATER_RELEASE_S: Final = 3.0


@dataclass(frozen=True)
class Behaviour:
    name: str
    permitted_by: str  # the RFC and section
    quote: str  # the sentence that permits it
    summary: str


_TABLE: Final = (
    Behaviour(
        "close-after-auth-err",
        "RFC 1939 section 4",
        "After returning a negative status indicator, the server may close the connection.",
        "every -ERR in AUTHORIZATION is followed by a close",
    ),
    Behaviour(
        "user-refuses-unknown",
        "RFC 1939 section 7 (USER)",
        "Possible Responses: +OK name is a valid mailbox / -ERR never heard of mailbox name",
        "USER answers -ERR for a name that has no mailbox",
    ),
    Behaviour(
        "no-resp-codes",
        "RFC 2449 section 8",
        "the RESP-CODES capability indicates that any response text issued by this server "
        "which begins with an open square bracket is an extended response code",
        "neither RESP-CODES nor AUTH-RESP-CODE is advertised, and no -ERR carries a code",
    ),
    Behaviour(
        "no-top-uidl",
        "RFC 1939 section 7",
        "the following commands are optional: TOP, UIDL (and APOP, USER/PASS)",
        "TOP and UIDL are not implemented (-ERR) and CAPA does not list them",
    ),
    Behaviour(
        "refuses-utf8",
        "RFC 6856 section 2.1",
        'The server MAY respond to the "UTF8" command with an -ERR response.',
        "UTF8 is answered -ERR (it stays advertised)",
    ),
    Behaviour(
        "lock-released-later",
        "RFC 1939 section 4 and 6 (a dropped session)",
        "If a session terminates for some reason other than a client-issued QUIT command, "
        "the POP3 session does not enter the UPDATE state",
        f"the lock of a session dropped without QUIT is released {LATER_RELEASE_S:g} s later",
    ),
)

BEHAVIOURS: Final[dict[str, Behaviour]] = {b.name: b for b in _TABLE}


def unknown(names: list[str]) -> list[str]:
    return [n for n in names if n not in BEHAVIOURS]


def listing() -> str:
    return "\n".join(
        f'  {b.name:<22} {b.permitted_by}: {b.summary}\n{"":24} "{b.quote}"' for b in _TABLE
    )
