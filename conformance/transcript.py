"""Wire transcripts: who said what, when, with secrets removed.

A transcript is shared by every session of one scenario so that the
interleaving of two sessions (locking, drops) reads in order.  Lines are
redacted when they are recorded, so a secret never reaches a report, a log
or an exception message.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from conformance.pop3 import secret_offset
from conformance.results import TranscriptEntry
from conformance.secrets import REDACTED, Secrets

if TYPE_CHECKING:
    from conformance.pop3 import Response

# Lines of a multi-line body kept in the transcript: a 1 MB RETR would
# otherwise drown every report.  The octet count is always recorded.
BODY_LINES_KEPT = 12
# Octets of one line kept (a status line may be at most 512).
LINE_KEPT = 1024


def redact_command(line: str, in_sasl: bool = False) -> str:
    """Hide the secret part of a client line, as the command spec marks it.

    PASS loses its argument, APOP its digest, AUTH its initial response, and
    every line sent inside a SASL exchange is hidden whole (it carries
    credentials in base64).
    """
    if in_sasl:
        return REDACTED
    start = secret_offset(line)
    return line if start is None else line[:start] + REDACTED


def _cut(text: str, raw: bytes) -> str:
    """A line as a transcript keeps it: LINE_KEPT characters, then the length and
    SHA-256 of ``raw``, the octets it stands for."""
    if len(raw) <= LINE_KEPT:
        return text
    digest = hashlib.sha256(raw).hexdigest()[:16]
    return f"{text[:LINE_KEPT]}... ({len(raw)} octets, sha256 {digest})"


def scrub(text: str, secrets: Secrets) -> str:
    """``text`` with every known secret in it, in every form, replaced."""
    return secrets.scrub(text)


class Transcript:
    """Entries are recorded raw and rendered (decoded, redacted, cut) when read.

    Recording is on the path of every command: it only notes the time and
    keeps a reference.  Rendering happens once per entry, the first time
    :attr:`entries` is read, and applies the same redaction: no rendered
    entry, and so no report, ever holds a secret.
    """

    def __init__(self, secrets: Iterable[str] | Secrets = (), *, t0: float | None = None) -> None:
        # ``t0`` (a time.monotonic() value): several transcripts on one time
        # base, so that sessions recorded apart (a load test's) read in order.
        self._t0 = time.monotonic() if t0 is None else t0
        self.secrets = secrets if isinstance(secrets, Secrets) else Secrets(secrets)
        self._raw: list[tuple[float, str, str, Any, Any]] = []
        self._rendered: list[TranscriptEntry] = []
        self._done = 0  # raw records rendered so far

    @property
    def entries(self) -> list[TranscriptEntry]:
        """The rendered entries, in order (rendering what was recorded since the last read)."""
        raw = self._raw
        if self._done < len(raw):
            for record in raw[self._done :]:
                self._render(*record)
            self._done = len(raw)
        return self._rendered

    def mark(self) -> int:
        """A position in the recording, for :meth:`client_lines_since`."""
        return len(self._raw)

    def client_lines_since(self, mark: int) -> int:
        """How many client lines were recorded after ``mark`` (as many as the C: entries
        they render to), counted without rendering anything: an exploration counts
        after every action and renders a transcript only for a failure."""
        count = 0
        for record in self._raw[mark:]:
            if record[2] == "client" and record[3]:
                data: bytes = record[3]
                count += data.count(b"\r\n") + (0 if data.endswith(b"\r\n") else 1)
        return count

    def clear(self) -> None:
        self._raw.clear()
        self._rendered.clear()
        self._done = 0

    def _scrub(self, text: str) -> str:
        return self.secrets.scrub(text)

    def now_ms(self) -> float:
        return (time.monotonic() - self._t0) * 1000.0

    def _entry(self, t: float, session: str, direction: str, text: str) -> None:
        ms = round((t - self._t0) * 1000.0, 1)
        self._rendered.append(TranscriptEntry(ms, session, direction, self._scrub(text)))

    def _render(self, t: float, session: str, kind: str, payload: Any, extra: Any) -> None:
        if kind == "client":
            text = payload.decode("utf-8", errors="backslashreplace")
            lines = text.split("\r\n")
            if lines and lines[-1] == "":
                lines.pop()
            for line in lines:
                shown = redact_command(line, extra)
                self._entry(t, session, "C", _cut(shown, shown.encode("utf-8")))
        elif kind == "status":
            self._entry(t, session, "S", _cut(payload.decode("latin-1"), payload))
        elif kind == "lines":
            raw_lines, octets, more = payload, extra[0], extra[1]
            kept = raw_lines[: BODY_LINES_KEPT + 1]
            for raw in kept:
                self._entry(t, session, "S", _cut(raw.decode("latin-1"), raw))
            left = len(raw_lines) - len(kept) + more
            if left > 0:
                self._entry(t, session, "*", f"... {left} more lines, {octets} octets in all")
        else:
            self._entry(t, session, kind, payload)

    def add(self, session: str, direction: str, text: str) -> None:
        self._raw.append((time.monotonic(), session, direction, text, None))

    def client(self, session: str, data: bytes, in_sasl: bool = False) -> None:
        """Record bytes sent by the client (one entry per line once rendered)."""
        self._raw.append((time.monotonic(), session, "client", data, in_sasl))

    def server_lines(
        self, session: str, raw_lines: list[bytes], octets: int, more: int = 0
    ) -> None:
        """Record server lines as they were received (line ends kept visible).

        ``more`` counts body lines the caller left out; lines beyond
        BODY_LINES_KEPT are left out too, and each kept line is cut to
        LINE_KEPT octets: a transcript stays small whatever the server sends.
        """
        self._raw.append((time.monotonic(), session, "lines", raw_lines, (octets, more)))

    def answer(self, session: str, response: Response) -> None:
        """Record a server answer (or the close, timeout or overflow in its place)."""
        kind = response.kind
        if kind == "status" or kind == "continuation":
            # One line, recorded as it came (the path of nearly every answer).
            self._raw.append((time.monotonic(), session, "status", response.status_line, None))
        elif kind == "multi" or response.status_line:
            # A transcript is evidence, not a copy: the first lines, re-stuffed as
            # they came, and the count of the rest.
            shown = response.head_lines(BODY_LINES_KEPT + 1)
            lines = [response.status_line]
            lines += [(b"." + ln if ln.startswith(b".") else ln) + b"\r\n" for ln in shown]
            more = response.line_count - len(shown)
            if kind == "multi":
                lines.append(b".\r\n")
            self.server_lines(session, lines, response.octets, more)
        if kind == "closed":
            if response.partial:
                self.add(session, "S", response.partial.decode("latin-1"))
            self.event(session, "connection closed by the server")
        if response.findings:
            for found in response.findings:
                self.event(session, f"finding: {found}")

    def event(self, session: str, text: str) -> None:
        self.add(session, "*", text)
