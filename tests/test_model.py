"""The mailbox model against hand-written server responses."""

from __future__ import annotations

import random

import pytest

from conformance.messages import Message, corpus
from conformance.model import Discrepancy, Maildrop, SessionModel
from conformance.pop3 import Response, ResponseReader, Shape, State, parse_status_line, stuff


def status(line: str) -> Response:
    return parse_status_line(line.encode("latin-1") + b"\r\n")


def multi(first: str, payload: bytes) -> Response:
    """A multi-line response as a server would send it (stuffed), parsed by the codec."""
    reader = ResponseReader()
    reader.expect(Shape.MULTI)
    reader.receive_data(first.encode() + b"\r\n" + stuff(payload))
    event = reader.next_event()
    assert isinstance(event, Response) and event.kind == "multi"
    return event


def listing(*lines: str) -> Response:
    return multi("+OK", b"".join(line.encode() + b"\r\n" for line in lines))


def state(s: SessionModel) -> State:
    # A function, not the attribute: mypy would keep a narrowed type across calls.
    return s.state


def reqs(found: list[Discrepancy]) -> list[str]:
    return [d.requirement for d in found]


def small() -> list[Message]:
    return corpus("small")


def session(messages: list[Message] | None = None) -> tuple[Maildrop, SessionModel]:
    drop = Maildrop(small() if messages is None else messages)
    s = drop.open_session()
    s.login()
    return drop, s


def sizes(ms: list[Message]) -> list[int]:
    return [m.size for m in ms]


# -- the session's view ---------------------------------------------------------------


def test_login_fixes_numbering_count_and_size() -> None:
    ms = small()
    drop = Maildrop(ms)
    s = drop.open_session()
    assert state(s) is State.AUTHORIZATION
    s.login()
    assert state(s) is State.TRANSACTION
    assert (s.count, s.size, s.last) == (3, sum(sizes(ms)), 3)
    assert s.message(2) == ms[1]
    assert not s.is_deleted(2)
    for bad in (0, 4, -1):
        with pytest.raises(KeyError):
            s.message(bad)
        with pytest.raises(KeyError):
            s.is_deleted(bad)
        with pytest.raises(KeyError):
            s.uid(bad)
    with pytest.raises(RuntimeError):
        s.login()


def test_login_through_user_and_pass() -> None:
    drop = Maildrop(small())
    s = drop.open_session()
    assert s.observe("USER alice", status("+OK")) == []
    assert state(s) is State.AUTHORIZATION_USER
    assert s.observe("PASS wrong", status("-ERR invalid password")) == []
    assert state(s) is State.AUTHORIZATION
    s.observe("USER alice", status("+OK"))
    assert s.observe("PASS right", status("+OK maildrop locked and ready")) == []
    assert state(s) is State.TRANSACTION
    assert s.last == 3


def test_login_through_sasl_exchange() -> None:
    drop = Maildrop(small())
    s = drop.open_session()
    assert s.observe("AUTH PLAIN", parse_status_line(b"+ \r\n")) == []
    assert state(s) is State.AUTHORIZATION_SASL
    # "*" cancels: -ERR is required (RFC 5034), a continuation is not.
    assert reqs(s.check("*", parse_status_line(b"+ \r\n"))) == ["RFC5034-4-6"]
    assert s.observe("*", status("-ERR cancelled")) == []
    assert state(s) is State.AUTHORIZATION
    s.observe("AUTH PLAIN", parse_status_line(b"+ \r\n"))
    assert s.observe("AGFsaWNlAHNlY3JldA==", status("+OK")) == []
    assert state(s) is State.TRANSACTION and s.last == 3


# -- STAT ------------------------------------------------------------------------------


def test_stat_values_and_format() -> None:
    ms = small()
    _, s = session(ms)
    total = sum(sizes(ms))
    exp = s.expect("STAT")
    assert (exp.status, exp.values, exp.requirement) == ("+OK", (3, total), "RFC1939-5.STAT-3")
    assert s.check("STAT", status(f"+OK 3 {total}")) == []
    assert s.check("stat", status(f"+OK 3 {total} extra text")) == []
    assert reqs(s.check("STAT", status(f"+OK 3 {total + 1}"))) == ["RFC1939-5.STAT-3"]
    assert reqs(s.check("STAT", status("+OK three messages"))) == ["RFC1939-5.STAT-1"]
    assert reqs(s.check("STAT", status("-ERR no"))) == ["RFC1939-5.STAT-3"]
    s.observe("DELE 2", status("+OK"))
    exp = s.expect("STAT")
    assert exp.values == (2, total - ms[1].size)
    assert exp.requirement == "RFC1939-5.STAT-2"
    found = s.check("STAT", status(f"+OK 3 {total}"))
    assert reqs(found) == ["RFC1939-5.STAT-2"]
    assert f"{total}" in found[0].actual and "+OK 2" in found[0].expected


