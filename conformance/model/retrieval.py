"""RETR and TOP: message content, octet for octet (RFC 1939 sections 5 and 7).

Bodies are compared by SHA-256: the reader hashes the whole body while it
streams, so a large message is judged without a second copy of it.  Where
the answer was kept whole, a difference is also located.

A whole message (RETR, or TOP of more lines than the body has) must be what
this session received before, if it did (:mod:`conformance.model.seen`).
Header fields a server adds to stored mail are learned only for a message the
session has seen nothing of: the server changed it between sessions.  Inside
a session the same difference is a finding.
"""

from __future__ import annotations

from conformance.drift import added_names, same_but_server_fields
from conformance.messages import Message
from conformance.model.expectation import (
    ERR,
    OK,
    Discrepancy,
    Expectation,
    first_difference,
)
from conformance.model.oracle import Asked, Oracle
from conformance.model.view import SessionView
from conformance.pop3 import COMMANDS, CRLF, Response, State
from conformance.pop3.events import sha256_hex


def retr_payload(message: Message) -> bytes:
    """What RETR must return: the message, its last line ended by CRLF (RFC 1939 section 3)."""
    data = message.data
    return data if not data or data.endswith(CRLF) else data + CRLF


def payload_digest(message: Message) -> str:
    """The SHA-256 of what RETR must return for ``message``."""
    payload = retr_payload(message)
    return message.sha256 if payload is message.data else sha256_hex(payload)


def _number(view: SessionView, args: list[str]) -> int | None:
    """The message a RETR or TOP names, or None (no such message, or one marked as deleted)."""
    if not args or not args[0].isascii() or not args[0].isdigit():
        return None
    n = int(args[0])
    return n if 1 <= n <= view.last and n not in view.deleted else None


def _whole(view: SessionView, keyword: str, args: list[str], n: int | None) -> int | None:
    """``n`` if the answer is the whole message (RETR, or TOP beyond the body), else None."""
    if n is None or keyword == "RETR":
        return n
    lines = args[1] if len(args) > 1 else ""
    if not (lines.isascii() and lines.isdigit()):
        return None
    return n if int(lines) > view.message(n).body_line_count else None


def _octets(data: bytes, digest: str) -> str:
    return f"{len(data)} octets, sha256 {digest[:16]}"


class Retrieval(Oracle):
    keywords = ("RETR", "TOP")

    def expect(self, asked: Asked, state: State) -> Expectation:
        view, keyword, args = asked
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
        body = message.body_line_count
        whole = k > body
        return Expectation(
            OK,
            "RFC1939-7.TOP-2" if whole else "RFC1939-7.TOP-1",
            f"the whole message {n}: {k} lines asked, the body has {body}"
            if whole
            else f"the header block of message {n} and {k} of its {body} body lines",
            payload=message.top(k),
            payload_sha256=message.sha256 if whole else None,
            also_accepted=None if "TOP" in view.supports else ERR,
        )

    def check(self, asked: Asked, exp: Expectation, response: Response) -> list[Discrepancy]:
        view, keyword, args = asked
        expected = exp.payload
        if expected is None:
            return []
        n = _number(view, args)
        whole = _whole(view, keyword, args, n)
        seen = view.seen.content(whole) if whole is not None else None
        digest = exp.payload_sha256 or sha256_hex(expected)
        wanted = digest if seen is None else seen[0]
        if response.payload_sha256 == wanted:
            return []
        described = _octets(expected, digest)
        if seen is not None:
            described = (
                f"the message as this session's {seen[1]} returned it (sha256 {wanted[:16]})"
            )
        seeded = view.maildrop.seeded
        if n is not None and seeded and not response.truncated:
            got = response.payload
            if same_but_server_fields(expected, got, seeded):
                # The server added header fields of its own (Mailutils writes
                # X-UIDL and Status into stored mail): the same message, if it
                # did so between sessions.
                by = view.seen.anything(n)
                if not by:
                    if keyword == "RETR":
                        view.calibrate(n, got)
                    return []
                added = ", ".join(added_names(expected, got)) or "none"
                return [
                    Discrepancy(
                        exp.requirement,
                        f"message {n} as this session's {by} showed it: {described}",
                        f"{len(got)} octets: header fields added within the session: {added}",
                    )
                ]
        if response.truncated:
            actual = (
                f"{response.payload_octets} octets, sha256 {response.payload_sha256[:16]} "
                "(too large to keep: compared by digest)"
            )
        elif wanted == digest:
            actual = first_difference(expected, response.payload)
        else:
            actual = _octets(response.payload, response.payload_sha256)
        return [Discrepancy(exp.requirement, described, actual)]

    def apply(self, asked: Asked, response: Response) -> None:
        """A whole message that agreed with the model is what this session has received."""
        view, keyword, args = asked
        n = _whole(view, keyword, args, _number(view, args))
        if n is None or response.kind != "multi":
            return
        seen = view.seen.content(n)
        message = view.message(n)
        right = payload_digest(message) if seen is None else seen[0]
        if response.payload_sha256 == right:
            by = f"{keyword} {' '.join(args)}"
            # The octets of an unended message do not say which size LIST keeps to.
            size = response.payload_octets if len(message.sizes) == 1 else None
            view.seen.saw_content(n, right, size, by)
