"""CAPA and LANG: optional commands whose lists the model does not predict.

RFC 2449 and RFC 6856 make both optional, so +OK and -ERR both conform; the
capability grammar itself is judged by the scenarios that read CAPA.
"""

from __future__ import annotations

from conformance.model.expectation import ERR, OK, Expectation
from conformance.model.oracle import Asked, Oracle
from conformance.pop3 import State

REQUIREMENTS = {"CAPA": "RFC2449-5-1", "LANG": "RFC6856-3-1"}


class Capabilities(Oracle):
    keywords = tuple(REQUIREMENTS)

    def expect(self, asked: Asked, state: State) -> Expectation:
        keyword = asked.keyword
        if state is State.TRANSACTION:
            reason = f"{keyword} is optional"
        else:
            reason = (
                "CAPA is optional (RFC 2449)"
                if keyword == "CAPA"
                else "LANG is optional (RFC 6856)"
            )
        return Expectation(OK, REQUIREMENTS[keyword], reason, also_accepted=ERR)