# -- LIST ------------------------------------------------------------------------------


def test_list_all() -> None:
    ms = small()
    _, s = session(ms)
    a, b, c = sizes(ms)
    assert s.expect("LIST").requirement == "RFC1939-5.LIST-2"
    assert s.check("LIST", listing(f"1 {a}", f"2 {b}", f"3 {c}")) == []
    # Extra information after the size is discouraged, not wrong.
    assert s.check("LIST", listing(f"1 {a} x", f"2 {b}", f"3 {c}")) == []
    assert reqs(s.check("LIST", listing(f"1 {a}", f"3 {c}"))) == ["RFC1939-5.LIST-2"]
    assert reqs(s.check("LIST", listing(f"1 {a}", f"3 {c}", f"2 {b}"))) == ["RFC1939-5.LIST-2"]
    assert reqs(s.check("LIST", listing(f"1 {a}", f"2 {b}", f"3 {c}", "4 10"))) == [
        "RFC1939-5.LIST-2"
    ]
    found = s.check("LIST", listing(f"1 {a}", f"2 {b - 1}", f"3 {c}"))
    assert reqs(found) == ["RFC1939-5.LIST-5"]
    assert "message 2" in found[0].actual
    assert reqs(s.check("LIST", listing(f"1 {a}", f"2 {b}", f"3\t{c}"))) == [
        "RFC1939-5.LIST-4",
        "RFC1939-5.LIST-2",
    ]
    s.observe("DELE 2", status("+OK"))
    assert s.check("LIST", listing(f"1 {a}", f"3 {c}")) == []
    assert reqs(s.check("LIST", listing(f"1 {a}", f"2 {b}", f"3 {c}"))) == ["RFC1939-5.LIST-6"]
    # Message numbers do not change after DELE (RFC 1939 section 4).
    assert reqs(s.check("LIST", listing(f"1 {a}", f"2 {c}"))) == [
        "RFC1939-5.LIST-6",
        "RFC1939-5.LIST-2",
    ]


def test_list_on_an_empty_maildrop() -> None:
    _, s = session([])
    assert s.check("LIST", multi("+OK 0 messages", b"")) == []
    assert reqs(s.check("LIST", listing("1 100"))) == ["RFC1939-5.LIST-2"]
    assert s.check("STAT", status("+OK 0 0")) == []


def test_list_one() -> None:
    ms = small()
    _, s = session(ms)
    b = ms[1].size
    assert s.expect("LIST 2").values == (2, b)
    assert s.check("LIST 2", status(f"+OK 2 {b}")) == []
    assert reqs(s.check("LIST 2", status(f"+OK 2 {b + 2}"))) == ["RFC1939-5.LIST-5"]
    assert reqs(s.check("LIST 2", status(f"+OK 1 {b}"))) == ["RFC1939-5.LIST-1"]
    assert reqs(s.check("LIST 2", status("+OK"))) == ["RFC1939-5.LIST-1"]
    for arg in ("0", "4", "abc", "-1", "99999999999999999999"):
        exp = s.expect(f"LIST {arg}")
        assert (exp.status, exp.requirement) == ("-ERR", "RFC1939-5.LIST-7"), arg
        assert reqs(s.check(f"LIST {arg}", status("+OK 1 1"))) == ["RFC1939-5.LIST-7"]
        assert s.check(f"LIST {arg}", status("-ERR no such message")) == []
    assert s.expect("LIST 1 2").requirement == "RFC1939-3-12"
    s.observe("DELE 2", status("+OK"))
    assert s.expect("LIST 2").requirement == "RFC1939-5.LIST-6"
    assert reqs(s.check("LIST 2", status(f"+OK 2 {b}"))) == ["RFC1939-5.LIST-6"]


def test_leading_zeros_are_decimal_and_a_refusal_is_recorded() -> None:
    # RFC1939-4-8: "01" is the base-10 number 1; the catalog records a refusal (info).
    ms = small()
    _, s = session(ms)
    assert s.check("LIST 01", status(f"+OK 1 {ms[0].size}")) == []
    refused = s.check("LIST 01", status("-ERR"))
    assert [(d.requirement, d.tolerated) for d in refused] == [("RFC1939-4-8", True)]
    assert s.check("RETR 002", multi("+OK", ms[1].data)) == []
    assert reqs(s.check("RETR 002", multi("+OK", ms[0].data))) == ["RFC1939-5.RETR-1"]
    assert s.expect("LIST 00").status == "-ERR"


