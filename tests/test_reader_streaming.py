"""The reader against a line-by-line reference: any body, cut into any chunks."""

from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from conformance.pop3 import Limits, NeedData, Response, ResponseReader, Shape

_LINE = st.binary(max_size=40).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b""))
_LINES = st.lists(st.one_of(_LINE, _LINE.map(lambda b: b"." + b)), max_size=30)


def stuffed(lines: list[bytes], bare_lf: set[int]) -> bytes:
    out = b"+OK\r\n"
    for i, line in enumerate(lines):
        out += (b"." + line if line.startswith(b".") else line) + (
            b"\n" if i in bare_lf else b"\r\n"
        )
    return out + b".\r\n"


def read(wire: bytes, cuts: list[int], limits: Limits | None = None) -> Response:
    reader = ResponseReader(limits or Limits())
    reader.expect(Shape.MULTI)
    points = [*sorted({c % (len(wire) + 1) for c in cuts}), len(wire)]
    start = 0
    for point in points:
        if point == start:
            continue  # b"" would say the server closed
        reader.receive_data(wire[start:point])
        start = point
        event = reader.next_event()
        if not isinstance(event, NeedData):
            return event
    raise AssertionError("no event")


@settings(max_examples=300, deadline=None)
@given(_LINES, st.lists(st.integers(min_value=0), max_size=8), st.sets(st.integers(0, 30)))
def test_any_body_in_any_chunks(lines: list[bytes], cuts: list[int], bare: set[int]) -> None:
    bare = {i for i in bare if i < len(lines)}
    wire = stuffed(lines, bare) + b"+OK next\r\n"
    response = read(wire, cuts)
    assert response.kind == "multi"
    payload = b"".join(line + b"\r\n" for line in lines)
    assert response.lines == lines
    assert response.payload == payload
    assert response.payload_sha256 == hashlib.sha256(payload).hexdigest()
    assert response.payload_octets == len(payload)
    assert response.line_count == len(lines)
    assert response.octets == len(stuffed(lines, bare))
    assert bool(bare) == any(f.code == "multiline-bare-lf" for f in response.findings)


@settings(max_examples=100, deadline=None)
@given(_LINES, st.integers(min_value=1, max_value=200))
def test_beyond_the_keep_bound_only_a_digest_is_kept(lines: list[bytes], keep: int) -> None:
    wire = stuffed(lines, set())
    response = read(wire, [], Limits(keep=keep))
    payload = b"".join(line + b"\r\n" for line in lines)
    assert response.payload_sha256 == hashlib.sha256(payload).hexdigest()
    assert response.truncated == (len(payload) > keep)
    assert response.lines == lines[: len(response.lines)]
    assert sum(len(x) + 2 for x in response.lines) <= keep


def test_an_answer_over_the_response_bound_is_an_overflow() -> None:
    wire = b"+OK\r\n" + b"x" * 50 + b"\r\n" + b"y" * 50 + b"\r\n"
    response = read(wire, [], Limits(max_response=80))
    assert response.kind == "overflow"
    assert [f.code for f in response.findings] == ["response-too-long"]


def test_a_line_over_the_line_bound_is_an_overflow_not_a_close() -> None:
    reader = ResponseReader(Limits(max_line=1000))
    reader.receive_data(b"+OK " + b"z" * 2000)
    event = reader.next_event()
    assert isinstance(event, Response) and event.kind == "overflow"
    assert [f.code for f in event.findings] == ["status-too-long"]
    assert len(event.status_line) <= 80
