"""The wire codec: POP3 without sockets.

Bytes go in with :meth:`ResponseReader.receive_data`, responses come out of
:meth:`ResponseReader.next_event` (the h11 shape).  The reader never raises on
what a server sends: a lower-case ``+ok``, a bare LF, an over-long status line,
a malformed response code or a missing terminator are parsed as well as they
can be and come back as :class:`Finding` objects that a check grades.

Commands are encoded by :func:`encode_command`.  Byte-stuffing helpers used by
the tests and the message corpus live here too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final

from conformance.protocol import Shape

CRLF: Final = b"\r\n"
MAX_STATUS_LINE: Final = 512  # RFC 1939 section 3, RFC 2449 section 3, CRLF included
MAX_COMMAND_LINE: Final = 255  # RFC 2449 section 4, CRLF included
# Bounds that keep a hostile server from exhausting memory ("endless output").
MAX_UNTERMINATED_LINE: Final = 1 << 20
MAX_RESPONSE: Final = 256 << 20


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
    "multiline-bare-lf": "RFC1939-3-8",
    "missing-terminator": "RFC1939-3-8",
    "response-too-long": "RFC1939-3-8",
}


def _finding(code: str, detail: str) -> Finding:
    return Finding(code, FINDING_REQUIREMENTS[code], detail)


@dataclass
class Response:
    """One server response (or what stood in its place: a timeout or a close).

    ``kind`` is ``"status"`` for a single line, ``"multi"`` for a multi-line
    response, ``"continuation"`` for a SASL ``+ ...`` line, ``"closed"`` when
    the connection ended before a whole response arrived and ``"timeout"``
    when the deadline passed first (set by the transport, never by the codec).
    """

    kind: str
    status: str | None = None  # "+OK", "-ERR", "+" (continuation) or None
    code: tuple[str, ...] | None = None  # extended response code, split at "/"
    text: str = ""  # the status line after the indicator (and code), decoded latin-1
    status_line: bytes = b""  # the status line as received, with its line end
    lines: list[bytes] = field(default_factory=list)  # multi-line body, unstuffed, no CRLF
    octets: int = 0  # exact number of octets received for this response
    findings: list[Finding] = field(default_factory=list)
    partial: bytes = b""  # what arrived before a close or a timeout
    elapsed_ms: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == "+OK"

    @property
    def err(self) -> bool:
        return self.status == "-ERR"

    @property
    def payload(self) -> bytes:
        """The multi-line body as the message it carries: unstuffed lines joined by CRLF."""
        if not self.lines:
            return b""
        return CRLF.join(self.lines) + CRLF

    @property
    def code_text(self) -> str | None:
        return "/".join(self.code) if self.code is not None else None

    def describe(self) -> str:
        """A one-line human description, for Expected / Actual."""
        if self.kind == "timeout":
            return f"no complete response before the deadline (partial: {self.partial[:80]!r})"
        if self.kind == "closed":
            return f"connection closed (partial: {self.partial[:80]!r})"
        line = self.status_line.rstrip(b"\r\n").decode("latin-1")
        if self.kind == "multi":
            return f"{line} (+{len(self.lines)} lines)"
        return line


class NeedData:
    """Sentinel: the reader needs more bytes before it can produce an event."""

    def __repr__(self) -> str:
        return "NEED_DATA"


NEED_DATA: Final = NeedData()

_STATUS = re.compile(rb"^(\+OK|-ERR)(?: (.*))?$", re.DOTALL)
_STATUS_ANYCASE = re.compile(rb"^(\+ok|-err)(.*)$", re.DOTALL | re.IGNORECASE)
# RFC 2449 section 3: rchar = %x21-2E / %x30-5C / %x5E-7F ("/" and "]" excluded).
_RESP_CODE = re.compile(
    r"^\[([\x21-\x2e\x30-\x5c\x5e-\x7f]+(?:/[\x21-\x2e\x30-\x5c\x5e-\x7f]+)*)\]"
)


def parse_status_line(raw: bytes) -> Response:
    """Parse one status line (with its line end) into a Response of kind "status".

    Deviations become findings; the status is still recovered where it can be
    so that the rest of the exchange can be judged.
    """
    findings: list[Finding] = []
    if raw.endswith(b"\r\n"):
        body = raw[:-2]
    elif raw.endswith(b"\n"):
        body = raw[:-1]
        findings.append(_finding("bare-lf", "status line ends in a bare LF"))
    else:
        body = raw
    if len(raw) > MAX_STATUS_LINE:
        findings.append(
            _finding("status-too-long", f"status line is {len(raw)} octets (at most 512)")
        )
    if body.startswith(b"+ ") or body == b"+":
        # A SASL continuation (RFC 5034): "+" SP base64.
        return Response(
            kind="continuation",
            status="+",
            text=body[2:].decode("latin-1"),
            status_line=raw,
            octets=len(raw),
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
                _finding(
                    "lower-case-status", f"status indicator {loose.group(1)!r} is not upper case"
                )
            )
            status = loose.group(1).upper().decode()
            rest = loose.group(2).removeprefix(b" ")
        elif loose:
            # "+OKfoo": the indicator must be followed by SP or the line end.
            findings.append(
                _finding("bad-status", f"no space after the status indicator: {body[:40]!r}")
            )
            status, rest = loose.group(1).decode(), loose.group(2)
        else:
            findings.append(_finding("not-a-status", f"not a status line: {body[:60]!r}"))
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
                _finding("bad-response-code", f"malformed response code in {text[:60]!r}")
            )
    return Response(
        kind="status",
        status=status,
        code=code,
        text=text,
        status_line=raw,
        octets=len(raw),
        findings=findings,
    )


class ResponseReader:
    """Buffers bytes from the server and cuts them into responses.

    The caller says what it expects next with :meth:`expect` (the shape comes
    from :mod:`conformance.protocol`); the reader cannot know it by itself,
    since "+OK" opens a multi-line body only for some commands.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._eof = False
        self._shape: Shape = Shape.SINGLE
        # Parse state of a multi-line response in progress.
        self._head: Response | None = None
        self._scan = 0  # offset up to which the buffer has been split into lines
        self._lines: list[bytes] = []
        self._octets = 0
        self._findings: list[Finding] = []

    # -- input -----------------------------------------------------------
    def receive_data(self, data: bytes) -> None:
        """Feed bytes from the server; ``b""`` means the server closed its side."""
        if data:
            self._buf += data
        else:
            self._eof = True

    def expect(self, shape: Shape) -> None:
        """Say the shape of the next response (SINGLE or MULTI)."""
        if shape is Shape.MULTI_IF_NO_ARG:
            raise ValueError("resolve MULTI_IF_NO_ARG with protocol.response_shape first")
        self._shape = shape

    @property
    def eof(self) -> bool:
        return self._eof

    def pending(self) -> bytes:
        """Bytes received but not yet part of any response."""
        return bytes(self._buf)

    def take_pending(self) -> bytes:
        data = bytes(self._buf)
        self._buf.clear()
        return data

    # -- output ----------------------------------------------------------
    def next_event(self) -> Response | NeedData:
        """The next complete response, a "closed" response, or NEED_DATA."""
        if self._head is None:
            head = self._read_status()
            if not isinstance(head, Response):
                return head
            if self._shape is not Shape.MULTI or head.status != "+OK":
                return head
            self._head = head
            self._octets = head.octets
            self._findings = list(head.findings)
            self._lines = []
        return self._read_body()

    def _read_status(self) -> Response | NeedData:
        nl = self._buf.find(b"\n")
        if nl < 0:
            if self._eof or len(self._buf) > MAX_UNTERMINATED_LINE:
                return self._closed(bytes(self._buf))
            return NEED_DATA
        raw = bytes(self._buf[: nl + 1])
        del self._buf[: nl + 1]
        return parse_status_line(raw)

    def _closed(self, partial: bytes) -> Response:
        self._buf.clear()
        return Response(kind="closed", partial=partial, octets=len(partial))

    def _read_body(self) -> Response | NeedData:
        assert self._head is not None
        buf = self._buf
        start = 0
        while True:
            nl = buf.find(b"\n", start)
            if nl < 0:
                break
            line = bytes(buf[start : nl + 1])
            start = nl + 1
            self._octets += len(line)
            if line.endswith(b"\r\n"):
                content = line[:-2]
            else:
                content = line[:-1]
                if not any(f.code == "multiline-bare-lf" for f in self._findings):
                    self._findings.append(
                        _finding("multiline-bare-lf", f"body line ends in a bare LF: {line[:60]!r}")
                    )
            if content == b".":
                del buf[:start]
                return self._finish_body()
            if content.startswith(b"."):
                content = content[1:]
            self._lines.append(content)
            if self._octets > MAX_RESPONSE:
                del buf[:start]
                self._findings.append(
                    _finding(
                        "response-too-long", f"over {MAX_RESPONSE} octets without a terminator"
                    )
                )
                return self._finish_body(kind="closed")
        del buf[:start]
        if self._eof or len(buf) > MAX_UNTERMINATED_LINE:
            self._findings.append(
                _finding("missing-terminator", "the multi-line response has no '.' CRLF line")
            )
            partial = bytes(buf)
            self._octets += len(partial)
            buf.clear()
            return self._finish_body(kind="closed", partial=partial)
        return NEED_DATA

    def _finish_body(self, kind: str = "multi", partial: bytes = b"") -> Response:
        assert self._head is not None
        head = self._head
        resp = Response(
            kind=kind,
            status=head.status,
            code=head.code,
            text=head.text,
            status_line=head.status_line,
            lines=self._lines,
            octets=self._octets,
            findings=self._findings,
            partial=partial,
        )
        self._head = None
        self._lines = []
        self._findings = []
        self._octets = 0
        return resp