def test_numbers_past_2_to_the_32_and_64_name_no_message() -> None:
    ms = small()
    _, s = session(ms)
    for big in (2**32 + 1, 2**64 + 1):
        exp = s.expect(f"RETR {big}")
        assert (exp.status, exp.requirement) == ("-ERR", "RFC1939-5.RETR-3")
        # A server that wraps the number around to 1 answers for message 1.
        assert reqs(s.check(f"RETR {big}", multi("+OK", ms[0].data))) == ["RFC1939-5.RETR-3"]
    # A line count is not a message-number: a huge one asks for the whole message.
    assert s.expect(f"TOP 1 {2**64 + 1}").requirement == "RFC1939-7.TOP-2"


@pytest.mark.parametrize(
    "line", ["LIST  1", "LIST\t1", "LIST 1 ", "LIST\t 1", " LIST 1", "list \t1 "]
)
def test_spacing_is_refused_or_taken_as_single_spaced(line: str) -> None:
    # RFC1939-3-5: "separated by a single SPACE character"; the catalog records a
    # server that takes two spaces or a TAB, if it answers what LIST 1 gets.
    ms = small()
    _, s = session(ms)
    exp = s.expect(line)
    assert (exp.status, exp.tolerated, exp.tolerated_by) == ("-ERR", "+OK", "RFC1939-3-5")
    assert s.check(line, status("-ERR")) == []
    taken = s.check(line, status(f"+OK 1 {ms[0].size}"))
    assert [(d.requirement, d.tolerated) for d in taken] == [("RFC1939-3-5", True)]
    # Taken, but answered wrongly: the content's own requirement is broken.
    wrong = s.check(line, status(f"+OK 1 {ms[0].size + 1}"))
    assert [(d.requirement, d.tolerated) for d in wrong] == [("RFC1939-5.LIST-5", False)]


def test_spacing_around_an_invalid_command_is_no_excuse() -> None:
    _, s = session()
    for line in ("LIST  0", "LIST 1  2", "NOOP\tx", "RETR\t"):
        exp = s.expect(line)
        assert exp.status == "-ERR" and exp.tolerated is None, line
    assert reqs(s.check("LIST  0", status("+OK 0 0"))) == ["RFC1939-5.LIST-7"]
    # A bare CR is no separator: "LIST\r1" must be refused, and taking it is no leniency.
    ms = small()
    exp = s.expect("LIST\r1")
    assert (exp.status, exp.requirement, exp.tolerated) == ("-ERR", "RFC1939-3-12", None)
    assert reqs(s.check("LIST\r1", status(f"+OK 1 {ms[0].size}"))) == ["RFC1939-3-12"]
    assert s.expect("NO\rOP").requirement == "RFC1939-3-12"


# -- RETR, DELE, RSET, NOOP --------------------------------------------------------------


def test_retr_content_is_compared_byte_for_byte() -> None:
    std = corpus("standard")
    _, s = session(std)
    dots = next(n for n, m in enumerate(std, 1) if m.name == "m02-dots")
    exp = s.expect(f"RETR {dots}")
    assert exp.requirement == "RFC1939-5.RETR-1"
    assert exp.payload == std[dots - 1].data
    assert s.check(f"RETR {dots}", multi("+OK", std[dots - 1].data)) == []
    # A server that forgets to stuff ends the response at the first "." line.
    unstuffed = std[dots - 1].data.split(b"\r\n.\r\n")[0] + b"\r\n"
    found = s.check(f"RETR {dots}", multi("+OK", unstuffed))
    assert reqs(found) == ["RFC1939-5.RETR-1"]
    assert "first difference at octet" in found[0].actual
    large = len(std)
    changed = bytearray(std[-1].data)
    changed[700_000] ^= 0x20
    found = s.check(f"RETR {large}", multi("+OK", bytes(changed)))
    assert reqs(found) == ["RFC1939-5.RETR-1"]
    assert "at octet 700000" in found[0].actual


def test_retr_errors() -> None:
    _, s = session()
    for line, requirement in (
        ("RETR", "RFC1939-5.RETR-3"),
        ("RETR 0", "RFC1939-5.RETR-3"),
        ("RETR 4", "RFC1939-5.RETR-3"),
        ("RETR x", "RFC1939-5.RETR-3"),
        ("RETR 1 2", "RFC1939-3-12"),
    ):
        exp = s.expect(line)
        assert (exp.status, exp.requirement) == ("-ERR", requirement), line
    s.observe("DELE 1", status("+OK"))
    assert s.expect("RETR 1").requirement == "RFC1939-5.RETR-2"
    assert reqs(s.check("RETR 1", multi("+OK", small()[0].data))) == ["RFC1939-5.RETR-2"]
    assert s.check("RETR 1", status("-ERR message deleted")) == []


