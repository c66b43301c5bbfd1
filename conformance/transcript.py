"""Wire transcripts: who said what, when, with secrets removed.

A transcript is shared by every session of one scenario so that the
interleaving of two sessions (locking, drops) reads in order.  Lines are
redacted when they are recorded, so a secret never reaches a report, a log
or an exception message.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable

from conformance.results import TranscriptEntry

REDACTED = "********"
# Lines of a multi-line body kept in the transcript: a 1 MB RETR would
# otherwise drown every report.  The octet count is always recorded.
BODY_LINES_KEPT = 12

_PASS = re.compile(r"^(PASS)(\s.*)?$", re.IGNORECASE | re.DOTALL)
_APOP = re.compile(r"^(APOP\s+\S+)(\s.*)?$", re.IGNORECASE | re.DOTALL)
_AUTH = re.compile(r"^(AUTH\s+\S+)(\s.*)?$", re.IGNORECASE | re.DOTALL)


def redact_command(line: str, in_sasl: bool = False) -> str:
    """Hide the secret part of a client line.

    PASS loses its argument, APOP its digest, AUTH its initial response, and
    every line sent inside a SASL exchange is hidden whole (it carries
    credentials in base64).
    """
    if in_sasl:
        return REDACTED
    for pattern in (_PASS, _APOP, _AUTH):
        m = pattern.match(line)
        if m:
            return m.group(1) + (" " + REDACTED if m.group(2) else "")
    return line


class Transcript:
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._t0 = time.monotonic()
        # Longest first, so that a secret containing another is hidden whole.
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)
        self.entries: list[TranscriptEntry] = []

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def now_ms(self) -> float:
        return (time.monotonic() - self._t0) * 1000.0

    def add(self, session: str, direction: str, text: str) -> None:
        self.entries.append(
            TranscriptEntry(round(self.now_ms(), 1), session, direction, self._scrub(text))
        )

    def client(self, session: str, data: bytes, in_sasl: bool = False) -> None:
        """Record bytes sent by the client, one entry per line."""
        text = data.decode("utf-8", errors="backslashreplace")
        lines = text.split("\r\n")
        if lines and lines[-1] == "":
            lines.pop()
        for line in lines:
            self.add(session, "C", redact_command(line, in_sasl))

    def server_lines(self, session: str, raw_lines: list[bytes], octets: int) -> None:
        """Record server lines as they were received (line ends kept visible)."""
        kept = raw_lines[: BODY_LINES_KEPT + 1]
        for raw in kept:
            self.add(session, "S", raw.decode("latin-1"))
        if len(raw_lines) > len(kept):
            self.add(
                session,
                "*",
                f"... {len(raw_lines) - len(kept)} more lines, {octets} octets in all",
            )

    def event(self, session: str, text: str) -> None:
        self.add(session, "*", text)