# -- encoding ------------------------------------------------------------

_FORBIDDEN_IN_COMMAND = re.compile(r"[\r\n\x00]")


def encode_command(line: str) -> bytes:
    """Encode one command line (keyword and arguments, already joined) with CRLF.

    Scenarios may send anything with raw bytes; this path is for well-formed
    commands and refuses a CR, LF or NUL inside the line.
    """
    if _FORBIDDEN_IN_COMMAND.search(line):
        raise ValueError(f"a command line cannot contain CR, LF or NUL: {line!r}")
    return line.encode("utf-8") + CRLF


def stuff(payload: bytes) -> bytes:
    """Byte-stuff a CRLF-terminated payload and add the termination line.

    The payload is a message with CRLF line ends; a last line without a line
    end gets one, as RFC 1939 section 3 requires before the terminator.
    """
    if payload and not payload.endswith(CRLF):
        payload += CRLF
    lines = payload.split(CRLF)[:-1] if payload else []
    out = bytearray()
    for line in lines:
        if line.startswith(b"."):
            out += b"."
        out += line + CRLF
    out += b".\r\n"
    return bytes(out)


def unstuff(wire: bytes) -> bytes:
    """Inverse of :func:`stuff`: wire body up to and including ".\\r\\n" to payload."""
    reader = ResponseReader()
    reader.expect(Shape.MULTI)
    reader.receive_data(b"+OK\r\n" + wire)
    event = reader.next_event()
    if not isinstance(event, Response) or event.kind != "multi":
        raise ValueError("not a complete multi-line body")
    return event.payload
