"""Bytes in, responses out: the reader of server answers (the h11 shape).

Bytes go in with :meth:`ResponseReader.receive_data`; :meth:`next_event`
gives a :class:`~conformance.pop3.events.Response` or :data:`NEED_DATA`.  The
caller says the shape of the next answer with :meth:`expect` (the shape comes
from the transition table: "+OK" opens a multi-line body only for some
commands).

Everything is bounded while streaming, never afterwards: a line may not
outgrow ``Limits.max_line`` and a multi-line answer ``Limits.max_response``
(an answer that does is an "overflow" event, and the stream after it cannot
be trusted); of a body only the first ``Limits.keep`` octets are kept line
by line, the rest is counted and hashed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Final

from conformance.pop3.events import CRLF, EXCERPT, Finding, Response, finding
from conformance.pop3.grammar import parse_status_line
from conformance.pop3.states import Shape


@dataclass(frozen=True)
class Limits:
    """The reader's bounds, in octets."""

    max_line: int = 1 << 20
    max_response: int = 256 << 20
    keep: int = 8 << 20

    def __post_init__(self) -> None:
        if min(self.max_line, self.max_response, self.keep) <= 0:
            raise ValueError("reader limits must be positive")


DEFAULT_LIMITS: Final = Limits()


class NeedData:
    """Sentinel: the reader needs more bytes before it can produce an event."""

    def __repr__(self) -> str:
        return "NEED_DATA"


NEED_DATA: Final = NeedData()


class _Body:
    """A multi-line body in progress: kept lines, counts and the running digest."""

    def __init__(self, head: Response) -> None:
        self.head = head
        self.lines: list[bytes] = []
        self.octets = head.octets  # on the wire, status line included
        self.kept = 0
        self.payload_octets = 0
        self.line_count = 0
        self.truncated = False
        self.findings: list[Finding] = list(head.findings)
        self.hasher = hashlib.sha256()

    def add(self, content: bytes, keep: int) -> None:
        piece = content + CRLF
        self.hasher.update(piece)
        self.payload_octets += len(piece)
        self.line_count += 1
        if not self.truncated and self.kept + len(piece) <= keep:
            self.lines.append(content)
            self.kept += len(piece)
        else:
            self.truncated = True

    def finish(self, kind: str, partial: bytes = b"") -> Response:
        head = self.head
        return Response(
            kind=kind,
            status=head.status,
            code=head.code,
            text=head.text,
            status_line=head.status_line,
            lines=self.lines,
            octets=self.octets,
            findings=self.findings,
            partial=partial,
            truncated=self.truncated,
            payload_octets=self.payload_octets,
            payload_sha256=self.hasher.hexdigest(),
            line_count=self.line_count,
        )


class ResponseReader:
    """Buffers bytes from the server and cuts them into responses."""

    def __init__(self, limits: Limits = DEFAULT_LIMITS) -> None:
        self.limits = limits
        self._buf = bytearray()
        self._eof = False
        self._shape: Shape = Shape.SINGLE
        self._body: _Body | None = None
        # Octets of an over-long line already dropped (counted, not kept).
        self._skipped = 0

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
            raise ValueError("resolve MULTI_IF_NO_ARG with transitions.resolve_shape first")
        self._shape = shape

    @property
    def eof(self) -> bool:
        return self._eof

    @property
    def in_progress(self) -> bool:
        """Whether part of an answer has been read (a multi-line body, or part of a line)."""
        return self._body is not None or bool(self._buf)

    def pending(self) -> bytes:
        """Bytes received but not yet part of any response."""
        return bytes(self._buf)

    def take_pending(self) -> bytes:
        data = bytes(self._buf)
        self._buf.clear()
        return data

    # -- output ----------------------------------------------------------
    def next_event(self) -> Response | NeedData:
        """The next complete response, a "closed" or "overflow" response, or NEED_DATA."""
        if self._body is None:
            head = self._read_status()
            if not isinstance(head, Response):
                return head
            if self._shape is not Shape.MULTI or head.status != "+OK" or head.kind != "status":
                return head
            self._body = _Body(head)
        return self._read_body(self._body)

    def _read_status(self) -> Response | NeedData:
        nl = self._buf.find(b"\n")
        if nl < 0:
            if len(self._buf) > self.limits.max_line:
                size = len(self._buf)
                head = bytes(self._buf[:EXCERPT])
                self._buf.clear()
                parsed = parse_status_line(head, length=size)
                return Response(
                    kind="overflow",
                    status=parsed.status,
                    status_line=head,
                    octets=size,
                    findings=parsed.findings,
                    partial=head,
                )
            if self._eof:
                return self._closed(bytes(self._buf))
            return NEED_DATA
        raw = bytes(self._buf[: nl + 1])
        del self._buf[: nl + 1]
        return parse_status_line(raw)

    def _closed(self, partial: bytes) -> Response:
        self._buf.clear()
        return Response(kind="closed", partial=partial[:EXCERPT], octets=len(partial))

    def _read_body(self, body: _Body) -> Response | NeedData:
        buf = self._buf
        keep = self.limits.keep
        start = 0
        result: Response | None = None
        while True:
            nl = buf.find(b"\n", start)
            if nl < 0:
                break
            line = bytes(buf[start : nl + 1])
            start = nl + 1
            body.octets += len(line)
            if line.endswith(b"\r\n"):
                content = line[:-2]
            else:
                content = line[:-1]
                if not any(f.code == "multiline-bare-lf" for f in body.findings):
                    body.findings.append(
                        finding("multiline-bare-lf", f"body line ends in a bare LF: {line[:60]!r}")
                    )
            if content == b".":
                result = body.finish("multi")
                break
            if content.startswith(b"."):
                content = content[1:]
            body.add(content, keep)
            if body.octets > self.limits.max_response:
                body.findings.append(
                    finding(
                        "response-too-long",
                        f"over {self.limits.max_response} octets without a terminator",
                    )
                )
                result = body.finish("overflow")
                break
        del buf[:start]
        if result is not None:
            self._body = None
            return result
        if len(buf) > self.limits.max_line:
            body.octets += len(buf)
            body.findings.append(
                finding("response-too-long", f"a body line over {self.limits.max_line} octets")
            )
            partial = bytes(buf[:EXCERPT])
            buf.clear()
            self._body = None
            return body.finish("overflow", partial)
        if self._eof:
            body.findings.append(
                finding("missing-terminator", "the multi-line response has no '.' CRLF line")
            )
            partial = bytes(buf)
            body.octets += len(partial)
            buf.clear()
            self._body = None
            return body.finish("closed", partial[:EXCERPT])
        return NEED_DATA