def test_dele_and_rset() -> None:
    _, s = session()
    assert s.observe("DELE 1", status("+OK message 1 deleted")) == []
    assert s.is_deleted(1) and s.count == 2
    exp = s.expect("DELE 1")
    assert (exp.status, exp.requirement) == ("-ERR", "RFC1939-5.DELE-2")
    assert reqs(s.observe("DELE 1", status("+OK"))) == ["RFC1939-5.DELE-2"]
    for line in ("DELE", "DELE 0", "DELE 4", "DELE one"):
        assert s.expect(line).requirement == "RFC1939-5.DELE-5", line
    # A refused DELE marks nothing.
    assert reqs(s.observe("DELE 2", status("-ERR"))) == ["RFC1939-5.DELE-1"]
    assert not s.is_deleted(2)
    assert s.observe("RSET", status("+OK")) == []
    assert not s.is_deleted(1) and s.count == 3
    assert s.observe("NOOP", status("+OK")) == []
    assert reqs(s.check("NOOP", status("-ERR"))) == ["RFC1939-5.NOOP-1"]
    assert reqs(s.check("RSET", status("-ERR"))) == ["RFC1939-5.RSET-1"]


def test_arguments_the_grammar_forbids_must_be_refused() -> None:
    # One rule (conformance.pop3.arguments): +OK to what the grammar forbids is a fail.
    _, s = session()
    for line, requirement in (
        ("NOOP x", "RFC1939-3-12"),
        ("STAT 1", "RFC1939-3-12"),
        ("RSET now", "RFC1939-3-12"),
        ("QUIT now", "RFC1939-3-12"),
        ("CAPA x", "RFC1939-3-12"),
        ("LIST 1 2", "RFC1939-3-12"),
        ("LIST 1x", "RFC1939-5.LIST-7"),
        ("DELE +1", "RFC1939-5.DELE-5"),
        ("TOP 1 -1", "RFC1939-7.TOP-3"),
        ("TOP 1 0 0", "RFC1939-7.TOP-3"),
    ):
        exp = s.expect(line)
        assert (exp.status, exp.also_accepted, exp.tolerated) == ("-ERR", None, None), line
        assert exp.requirement == requirement, line
        assert s.check(line, status("-ERR")) == [], line
        found = s.check(line, status("+OK"))
        assert [(d.requirement, d.tolerated) for d in found] == [(requirement, False)], line


def test_user_with_no_name_or_two_and_apop_arity() -> None:
    s = Maildrop(small()).open_session()
    for line in ("USER", "USER alice bob", "APOP alice", "APOP a b c", "AUTH PLAIN x y"):
        exp = s.expect(line)
        assert exp.status == "-ERR" and exp.also_accepted is None, line
        assert reqs(s.check(line, status("+OK"))) == [exp.requirement], line
    assert s.expect("USER").requirement == "RFC1939-3-12"
    # PASS takes the rest of the line: spaces may be part of the password (PASS-3).
    s.observe("USER alice", status("+OK"))
    assert s.check("PASS two words", status("+OK")) == []
    # An AUTH with an argument too many is refused: a challenge takes it.
    s2 = Maildrop(small()).open_session()
    found = s2.check("AUTH PLAIN x y", parse_status_line(b"+ \r\n"))
    assert reqs(found) == ["RFC1939-3-12"]
    tolerated = s2.check("AUTH  PLAIN", parse_status_line(b"+ \r\n"))
    assert [(d.requirement, d.tolerated) for d in tolerated] == [("RFC1939-3-5", True)]


# -- TOP ------------------------------------------------------------------------------


def test_top() -> None:
    std = corpus("standard")
    _, s = session(std)
    n = next(i for i, m in enumerate(std, 1) if m.name == "m05-paragraphs")
    m = std[n - 1]
    for k in (0, 1, 2, 10):
        exp = s.expect(f"TOP {n} {k}")
        assert exp.requirement == "RFC1939-7.TOP-1"
        assert s.check(f"TOP {n} {k}", multi("+OK", m.top(k))) == []
    assert reqs(s.check(f"TOP {n} 2", multi("+OK", m.top(3)))) == ["RFC1939-7.TOP-1"]
    assert reqs(s.check(f"TOP {n} 0", multi("+OK", m.header_block[:-2]))) == ["RFC1939-7.TOP-1"]
    big = len(m.body_lines) + 1
    assert s.expect(f"TOP {n} {big}").requirement == "RFC1939-7.TOP-2"
    assert s.check(f"TOP {n} {big}", multi("+OK", m.data)) == []
    assert s.check(f"TOP {n} 1000000", multi("+OK", m.data)) == []
    assert reqs(s.check(f"TOP {n} 1000000", multi("+OK", m.top(3)))) == ["RFC1939-7.TOP-2"]
    for line in (f"TOP {n}", f"TOP {n} -1", f"TOP {n} x", f"TOP {n} 1 2", "TOP", "TOP 0 1"):
        exp = s.expect(line)
        assert (exp.status, exp.requirement) == ("-ERR", "RFC1939-7.TOP-3"), line
    s.observe(f"DELE {n}", status("+OK"))
    assert s.expect(f"TOP {n} 0").requirement == "RFC1939-7.TOP-3"


