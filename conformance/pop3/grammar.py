"""The response grammars, each written once.

The status line (with its response code, RFC 2449 section 3), the STAT
answer and a scan listing (RFC 1939 section 5), a unique-id listing (section
7), CAPA lines (RFC 2449 section 5), the APOP timestamp of a greeting
(RFC 1939 section 7) and a SASL challenge (RFC 5034 section 4).  Parsers
return what they recognise and ``None`` for what they do not: judging a
mismatch is the caller's business, with the requirement it cites.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Final

from conformance.pop3.events import EXCERPT, Finding, Response, finding

MAX_STATUS_LINE: Final = 512  # RFC 1939 section 3, RFC 2449 section 3, CRLF included
MAX_COMMAND_LINE: Final = 255  # RFC 2449 section 4, CRLF included

_STATUS = re.compile(rb"^(\+OK|-ERR)(?: (.*))?$", re.DOTALL)
_STATUS_ANYCASE = re.compile(rb"^(\+ok|-err)(.*)$", re.DOTALL | re.IGNORECASE)
# RFC 2449 section 3: rchar = %x21-2E / %x30-5C / %x5E-7F ("/" and "]" excluded).
_RESP_CODE = re.compile(
    r"^\[([\x21-\x2e\x30-\x5c\x5e-\x7f]+(?:/[\x21-\x2e\x30-\x5c\x5e-\x7f]+)*)\]"
)
# "+OK nn mm" (STAT, LIST n): two decimal numbers, then a space or the end.
_TWO_NUMBERS = re.compile(r"([0-9]+) ([0-9]+)(?: |$)")
_SCAN_LINE = re.compile(rb"([0-9]+) ([0-9]+)(?: .*)?", re.DOTALL)
_UID_LINE = re.compile(rb"([0-9]+) (.*)", re.DOTALL)
# RFC 1939 section 7: a unique-id is 1 to 70 characters in 0x21-0x7E.
_UID = re.compile(rb"[\x21-\x7e]{1,70}")


def parse_status_line(raw: bytes, *, length: int | None = None) -> Response:
    """Parse one status line (with its line end) into a Response of kind "status".

    Deviations become findings; the status is still recovered where it can be
    so that the rest of the exchange can be judged.  ``length`` is the line's
    real length when ``raw`` is only its beginning (an over-long line).
    """
    size = len(raw) if length is None else length
    if size <= MAX_STATUS_LINE and raw.endswith(b"\r\n"):
        # The common case, without a regex: "+OK" or "-ERR", then the line end
        # or a space and a text that opens no response code.  Every answer
        # passes here, so the tests are slices and the Response is positional.
        if raw.startswith(b"+OK") and (size == 5 or (raw[3:4] == b" " and raw[4:5] != b"[")):
            text = raw[4:-2].decode("latin-1")
            return Response("status", "+OK", None, text, raw, b"", size, [])
        if raw.startswith(b"-ERR") and (size == 6 or (raw[4:5] == b" " and raw[5:6] != b"[")):
            text = raw[5:-2].decode("latin-1")
            return Response("status", "-ERR", None, text, raw, b"", size, [])
    findings: list[Finding] = []
    if raw.endswith(b"\r\n"):
        body = raw[:-2]
    elif raw.endswith(b"\n"):
        body = raw[:-1]
        findings.append(finding("bare-lf", "status line ends in a bare LF"))
    else:
        body = raw
    if size > MAX_STATUS_LINE:
        findings.append(finding("status-too-long", f"status line is {size} octets (at most 512)"))
    if body.startswith(b"+ ") or body == b"+":
        # A SASL continuation (RFC 5034): "+" SP base64.
        return Response(
            kind="continuation",
            status="+",
            text=body[2:].decode("latin-1"),
            status_line=raw,
            octets=size,
            findings=findings,
        )
    status: str | None
    rest: bytes
    m = _STATUS.match(body)
    if m:
        status, rest = m.group(1).decode(), m.group(2) or b""
    else:
        loose = _STATUS_ANYCASE.match(body)
        if loose and loose.group(1) not in (b"+OK", b"-ERR"):
            findings.append(
                finding(
                    "lower-case-status", f"status indicator {loose.group(1)!r} is not upper case"
                )
            )
            status = loose.group(1).upper().decode()
            rest = loose.group(2).removeprefix(b" ")
        elif loose:
            # "+OKfoo": the indicator must be followed by SP or the line end.
            findings.append(
                finding("bad-status", f"no space after the status indicator: {body[:40]!r}")
            )
            status, rest = loose.group(1).decode(), loose.group(2)
        else:
            findings.append(finding("not-a-status", f"not a status line: {body[:60]!r}"))
            status, rest = None, body
    text = rest.decode("latin-1")
    code: tuple[str, ...] | None = None
    if text.startswith("["):
        cm = _RESP_CODE.match(text)
        if cm:
            code = tuple(cm.group(1).split("/"))
            text = text[cm.end() :].lstrip(" ")
        else:
            findings.append(
                finding("bad-response-code", f"malformed response code in {text[:60]!r}")
            )
    return Response(
        kind="status",
        status=status,
        code=code,
        text=text,
        status_line=raw,
        octets=size,
        findings=findings,
    )


def parse_stat(text: str) -> tuple[int, int] | None:
    """``nn mm`` at the start of a STAT (or LIST n) answer's text: two numbers."""
    m = _TWO_NUMBERS.match(text)
    return (int(m.group(1)), int(m.group(2))) if m else None


