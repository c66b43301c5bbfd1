"""Encoding commands and byte-stuffing bodies (RFC 1939 section 3)."""

from __future__ import annotations

from conformance.pop3.errors import LocalProtocolError
from conformance.pop3.events import CRLF, Response
from conformance.pop3.reader import ResponseReader
from conformance.pop3.states import Shape


def encode_command(line: str) -> bytes:
    """Encode one command line (keyword and arguments, already joined) with CRLF.

    Scenarios may send anything with raw bytes; this path is for well-formed
    commands and refuses a CR, LF or NUL inside the line (a local error: the
    harness's, not the server's).
    """
    if "\r" in line or "\n" in line or "\0" in line:
        raise LocalProtocolError(f"a command line cannot contain CR, LF or NUL: {line!r}")
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