def test_top_and_uidl_are_optional_unless_supported() -> None:
    drop = Maildrop(small())
    plain = drop.open_session(supports=frozenset())
    plain.login()
    assert plain.check("TOP 1 0", status("-ERR unknown command")) == []
    assert plain.check("UIDL", status("-ERR unknown command")) == []
    assert plain.check("UIDL 1", status("-ERR")) == []
    # When the command is answered, the answer is still judged.
    assert reqs(plain.check("TOP 1 0", multi("+OK", b"junk\r\n"))) == ["RFC1939-7.TOP-1"]
    full = drop.open_session(supports=frozenset({"top", "uidl"}))
    full.login()
    assert reqs(full.check("TOP 1 0", status("-ERR"))) == ["RFC1939-7.TOP-1"]
    assert reqs(full.check("UIDL", status("-ERR"))) == ["RFC1939-7.UIDL-2"]


# -- UIDL ----------------------------------------------------------------------------------


def test_uidl_learns_and_checks_consistency_within_a_session() -> None:
    _, s = session()
    assert s.uid(1) is None
    assert s.observe("UIDL", listing("1 aaa", "2 bbb", "3 ccc")) == []
    assert [s.uid(n) for n in (1, 2, 3)] == ["aaa", "bbb", "ccc"]
    assert s.observe("UIDL 2", status("+OK 2 bbb")) == []
    found = s.observe("UIDL 2", status("+OK 2 zzz"))
    assert reqs(found) == ["RFC1939-7.UIDL-1"]
    assert "'zzz'" in found[0].actual and "'bbb'" in found[0].actual
    assert s.uid(2) == "bbb"  # the first uid stays the reference
    assert reqs(s.check("UIDL 2", status("+OK 3 ccc"))) == ["RFC1939-7.UIDL-1"]
    s.observe("DELE 2", status("+OK"))
    assert s.expect("UIDL 2").requirement == "RFC1939-7.UIDL-7"
    assert s.check("UIDL", listing("1 aaa", "3 ccc")) == []
    assert reqs(s.check("UIDL", listing("1 aaa", "2 bbb", "3 ccc"))) == ["RFC1939-7.UIDL-7"]


def test_uidl_format_and_uniqueness() -> None:
    _, s = session()
    assert reqs(s.check("UIDL", listing("1 a b", "2 b", "3 c"))) == ["RFC1939-7.UIDL-2"]
    assert reqs(s.check("UIDL", listing("1 " + "x" * 71, "2 b", "3 c"))) == ["RFC1939-7.UIDL-3"]
    assert reqs(s.check("UIDL", listing("1 " + "x" * 70, "2 b", "3 c"))) == []
    assert reqs(s.check("UIDL", multi("+OK", b"1 a\xe9\r\n2 b\r\n3 c\r\n"))) == ["RFC1939-7.UIDL-3"]
    assert reqs(s.check("UIDL", listing("1 a", "2 b"))) == ["RFC1939-4-7"]
    assert reqs(s.check("UIDL", listing("one a", "2 b", "3 c"))) == [
        "RFC1939-7.UIDL-2",
        "RFC1939-4-7",
    ]
    found = s.check("UIDL", listing("1 same", "2 same", "3 c"))
    assert reqs(found) == ["RFC1939-7.UIDL-4"]
    assert "1, 2" in found[0].actual
    # A uid learned earlier counts too: "UIDL 3" may not reuse message 1's.
    s.observe("UIDL 1", status("+OK 1 first"))
    assert reqs(s.check("UIDL 3", status("+OK 3 first"))) == ["RFC1939-7.UIDL-4"]
    assert reqs(s.check("UIDL 3", status("+OK 3 first extra"))) == [
        "RFC1939-7.UIDL-2",
        "RFC1939-7.UIDL-4",
    ]


def test_identical_messages_may_share_a_uid() -> None:
    m = small()[0]
    _, s = session([m, Message("copy", m.data), small()[1]])
    assert s.check("UIDL", listing("1 same", "2 same", "3 other")) == []


