"""What the reader hands out: responses, and the grammar findings seen in them.

A :class:`Response` is one server answer, or what stood in its place (a
close, a timeout, an answer too long to keep reading).  The reader never
raises on what a server sends: deviations are :class:`Finding` objects that
a check grades against the requirement each one names.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Final

CRLF: Final = b"\r\n"
# How much of anything large a transcript or an Expected/Actual line shows.
EXCERPT: Final = 80
# A status line longer than this is shown as an excerpt (RFC 1939 allows 512).
SHOWN_STATUS: Final = 600


@dataclass(frozen=True)
class Finding:
    """A deviation from the wire grammar, seen while parsing a response."""

    code: str  # e.g. "bare-lf", "lower-case-status"
    requirement: str  # the requirement ID it breaks
    detail: str

    def __str__(self) -> str:
        return f"{self.code} ({self.requirement}): {self.detail}"


# The codes a reader can report, with the requirement each one breaks.
FINDING_REQUIREMENTS: Final[dict[str, str]] = {
    "bare-lf": "RFC1939-3-6",
    "status-too-long": "RFC1939-3-6",
    "lower-case-status": "RFC1939-3-7",
    "bad-status": "RFC2449-3-1",
    "not-a-status": "RFC2449-3-1",
    "bad-response-code": "RFC2449-3-5",
    # RFC 2449 section 3: text = *CHAR, and CHAR is %x01-7F: no NUL, no 8-bit
    # octets (until RFC 6856's UTF-8 mode or LANG makes UTF-8 text legal).
    "octets-outside-text": "RFC2449-3-1",
    "multiline-bare-lf": "RFC1939-3-8",
    "missing-terminator": "RFC1939-3-8",
    "response-too-long": "RFC1939-3-8",
}


def finding(code: str, detail: str) -> Finding:
    return Finding(code, FINDING_REQUIREMENTS[code], detail)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(slots=True)
class Response:
    """One server response (or what stood in its place).

    ``kind`` is ``"status"`` for a single line, ``"multi"`` for a multi-line
    response, ``"continuation"`` for a SASL ``+ ...`` line, ``"closed"`` when
    the connection ended before a whole response arrived, ``"timeout"`` when
    the deadline passed first (set by the transport, never by the reader) and
    ``"overflow"`` when a line or an answer outgrew the reader's bounds.

    A multi-line body is kept (``body``) up to the reader's ``keep`` bound;
    beyond it only its length and SHA-256 are (``truncated``): a transcript is
    evidence, not a copy.  ``payload_sha256`` and ``payload_octets`` always
    describe the whole unstuffed body.
    """

    kind: str
    status: str | None = None  # "+OK", "-ERR", "+" (continuation) or None
    code: tuple[str, ...] | None = None  # extended response code, split at "/"
    text: str = ""  # the status line after the indicator (and code), decoded latin-1
    status_line: bytes = b""  # the status line as received (an excerpt if it was huge)
    # The multi-line body as kept: unstuffed, whole lines, each ending in CRLF.
    body: bytes = b""
    octets: int = 0  # exact number of octets received for this response
    findings: list[Finding] = field(default_factory=list)
    partial: bytes = b""  # what arrived before a close or a timeout (an excerpt)
    elapsed_ms: float = 0.0
    truncated: bool = False  # ``lines`` holds only the first part of the body
    payload_octets: int = 0
    payload_sha256: str = ""
    line_count: int = 0

    @property
    def ok(self) -> bool:
        return self.status == "+OK"

    @property
    def err(self) -> bool:
        return self.status == "-ERR"

    @property
    def answered(self) -> bool:
        """Whether a whole answer came (not a close, a timeout or an overflow)."""
        return self.kind in ("status", "multi", "continuation")

    @property
    def names_lock(self) -> bool:
        """A refusal because the maildrop is locked: the [IN-USE] code (RFC 2449
        section 8.1.2), or words saying so from a server without response codes."""
        if not self.err:
            return False
        if self.code is not None and self.code[0].upper() == "IN-USE":
            return True
        text = self.text.lower()
        return "lock" in text or "in use" in text or "busy" in text

    @property
    def payload(self) -> bytes:
        """The multi-line body as the message it carries: unstuffed lines joined by CRLF.

        Only the kept part when the body was truncated: compare
        :attr:`payload_sha256` to judge a large body.
        """
        return self.body

    @property
    def lines(self) -> list[bytes]:
        """The kept body line by line, unstuffed, without their CRLF (split on each call)."""
        return self.body.split(CRLF)[:-1]

    def head_lines(self, count: int) -> list[bytes]:
        """The first ``count`` lines of :attr:`lines` (or fewer), without splitting the rest."""
        parts = self.body.split(CRLF, count)
        # More parts than asked: the last is the rest.  Else it is what follows
        # the last CRLF, which is nothing.
        return parts[:count] if len(parts) > count else parts[:-1]

    @property
    def code_text(self) -> str | None:
        return "/".join(self.code) if self.code is not None else None

    def status_text(self) -> str:
        """The status line without its line end, decoded latin-1."""
        return self.status_line.rstrip(b"\r\n").decode("latin-1")

    def shown_status(self) -> str:
        """The status line for Expected / Actual: an excerpt when it is long, with its
        length and SHA-256 (a report quotes, it does not copy)."""
        text = self.status_text()
        if len(text) <= SHOWN_STATUS:
            return text
        digest = sha256_hex(self.status_line)[:16]
        return f"{text[:SHOWN_STATUS]}... ({len(self.status_line)} octets, sha256 {digest})"

    def describe(self) -> str:
        """A one-line human description, for Expected / Actual."""
        if self.kind == "timeout":
            return f"no complete response before the deadline (partial: {self.partial[:EXCERPT]!r})"
        if self.kind == "closed":
            return f"connection closed (partial: {self.partial[:EXCERPT]!r})"
        if self.kind == "overflow":
            return (
                f"an answer over the reader's bound: {self.octets} octets, "
                f"partial {self.partial[:EXCERPT]!r}"
            )
        line = self.shown_status()
        if self.kind == "multi":
            more = (
                f", {self.payload_octets} octets, sha256 {self.payload_sha256[:16]}"
                if self.truncated
                else ""
            )
            return f"{line} (+{self.line_count} lines{more})"
        return line
