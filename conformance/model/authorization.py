"""USER, PASS, APOP, AUTH, STLS and UTF8, and the lines of a SASL exchange.

In AUTHORIZATION the model cannot know the credentials' verdict or which
optional commands a server offers, so each of these accepts +OK and -ERR;
what it does know, an argument missing or too many, the session model has
judged before (:func:`conformance.pop3.check_line`).
"""

from __future__ import annotations

from conformance.model.expectation import ERR, OK, Expectation
from conformance.model.oracle import Asked, Oracle
from conformance.pop3 import State

# keyword -> (requirement, why either answer conforms)
EITHER = {
    "USER": ("RFC1939-7.USER-1", "the server may accept or refuse the name"),
    "PASS": ("RFC1939-7.PASS-2", "PASS right after a successful USER: credentials decide"),
    "APOP": ("RFC1939-7.APOP-3", "the digest decides"),
    "AUTH": ("RFC5034-4-14", "the mechanism and credentials decide"),
    "STLS": ("RFC2595-4-2", "STLS is optional (RFC 2595)"),
    "UTF8": ("RFC6856-2.1-4", "UTF8 is optional and may be refused (RFC 6856)"),
}


class Authorization(Oracle):
    keywords = tuple(EITHER)

    def expect(self, asked: Asked, state: State) -> Expectation:
        keyword = asked.keyword
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