def test_uid_persists_across_sessions_and_deletions() -> None:
    drop = Maildrop(small())
    a = drop.open_session()
    a.login()
    a.observe("UIDL", listing("1 u1", "2 u2", "3 u3"))
    a.observe("DELE 1", status("+OK"))
    a.observe("QUIT", status("+OK"))
    assert state(a) is State.UPDATE
    b = drop.open_session()
    b.login()
    # Renumbered after the commit: the old message 2 is now 1, with its uid.
    assert b.last == 2
    assert (b.uid(1), b.uid(2)) == ("u2", "u3")
    assert b.check("UIDL", listing("1 u2", "2 u3")) == []
    found = b.check("UIDL", listing("1 u2", "2 u3-changed"))
    assert reqs(found) == ["RFC1939-7.UIDL-5"]
    assert "earlier session" in found[0].actual
    assert reqs(b.check("UIDL 1", status("+OK 1 u1"))) == ["RFC1939-7.UIDL-5"]


# -- ending a session --------------------------------------------------------------------


def test_quit_commits_and_drop_does_not() -> None:
    ms = small()
    drop = Maildrop(ms)
    a = drop.open_session()
    a.login()
    a.observe("DELE 1", status("+OK"))
    a.observe("DELE 3", status("+OK"))
    a.drop()
    assert state(a) is State.CLOSED
    assert drop.messages == ms
    b = drop.open_session()
    b.login()
    assert not b.is_deleted(1)
    b.observe("DELE 1", status("+OK"))
    b.observe("DELE 3", status("+OK"))
    b.observe("RSET", status("+OK"))
    b.observe("DELE 2", status("+OK"))
    assert b.observe("QUIT", status("+OK dewey POP3 server signing off")) == []
    assert state(b) is State.UPDATE
    assert drop.messages == [ms[0], ms[2]]


def test_a_connection_closed_instead_of_an_answer() -> None:
    ms = small()
    drop = Maildrop(ms)
    a = drop.open_session()
    a.login()
    a.observe("DELE 1", status("+OK"))
    closed = Response(kind="closed", partial=b"+O")
    found = a.observe("QUIT", closed)
    assert reqs(found) == ["RFC1939-6.QUIT-1"]
    assert found[0].actual.startswith("connection closed")
    assert state(a) is State.CLOSED
    assert drop.messages == ms
    b = drop.open_session()
    b.login()
    timeout = Response(kind="timeout")
    found = b.observe("NOOP", timeout)
    assert [(d.requirement, d.actual) for d in found] == [
        ("RFC1939-5.NOOP-1", "no response before the deadline")
    ]
    assert state(b) is State.TRANSACTION


def test_quit_refused_commits_nothing() -> None:
    ms = small()
    drop = Maildrop(ms)
    a = drop.open_session()
    a.login()
    a.observe("DELE 1", status("+OK"))
    assert reqs(a.observe("QUIT", status("-ERR some deleted messages not removed"))) == [
        "RFC1939-6.QUIT-1"
    ]
    assert state(a) is State.UPDATE
    assert drop.messages == ms


def test_after_quit_the_connection_closes() -> None:
    _, s = session()
    s.observe("QUIT", status("+OK"))
    assert s.check("NOOP", Response(kind="closed")) == []
    assert s.expect("NOOP").requirement == "RFC1939-6.QUIT-3"
    drop = Maildrop(small())
    t = drop.open_session()
    assert t.observe("QUIT", status("+OK")) == []
    assert state(t) is State.CLOSED
    assert t.check("NOOP", Response(kind="closed")) == []


def test_snapshot_semantics_with_two_sessions() -> None:
    ms = small()
    drop = Maildrop(ms)
    a = drop.open_session()
    a.login()
    b = drop.open_session()
    b.login()
    b.observe("DELE 1", status("+OK"))
    b.observe("QUIT", status("+OK"))
    assert drop.messages == ms[1:]
    # A keeps the view it had at login: same numbers, same content.
    assert (a.count, a.last) == (3, 3)
    assert a.check("RETR 1", multi("+OK", ms[0].data)) == []
    assert a.check("STAT", status(f"+OK 3 {sum(sizes(ms))}")) == []
    # A deleting the same message again does not fail; its own commit removes message 2.
    a.observe("DELE 1", status("+OK"))
    a.observe("DELE 2", status("+OK"))
    a.observe("QUIT", status("+OK"))
    assert drop.messages == [ms[2]]
    c = drop.open_session()
    c.login()
    assert c.last == 1 and c.message(1) == ms[2]


def test_a_session_logging_in_later_sees_deliveries() -> None:
    ms = small()
    drop = Maildrop(ms[:2])
    a = drop.open_session()
    a.login()
    drop.append(ms[2])
    assert a.last == 2
    b = drop.open_session()
    b.login()
    assert b.last == 3 and b.message(3) == ms[2]


