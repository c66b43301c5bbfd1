"""RETR and TOP: message content, octet for octet (RFC 1939 sections 5 and 7).

Bodies are compared by SHA-256: the reader hashes the whole body while it
streams, so a large message is judged without a second copy of it.  Where
the answer was kept whole, a difference is also located.
"""

from __future__ import annotations

from conformance.drift import same_but_server_fields
from conformance.messages import Message
from conformance.model.expectation import (
    ERR,
    OK,
    Discrepancy,
    Expectation,
    first_difference,
)
from conformance.model.oracle import Oracle
from conformance.model.view import SessionView
from conformance.pop3 import COMMANDS, CRLF, Response, State
from conformance.pop3.events import sha256_hex


def retr_payload(message: Message) -> bytes:
    """What RETR must return: the message, its last line ended by CRLF (RFC 1939 section 3)."""
    data = message.data
    return data if not data or data.endswith(CRLF) else data + CRLF


class Retrieval(Oracle):
    keywords = ("RETR", "TOP")

    def expect(self, view: SessionView, state: State, keyword: str, args: list[str]) -> Expectation:
        n = view.number(COMMANDS[keyword], args[0])
        if isinstance(n, Expectation):
            return n
        message = view.message(n)
        if keyword == "RETR":
            payload = retr_payload(message)
            return Expectation(
                OK,
                "RFC1939-5.RETR-1",
                f"message {n} ({message.name}, {message.size} octets)",
                payload=payload,
                payload_sha256=message.sha256 if payload is message.data else None,
            )
        k = int(args[1])
        body = len(message.body_lines)
        whole = k > body
        return Expectation(
            OK,
            "RFC1939-7.TOP-2" if whole else "RFC1939-7.TOP-1",
            f"the whole message {n}: {k} lines asked, the body has {body}"
            if whole
            else f"the header block of message {n} and {k} of its {body} body lines",
            payload=message.top(k),
            also_accepted=None if "TOP" in view.supports else ERR,
        )

    def check(
        self,
        view: SessionView,
        keyword: str,
        args: list[str],
        exp: Expectation,
        response: Response,
    ) -> list[Discrepancy]:
        expected = exp.payload
        if expected is None:
            return []
        digest = exp.payload_sha256 or sha256_hex(expected)
        if response.payload_sha256 == digest:
            return []
        seeded = view.maildrop.seeded
        if seeded and not response.truncated:
            got = response.payload
            if same_but_server_fields(expected, got, seeded):
                # The server added header fields of its own (Mailutils writes
                # X-UIDL and Status into stored mail): the same message.
                if keyword == "RETR":
                    view.calibrate(int(args[0]), got)
                return []
        if response.truncated:
            actual = (
                f"{response.payload_octets} octets, sha256 {response.payload_sha256[:16]} "
                "(too large to keep: compared by digest)"
            )
        else:
            actual = first_difference(expected, response.payload)
        return [
            Discrepancy(exp.requirement, f"{len(expected)} octets, sha256 {digest[:16]}", actual)
        ]
