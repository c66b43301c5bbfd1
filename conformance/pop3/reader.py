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
import re
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

# Enum members bound once: on Python 3.11 every ``Shape.X`` goes through
# EnumType.__getattr__ (a hook call, ~100 ns), and this is the path of every answer.
_MULTI: Final = Shape.MULTI


class _Body:
    """A multi-line body in progress: the kept blocks, counts and the running digest."""

    def __init__(self, head: Response) -> None:
        self.head = head
        # Unstuffed blocks of whole lines, kept as they came: split into lines
        # only if someone asks (Response.lines), since most bodies are judged
        # by their digest and a 1 MB message is 14,000 lines.
        self.blocks: list[bytes] = []
        self.octets = head.octets  # on the wire, status line included
        self.kept = 0
        self.payload_octets = 0
        self.line_count = 0
        self.truncated = False
        self.findings: list[Finding] = list(head.findings)
        self.hasher = hashlib.sha256()

    def add_block(self, block: bytes, keep: int, dots: list[int] | None = None) -> None:
        """Complete wire lines (each ending in LF, none the terminator), in one go.

        Done on whole blocks rather than line by line: a 50 MB RETR is a
        million lines, and a Python loop over them costs more than the wire.
        ``dots`` are the offsets in ``block`` of the dots that stuff its lines
        after the first, when the caller's scan for the terminator found them
        already (None: they are looked for here).
        """
        self.octets += len(block)
        lines = block.count(b"\n")
        payload = _unstuff(block, dots)
        # Undoing the stuffing moves no line end: a CRLF short is a bare LF.
        if payload.count(CRLF) != lines:
            self._bare_lf(block)
            block = _BARE_LF.sub(b"\r\n", block)
            payload = _unstuff(block, None)
        self.hasher.update(payload)
        self.payload_octets += len(payload)
        self.line_count += lines
        if self.truncated:
            return
        if self.kept + len(payload) <= keep:
            self.blocks.append(payload)
            self.kept += len(payload)
            return
        # Keep whole lines up to the bound, then only count and hash.
        room = payload[: max(0, keep - self.kept)]
        whole = room[: room.rfind(CRLF) + 2] if CRLF in room else b""
        self.blocks.append(whole)
        self.kept += len(whole)
        self.truncated = True

    def _bare_lf(self, block: bytes) -> None:
        if any(f.code == "multiline-bare-lf" for f in self.findings):
            return
        bare = _BARE_LF.search(block)
        start = block.rfind(b"\n", 0, bare.start()) + 1 if bare else 0
        shown = block[start : start + 60]
        detail = f"body line ends in a bare LF: {shown!r}"
        self.findings.append(finding("multiline-bare-lf", detail))

    def finish(self, kind: str, partial: bytes = b"") -> Response:
        head = self.head
        return Response(
            kind=kind,
            status=head.status,
            code=head.code,
            text=head.text,
            status_line=head.status_line,
            body=b"".join(self.blocks),
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
    def body_octets(self) -> int | None:
        """Octets of a multi-line answer read so far (None when none is in progress)."""
        return None if self._body is None else self._body.octets

    @property
    def has_bytes(self) -> bool:
        """Whether received bytes wait to be parsed."""
        return bool(self._buf)

    @property
    def has_input(self) -> bool:
        """Unparsed bytes, or the end of the stream: :meth:`next_event` may have news."""
        return bool(self._buf) or self._eof

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
    def next_event(self, shape: Shape | None = None) -> Response | NeedData:
        """The next complete response, a "closed" or "overflow" response, or NEED_DATA.

        ``shape`` is :meth:`expect` in the same call.
        """
        if shape is not None:
            self._shape = shape
        body = self._body
        if body is None:
            # The status line (every answer's path, so written out here).
            buf = self._buf
            nl = buf.find(b"\n")
            if nl < 0:
                return self._no_status_line()
            if nl + 1 == len(buf):  # the usual case: the buffer holds just this line
                raw = bytes(buf)
                buf.clear()
            else:
                raw = bytes(buf[: nl + 1])
                del buf[: nl + 1]
            head = parse_status_line(raw)
            if self._shape is not _MULTI or head.status != "+OK" or head.kind != "status":
                return head
            body = self._body = _Body(head)
        return self._read_body(body)

    def _no_status_line(self) -> Response | NeedData:
        """No whole status line yet: wait, or end on a line too long or a close."""
        buf = self._buf
        if len(buf) > self.limits.max_line:
            size = len(buf)
            head = bytes(buf[:EXCERPT])
            buf.clear()
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
            return self._closed(bytes(buf))
        return NEED_DATA

    def _closed(self, partial: bytes) -> Response:
        self._buf.clear()
        return Response(kind="closed", partial=partial[:EXCERPT], octets=len(partial))

    def _read_body(self, body: _Body) -> Response | NeedData:
        buf = self._buf
        end = buf.rfind(b"\n") + 1  # complete lines only
        terminator, dots = _dot_lines(buf, end)
        if terminator is not None:
            at, after = terminator
            body.add_block(bytes(buf[:at]), self.limits.keep, dots)
            body.octets += after - at
            if after - at == 2 and not any(f.code == "multiline-bare-lf" for f in body.findings):
                body.findings.append(finding("multiline-bare-lf", "the '.' line ends in a bare LF"))
            del buf[:after]
            self._body = None
            return body.finish("multi")
        if end:
            body.add_block(bytes(buf[:end]), self.limits.keep, dots)
            del buf[:end]
            if body.octets > self.limits.max_response:
                body.findings.append(
                    finding(
                        "response-too-long",
                        f"over {self.limits.max_response} octets without a terminator",
                    )
                )
                self._body = None
                return body.finish("overflow")
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


_BARE_LF: Final = re.compile(rb"(?<!\r)\n")


def _dot_lines(buf: bytearray, end: int) -> tuple[tuple[int, int] | None, list[int]]:
    """The lines of ``buf[:end]`` that start with a dot, in one pass.

    Returns where the "." line that ends a body starts and ends (None if it
    has not come), and the offsets of the dots that start the lines after
    the first and before that one (byte-stuffing to undo).
    """
    for line in (b".\r\n", b".\n"):
        if buf.startswith(line):
            return (0, len(line)), []
    dots: list[int] = []
    at = buf.find(b"\n.", 0, end)
    while at >= 0:
        # The line after the LF is whole (it ends before ``end``).
        rest = buf[at + 2 : at + 4]
        if rest == b"\r\n":
            return (at + 1, at + 4), dots
        if rest[:1] == b"\n":
            return (at + 1, at + 3), dots
        dots.append(at + 1)
        at = buf.find(b"\n.", at + 2, end)
    return None, dots


def _unstuff(block: bytes, dots: list[int] | None) -> bytes:
    """``block`` with the byte-stuffing undone (RFC 1939 section 3): a line that
    starts with the termination octet has that octet removed.

    ``dots`` are the offsets of those octets after the first line, if known.
    """
    first = 1 if block.startswith(b".") else 0
    if dots is None:
        return block[first:].replace(b"\n.", b"\n")
    if not dots:
        return block[first:] if first else block
    view = memoryview(block)
    pieces = []
    for at in dots:
        pieces.append(view[first:at])
        first = at + 1
    pieces.append(view[first:])
    return b"".join(pieces)
