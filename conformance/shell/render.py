"""What the shell prints: each answer as it came, then the harness's judgement of it.

Server text is made visible first (a hostile server's ESC must not drive
the terminal; a bare LF or a NUL is often the very finding), and every
known password is scrubbed from anything printed.  Colour only on a
terminal, through the console report's :class:`~conformance.report.console.Painter`.

An answer reads like the RFC's examples, with the judgement indented below::

    S: +OK 2 320
       ok    RFC1939-5.STAT-3  +OK 2 320: 2 messages, 320 octets
    S: +OK message 1 deleted
       FAIL  RFC1939-5.DELE-2 (MUST)  expected -ERR: message 1 is marked as deleted; got ...
             RFC1939 §5: "... may not refer to a message marked as deleted."
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Sequence
from typing import TextIO

from conformance.catalog import section_of
from conformance.outcomes import Outcome
from conformance.pop3 import Response
from conformance.report.console import Painter
from conformance.report.escape import visible
from conformance.results import CheckResult
from conformance.secrets import Secrets
from conformance.shell.judge import Judgement
from conformance.transcript import scrub

# Body lines shown of a multi-line answer (a 1 MB RETR would drown the terminal).
BODY_SHOWN = 40
WIDTH = 100
_WORDS = {
    Outcome.PASS: "ok",
    Outcome.FAIL: "FAIL",
    Outcome.NON_STRICT: "non-strict",
    Outcome.INFO: "info",
}
_WORD_WIDTH = 4  # "non-strict" runs over: it is rare
INDENT = "   "


def _text(raw: bytes) -> str:
    return visible(raw.decode("utf-8", errors="surrogateescape"))


def response_lines(response: Response) -> list[str]:
    """The answer as it crossed the wire (bodies re-stuffed, cut after BODY_SHOWN lines)."""
    kind = response.kind
    partial = f" after {response.partial[:80]!r}" if response.partial else ""
    if kind == "closed":
        return [f"S: (the server closed the connection{partial})"]
    if kind == "timeout":
        return [f"S: (no complete answer before the deadline{partial})"]
    if kind == "overflow":
        return [f"S: ({response.describe()})"]
    status = response.status_line.rstrip(b"\r\n")
    lines = [f"S: {_text(status)}"]
    if kind != "multi":
        return lines
    shown = response.head_lines(BODY_SHOWN)
    lines += [f"S: {_text(b'.' + ln if ln.startswith(b'.') else ln)}" for ln in shown]
    left = response.line_count - len(shown)
    if left > 0:
        lines.append(f"S: ... {left} more lines ({response.payload_octets} octets in all)")
    lines.append("S: .")
    return lines


class Renderer:
    def __init__(self, out: TextIO | None = None, *, color: bool, secrets: Secrets) -> None:
        self.out = out if out is not None else sys.stdout
        self.paint = Painter(color)
        self.secrets = secrets

    def emit(self, text: str = "") -> None:
        print(scrub(text, self.secrets), file=self.out, flush=True)

    def note(self, text: str) -> None:
        self.emit(self.paint.dim(f"* {visible(text)}"))

    def problem(self, text: str) -> None:
        """A line the shell could not carry out (the user's, not the server's)."""
        self.emit(self.paint.bold(f"shell: {visible(text)}"))

    def judgement(self, judgement: Judgement) -> None:
        for line in response_lines(judgement.answer.response):
            self.emit(line)
        for check in judgement.checks:
            for line in self.check_lines(check):
                self.emit(line)
        for note in judgement.notes:
            self.note(note)

    def check_lines(self, check: CheckResult) -> list[str]:
        word = self.paint.outcome(check.outcome, _WORDS[check.outcome].ljust(_WORD_WIDTH))
        if check.outcome is Outcome.PASS:
            return [f"{INDENT}{word}  {check.requirement}  {visible(check.expected)}"]
        head = f"{INDENT}{word}  {check.requirement} ({check.level})  "
        if check.expected:
            head += visible(f"expected {check.expected}; got {check.actual}")
        else:  # a grammar finding: its code and what was seen
            head += visible(f"{check.note}: {check.actual}")
        lines = [head]
        if check.quote:
            quote = " ".join(visible(check.quote, keep_newlines=True).split())
            said = f'{section_of(check.requirement)}: "{quote}"'
            pad = INDENT + " " * (_WORD_WIDTH + 2)
            lines += [
                self.paint.dim(ln)
                for ln in textwrap.wrap(said, WIDTH, initial_indent=pad, subsequent_indent=pad)
            ]
        return lines

    def block(self, title: str, lines: Sequence[str]) -> None:
        self.emit(self.paint.bold(title))
        for line in lines:
            self.emit(f"  {line}")
