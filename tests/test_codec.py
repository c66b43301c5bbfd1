"""The sans-IO codec: status lines, multi-line bodies, findings, round trips."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

from conformance.pop3 import (
    NEED_DATA,
    LocalProtocolError,
    Response,
    ResponseReader,
    Shape,
    encode_command,
    parse_status_line,
    stuff,
    unstuff,
)


def read_all(data: bytes, shapes: list[Shape], chunks: list[int] | None = None) -> list[Response]:
    """Feed ``data`` (split at ``chunks`` offsets) and collect one response per shape."""
    reader = ResponseReader()
    cuts = sorted(set(chunks or []))
    pieces, prev = [], 0
    for c in cuts:
        pieces.append(data[prev:c])
        prev = c
    pieces.append(data[prev:])
    out: list[Response] = []
    shape_iter = iter(shapes)
    reader.expect(next(shape_iter))
    for piece in pieces:
        if piece:
            reader.receive_data(piece)
        while True:
            event = reader.next_event()
            if event is NEED_DATA:
                break
            assert isinstance(event, Response)
            out.append(event)
            nxt = next(shape_iter, None)
            if nxt is None:
                return out
            reader.expect(nxt)
    reader.receive_data(b"")
    event = reader.next_event()
    if isinstance(event, Response):
        out.append(event)
    return out


def codes(resp: Response) -> list[str]:
    return [f.code for f in resp.findings]


class TestStatusLine:
    def test_positive(self) -> None:
        r = parse_status_line(b"+OK 2 320\r\n")
        assert (r.status, r.text, r.code, r.findings) == ("+OK", "2 320", None, [])

    def test_negative_with_code(self) -> None:
        r = parse_status_line(b"-ERR [IN-USE] maildrop locked\r\n")
        assert r.status == "-ERR"
        assert r.code == ("IN-USE",)
        assert r.text == "maildrop locked"

    def test_hierarchical_code(self) -> None:
        r = parse_status_line(b"-ERR [SYS/TEMP] try later\r\n")
        assert r.code == ("SYS", "TEMP")
        assert r.code_text == "SYS/TEMP"

    def test_bare_status(self) -> None:
        assert parse_status_line(b"+OK\r\n").findings == []

    def test_lower_case_is_a_finding(self) -> None:
        r = parse_status_line(b"+ok fine\r\n")
        assert r.status == "+OK"
        assert codes(r) == ["lower-case-status"]
        assert r.findings[0].requirement == "RFC1939-3-7"

    def test_mixed_case_err(self) -> None:
        assert codes(parse_status_line(b"-Err nope\r\n")) == ["lower-case-status"]

    def test_bare_lf(self) -> None:
        r = parse_status_line(b"+OK\n")
        assert r.status == "+OK"
        assert codes(r) == ["bare-lf"]

    def test_too_long(self) -> None:
        line = b"+OK " + b"x" * 507 + b"\r\n"
        assert len(line) == 513
        assert codes(parse_status_line(line)) == ["status-too-long"]
        assert codes(parse_status_line(line[:-3] + b"\r\n")) == []

    def test_no_space_after_status(self) -> None:
        r = parse_status_line(b"+OKfoo\r\n")
        assert codes(r) == ["bad-status"]

    def test_garbage(self) -> None:
        r = parse_status_line(b"\x00\xffhello\r\n")
        assert r.status is None
        assert codes(r) == ["not-a-status"]

    def test_malformed_code(self) -> None:
        r = parse_status_line(b"-ERR [IN-USE maildrop locked\r\n")
        assert codes(r) == ["bad-response-code"]
        assert r.code is None

    def test_continuation(self) -> None:
        r = parse_status_line(b"+ \r\n")
        assert r.kind == "continuation"


class TestMultiLine:
    def test_list(self) -> None:
        (r,) = read_all(b"+OK 2 messages\r\n1 120\r\n2 200\r\n.\r\n", [Shape.MULTI])
        assert r.kind == "multi"
        assert r.lines == [b"1 120", b"2 200"]
        assert r.octets == len(b"+OK 2 messages\r\n1 120\r\n2 200\r\n.\r\n")

    def test_err_to_multi_command_is_single(self) -> None:
        rs = read_all(b"-ERR no such message\r\n+OK\r\n", [Shape.MULTI, Shape.SINGLE])
        assert [r.kind for r in rs] == ["status", "status"]

    def test_unstuffing(self) -> None:
        wire = b"+OK\r\n..\r\n...\r\n..foo\r\n.. \r\nplain\r\n.\r\n"
        (r,) = read_all(wire, [Shape.MULTI])
        assert r.lines == [b".", b"..", b".foo", b". ", b"plain"]
        assert r.payload == b".\r\n..\r\n.foo\r\n. \r\nplain\r\n"

    def test_empty_body(self) -> None:
        (r,) = read_all(b"+OK\r\n.\r\n", [Shape.MULTI])
        assert r.lines == [] and r.payload == b""

    def test_head_lines_are_the_first_lines_whatever_the_count(self) -> None:
        # The body is kept whole and split on demand; a transcript takes only its head.
        wire = b"+OK\r\na\r\n\r\n..b\r\nc\r\n.\r\n"
        (r,) = read_all(wire, [Shape.MULTI], chunks=[7, 12])
        assert r.lines == [b"a", b"", b".b", b"c"]
        for count in range(7):
            assert r.head_lines(count) == r.lines[:count]
        (empty,) = read_all(b"+OK\r\n.\r\n", [Shape.MULTI])
        assert empty.head_lines(3) == []

    def test_missing_terminator_at_eof(self) -> None:
        (r,) = read_all(b"+OK\r\nline\r\npartial", [Shape.MULTI])
        assert r.kind == "closed"
        assert "missing-terminator" in codes(r)
        assert r.lines == [b"line"]
        assert r.partial == b"partial"

    def test_bare_lf_in_body_reported_once(self) -> None:
        (r,) = read_all(b"+OK\r\na\nb\n.\r\n", [Shape.MULTI])
        assert r.lines == [b"a", b"b"]
        assert codes(r) == ["multiline-bare-lf"]

    def test_stray_bytes_stay_pending(self) -> None:
        reader = ResponseReader()
        reader.expect(Shape.MULTI)
        reader.receive_data(b"+OK\r\n.\r\nJUNK")
        event = reader.next_event()
        assert isinstance(event, Response)
        assert reader.pending() == b"JUNK"

    def test_closed_before_anything(self) -> None:
        reader = ResponseReader()
        reader.receive_data(b"")
        event = reader.next_event()
        assert isinstance(event, Response) and event.kind == "closed"

    def test_need_data(self) -> None:
        reader = ResponseReader()
        reader.receive_data(b"+OK no line end yet")
        assert reader.next_event() is NEED_DATA

    def test_multi_if_no_arg_must_be_resolved(self) -> None:
        with pytest.raises(ValueError):
            ResponseReader().expect(Shape.MULTI_IF_NO_ARG)


class TestEncode:
    def test_crlf(self) -> None:
        assert encode_command("RETR 1") == b"RETR 1\r\n"

    @pytest.mark.parametrize("bad", ["RETR 1\r\n", "A\nB", "X\x00"])
    def test_refuses_line_breaks(self, bad: str) -> None:
        with pytest.raises(LocalProtocolError):
            encode_command(bad)


# -- properties ----------------------------------------------------------------

line_text = hs.binary(max_size=40).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b""))
# Lines that often start with the termination octet: the case stuffing exists for.
dotty_line = hs.one_of(line_text, line_text.map(lambda b: b"." + b), hs.just(b"."))
payloads = hs.lists(dotty_line, max_size=30).map(lambda ls: b"".join(x + b"\r\n" for x in ls))


@settings(max_examples=300, deadline=None)
@given(payloads)
def test_stuff_then_unstuff_is_identity(payload: bytes) -> None:
    assert unstuff(stuff(payload)) == payload


@settings(max_examples=300, deadline=None)
@given(payloads)
def test_stuffed_body_has_no_early_terminator(payload: bytes) -> None:
    wire = stuff(payload)
    assert wire.endswith(b".\r\n")
    lines = wire.split(b"\r\n")[:-2]
    assert b"." not in lines


@settings(max_examples=200, deadline=None)
@given(payloads, hs.lists(hs.integers(min_value=0, max_value=2000), max_size=12))
def test_any_split_parses_the_same(payload: bytes, cuts: list[int]) -> None:
    wire = b"+OK greeting\r\n" + b"+OK body\r\n" + stuff(payload) + b"-ERR [IN-USE] x\r\n"
    shapes = [Shape.SINGLE, Shape.MULTI, Shape.SINGLE]
    whole = read_all(wire, shapes)
    split = read_all(wire, shapes, [c % (len(wire) + 1) for c in cuts])
    assert [(r.kind, r.status, r.code, r.lines, r.octets) for r in whole] == [
        (r.kind, r.status, r.code, r.lines, r.octets) for r in split
    ]
    assert whole[1].payload == payload
    assert sum(r.octets for r in whole) == len(wire)