def test_calibration_replaces_content_everywhere() -> None:
    ms = small()
    drop = Maildrop(ms)
    a = drop.open_session()
    a.login()
    stored = b"X-Added: by the server\r\n" + ms[1].data
    drop.replace_content(1, stored)
    assert drop.messages[1].data == stored and drop.messages[1].name == ms[1].name
    assert a.check("RETR 2", multi("+OK", stored)) == []
    assert a.expect("LIST 2").values == (2, len(stored))
    a.calibrate(3, b"Subject: x\r\n\r\nbody\r\n")
    assert drop.messages[2].size == len(b"Subject: x\r\n\r\nbody\r\n")
    assert a.size == ms[0].size + len(stored) + drop.messages[2].size


# -- state rules ----------------------------------------------------------------------------


def test_authorization_state_rules() -> None:
    drop = Maildrop(small())
    s = drop.open_session()
    for line in ("STAT", "LIST", "LIST 1", "RETR 1", "DELE 1", "NOOP", "RSET", "TOP 1 0", "UIDL"):
        exp = s.expect(line)
        assert (exp.status, exp.requirement) == ("-ERR", "RFC1939-3-13"), line
        assert reqs(s.check(line, status("+OK"))) == ["RFC1939-3-13"]
    assert s.expect("PASS secret").requirement == "RFC1939-7.PASS-1"
    assert reqs(s.check("PASS secret", status("+OK"))) == ["RFC1939-7.PASS-1"]
    for line in ("XYZZ", "LIS", "RETRX 1", "", "   "):
        assert s.expect(line).requirement == "RFC1939-3-12", line
    for line in ("USER alice", "CAPA", "AUTH PLAIN", "APOP alice 0123456789abcdef"):
        assert s.check(line, status("+OK")) == [], line
        assert s.check(line, status("-ERR")) == [], line
    assert s.expect("USER").status == "-ERR"
    assert s.expect("QUIT").requirement == "RFC1939-4.QUIT-1"
    assert reqs(s.check("quit", status("-ERR"))) == ["RFC1939-4.QUIT-1"]
    assert state(s) is State.AUTHORIZATION  # check() never changes state


def test_transaction_state_rules() -> None:
    _, s = session()
    for line in ("USER alice", "PASS x", "APOP a b"):
        exp = s.expect(line)
        assert (exp.status, exp.requirement) == ("-ERR", "RFC1939-3-13"), line
    # An extension's own "valid states" rule is the one it breaks.
    for line, own in (
        ("AUTH PLAIN", "RFC5034-4-3"),
        ("STLS", "RFC2595-4-3"),
        ("UTF8", "RFC6856-2-1"),
    ):
        exp = s.expect(line)
        assert (exp.status, exp.requirement) == ("-ERR", own), line
    assert reqs(s.check("AUTH PLAIN", parse_status_line(b"+ \r\n"))) == ["RFC5034-4-3"]
    assert s.expect("FOOBAR").requirement == "RFC1939-3-12"
    assert s.check("CAPA", multi("+OK", b"TOP\r\nUIDL\r\n")) == []
    assert s.check("CAPA", status("-ERR")) == []
    assert s.expect("QUIT").requirement == "RFC1939-6.QUIT-1"


def test_keywords_are_case_insensitive() -> None:
    ms = small()
    _, s = session(ms)
    assert s.check("list 2", status(f"+OK 2 {ms[1].size}")) == []
    assert s.check("ReTr 1", multi("+OK", ms[0].data)) == []
    s.observe("dele 1", status("+OK"))
    assert s.is_deleted(1)


def test_a_line_that_is_not_a_status() -> None:
    _, s = session()
    found = s.observe("NOOP", parse_status_line(b"hello\r\n"))
    assert reqs(found) == ["RFC1939-5.NOOP-1"]
    assert state(s) is State.TRANSACTION


# -- a random walk against an independent conforming server --------------------------------