def parse_scan_line(raw: bytes) -> tuple[int, int] | None:
    """``msg size [...]``: one line of a scan listing (RFC 1939 section 5, LIST)."""
    m = _SCAN_LINE.fullmatch(raw)
    return (int(m.group(1)), int(m.group(2))) if m else None


@dataclass(frozen=True)
class UidLine:
    """``msg unique-id``: one line of a unique-id listing, or a UIDL n answer's text."""

    number: int
    uid: bytes  # the first word after the number
    trailing: bool  # text follows the unique-id (RFC1939-7.UIDL-2 forbids it)

    @property
    def valid_uid(self) -> str | None:
        """The unique-id if it is 1 to 70 characters in 0x21-0x7E (RFC1939-7.UIDL-3)."""
        return self.uid.decode("ascii") if _UID.fullmatch(self.uid) else None


def parse_uid_line(raw: bytes) -> UidLine | None:
    m = _UID_LINE.fullmatch(raw)
    if not m:
        return None
    rest = m.group(2)
    uid, _, extra = rest.partition(b" ")
    return UidLine(int(m.group(1)), uid, bool(extra) or rest.endswith(b" "))


@dataclass(frozen=True)
class Capability:
    """One CAPA line: the tag (upper-cased) and its arguments as sent."""

    tag: str
    args: tuple[str, ...]
    line: str


def parse_capa_lines(lines: list[bytes] | list[str]) -> list[Capability]:
    """The capabilities of a CAPA answer's body (RFC 2449 section 5), one per non-empty line."""
    out = []
    for raw in lines:
        line = raw.decode("latin-1") if isinstance(raw, bytes) else raw
        words = line.split()
        if words:
            out.append(Capability(words[0].upper(), tuple(words[1:]), line))
    return out


def capability_names(lines: list[str]) -> frozenset[str]:
    """Capability names from CAPA lines, upper-cased: the first word of each,
    and ``NAME=ARG`` for each of its arguments (``SASL=PLAIN``), so that a
    scenario can need one mechanism or one argument."""
    names: set[str] = set()
    for capa in parse_capa_lines(lines):
        names.add(capa.tag)
        names.update(f"{capa.tag}={arg.upper()}" for arg in capa.args)
    return frozenset(names)


def apop_timestamp(greeting: str) -> str | None:
    """The ``<...>`` timestamp of a greeting (RFC 1939 section 7, APOP), if it has one."""
    _, lt, rest = greeting.partition("<")
    stamp, gt, _ = rest.partition(">")
    return f"<{stamp}>" if lt and gt else None


def sasl_challenge(response: Response) -> bytes | None:
    """The decoded challenge of a "+ base64" line (RFC 5034 section 4); None if not base64."""
    if response.kind != "continuation":
        return None
    text = response.text.strip()
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def excerpt(data: bytes) -> bytes:
    """The first octets of something large, for a transcript or a report."""
    return data[:EXCERPT]
