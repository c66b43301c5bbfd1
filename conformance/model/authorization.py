"""USER, PASS, APOP, AUTH, STLS and UTF8, and the lines of a SASL exchange.

In AUTHORIZATION the model cannot know the credentials' verdict or which
optional commands a server offers, so each of these accepts +OK and -ERR;
what it does know is a missing argument (RFC 1939 section 3).
"""

from __future__ import annotations

from conformance.model.expectation import ERR, OK, Expectation
from conformance.model.oracle import Oracle
from conformance.model.view import SessionView
from conformance.pop3 import COMMANDS, State, check_arguments

# keyword -> (requirement, why either answer conforms)
EITHER = {
    "USER": ("RFC1939-7.USER-1", "the server may accept or refuse the name"),
    "PASS": ("RFC1939-7.PASS-2", "PASS right after a successful USER: credentials decide"),
    "APOP": ("RFC1939-7.APOP-3", "the digest decides"),
    "AUTH": ("RFC5034-4-14", "the mechanism and credentials decide"),
    "STLS": ("RFC2595-4-2", "STLS is optional (RFC 2595)"),
    "UTF8": ("RFC6856-2.1-4", "UTF8 is optional and may be refused (RFC 6856)"),
}
# Of these, the ones whose arity the model judges: a user name or a password
# with spaces is the server's to take or refuse (RFC1939-7.PASS-3).
ARITY_JUDGED = {"APOP": ("missing", "extra"), "USER": ("missing",), "PASS": ("missing",)}


class Authorization(Oracle):
    keywords = tuple(EITHER)

    def expect(self, view: SessionView, state: State, keyword: str, args: list[str]) -> Expectation:
        problem = check_arguments(COMMANDS[keyword], args)
        if problem is not None and problem.kind in ARITY_JUDGED.get(keyword, ()):
            return Expectation(ERR, problem.requirement, problem.reason)
        requirement, reason = EITHER[keyword]
        return Expectation(OK, requirement, reason, also_accepted=ERR)


def sasl_response(line: str) -> Expectation:
    """A line inside a SASL exchange (RFC 5034 section 4)."""
    if line == "*":
        return Expectation(ERR, "RFC5034-4-6", "'*' cancels the AUTH exchange")
    return Expectation(
        OK,
        "RFC5034-4-14",
        "a SASL response: the exchange continues or ends either way",
        also_accepted=ERR,
    )