class FakeServer:
    """A minimal conforming POP3 maildrop, written independently of the model."""

    def __init__(self, store: list[tuple[str, bytes]]) -> None:
        self.store = store  # shared: (uid, data), committed
        self.view: list[tuple[str, bytes]] = []
        self.deleted: set[int] = set()

    def login(self) -> None:
        self.view = list(self.store)
        self.deleted = set()

    def answer(self, line: str) -> Response:
        words = line.split()
        cmd, args = words[0].upper(), words[1:]

        def msg(i: int) -> tuple[str, bytes] | None:
            if 1 <= i <= len(self.view) and i not in self.deleted:
                return self.view[i - 1]
            return None

        live = [i for i in range(1, len(self.view) + 1) if i not in self.deleted]
        if cmd == "STAT":
            return status(f"+OK {len(live)} {sum(len(self.view[i - 1][1]) for i in live)}")
        if cmd == "LIST" and not args:
            return listing(*(f"{i} {len(self.view[i - 1][1])}" for i in live))
        if cmd == "UIDL" and not args:
            return listing(*(f"{i} {self.view[i - 1][0]}" for i in live))
        m = msg(int(args[0])) if args else None
        if m is None:
            return status("-ERR no such message")
        i = int(args[0])
        if cmd == "LIST":
            return status(f"+OK {i} {len(m[1])}")
        if cmd == "UIDL":
            return status(f"+OK {i} {m[0]}")
        if cmd == "RETR":
            return multi("+OK", m[1])
        if cmd == "TOP":
            head, _, body = m[1].partition(b"\r\n\r\n")
            lines = body.split(b"\r\n")[:-1] if body else []
            k = int(args[1])
            part = head + b"\r\n\r\n" + b"".join(x + b"\r\n" for x in lines[:k])
            return multi("+OK", part)
        if cmd == "DELE":
            self.deleted.add(i)
            return status("+OK")
        raise AssertionError(line)

    def other(self, line: str) -> Response:
        if line == "RSET":
            self.deleted.clear()
        return status("+OK")

    def quit(self) -> Response:
        gone = {self.view[i - 1][0] for i in self.deleted}
        self.store[:] = [m for m in self.store if m[0] not in gone]
        return status("+OK")


def random_line(rng: random.Random, last: int) -> str:
    n = rng.randint(0, last + 1)
    return rng.choice(
        [
            "STAT",
            "LIST",
            f"LIST {n}",
            f"RETR {n}",
            f"DELE {n}",
            f"TOP {n} {rng.randint(0, 70)}",
            "UIDL",
            f"UIDL {n}",
            "RSET",
            "NOOP",
        ]
    )


@pytest.mark.parametrize("seed", range(6))
def test_random_walk_against_a_conforming_server(seed: int) -> None:
    rng = random.Random(seed)
    ms = corpus("standard")[:6] + corpus("small")
    store = [(f"uid-{i}", m.data) for i, m in enumerate(ms)]
    drop = Maildrop(ms)
    for _ in range(4):
        server = FakeServer(store)
        model = drop.open_session()
        model.login()
        server.login()
        for _ in range(40):
            line = random_line(rng, model.last)
            response = server.other(line) if line in ("RSET", "NOOP") else server.answer(line)
            assert model.observe(line, response) == [], line
        ending = rng.random()
        if ending < 0.5:
            assert model.observe("QUIT", server.quit()) == []
        else:
            model.drop()
        assert [m.data for m in drop.messages] == [d for _, d in store]


def test_random_walk_catches_a_server_that_renumbers() -> None:
    """A server that removes messages at DELE (not at QUIT) is caught."""
    ms = small()
    store = [(f"uid-{i}", m.data) for i, m in enumerate(ms)]
    server = FakeServer(store)
    model = Maildrop(ms).open_session()
    model.login()
    server.login()
    model.observe("DELE 1", server.answer("DELE 1"))
    server.view.pop(0)
    server.deleted = set()
    found = model.check("LIST", server.answer("LIST"))
    assert "RFC1939-5.LIST-5" in reqs(found) or "RFC1939-5.LIST-2" in reqs(found)
    assert reqs(model.check("RETR 2", server.answer("RETR 2"))) == ["RFC1939-5.RETR-1"]


# -- header fields a real server adds --------------------------------------------------


def _with_uidl_field(data: bytes) -> bytes:
    return b"X-UIDL: abc123\r\n" + data


def test_server_fields_are_learned_when_enabled() -> None:
    drop = Maildrop(small(), server_fields=True)
    s = drop.open_session()
    s.login()
    first = small()[0].data
    assert s.observe("RETR 1", multi("+OK", _with_uidl_field(first))) == []
    # The sizes follow what the server now returns.
    total = sum(sizes(small())) + len(b"X-UIDL: abc123\r\n")
    assert s.observe("STAT", status(f"+OK 3 {total}")) == []


def test_server_fields_are_a_difference_by_default() -> None:
    _, s = session()
    found = s.observe("RETR 1", multi("+OK", _with_uidl_field(small()[0].data)))
    assert reqs(found) == ["RFC1939-5.RETR-1"]


def test_a_changed_body_is_never_excused() -> None:
    drop = Maildrop(small(), server_fields=True)
    s = drop.open_session()
    s.login()
    changed = small()[0].data.replace(b"First small", b"First smalL")
    assert reqs(s.observe("RETR 1", multi("+OK", changed))) == ["RFC1939-5.RETR-1"]
