"""A session's messages do not change inside it: what the model learns, and when.

Calibration learns header fields a server adds to stored mail only for a
message the session has seen nothing of (the change happened between
sessions); once a session has seen a size or a content, a different one is a
finding against the command's own requirement.
"""

from __future__ import annotations

from conformance.messages import Message, corpus
from conformance.model import Discrepancy, Maildrop, SessionModel
from conformance.pop3 import Response, ResponseReader, Shape, parse_status_line, stuff

ADDED = b"Status: RO\r\n"


def status(line: str) -> Response:
    return parse_status_line(line.encode("latin-1") + b"\r\n")


def multi(payload: bytes) -> Response:
    reader = ResponseReader()
    reader.expect(Shape.MULTI)
    reader.receive_data(b"+OK\r\n" + stuff(payload))
    event = reader.next_event()
    assert isinstance(event, Response)
    return event


def reqs(found: list[Discrepancy]) -> list[str]:
    return [d.requirement for d in found]


def small() -> list[Message]:
    return corpus("small")


def calibrated() -> tuple[Maildrop, SessionModel]:
    drop = Maildrop(small(), server_fields=True)
    s = drop.open_session()
    s.login()
    return drop, s


def marked(n: int) -> bytes:
    """Message ``n`` of the small corpus with a header field the server added."""
    return ADDED + small()[n - 1].data


def test_between_sessions_a_server_field_is_learned() -> None:
    drop, s = calibrated()
    assert s.observe("RETR 1", multi(marked(1))) == []
    assert drop.messages[0].data == marked(1)
    # And what was learned is then this session's message: sizes follow it.
    assert s.observe("LIST 1", status(f"+OK 1 {len(marked(1))}")) == []


def test_after_list_a_server_field_is_a_change_inside_the_session() -> None:
    drop, s = calibrated()
    listing = b"".join(b"%d %d\r\n" % (n, m.size) for n, m in enumerate(small(), start=1))
    assert s.observe("LIST", multi(listing)) == []
    found = s.observe("RETR 1", multi(marked(1)))
    assert reqs(found) == ["RFC1939-5.RETR-1"]
    assert "as this session's LIST showed it" in found[0].expected
    assert "added within the session: status" in found[0].actual
    assert drop.messages[0].data == small()[0].data  # nothing learned


def test_after_stat_or_retr_a_server_field_is_a_change_too() -> None:
    _, s = calibrated()
    total = sum(m.size for m in small())
    assert s.observe("STAT", status(f"+OK 3 {total}")) == []
    assert reqs(s.observe("RETR 2", multi(marked(2)))) == ["RFC1939-5.RETR-1"]
    _, s = calibrated()
    assert s.observe("RETR 3", multi(small()[2].data)) == []
    found = s.observe("RETR 3", multi(marked(3)))
    assert reqs(found) == ["RFC1939-5.RETR-1"]
    assert "this session's RETR 3" in found[0].expected
    # TOP of the whole message is held to the same content.
    assert reqs(s.observe("TOP 3 100", multi(marked(3)))) == ["RFC1939-7.TOP-2"]
    assert s.observe("TOP 3 100", multi(small()[2].data)) == []


def test_a_size_that_changes_after_retr_is_list_5() -> None:
    _, s = calibrated()
    assert s.observe("RETR 1", multi(small()[0].data)) == []
    found = s.observe("LIST 1", status(f"+OK 1 {small()[0].size + len(ADDED)}"))
    assert reqs(found) == ["RFC1939-5.LIST-5"]
    assert "as this session's RETR 1 said" in found[0].expected
    found = s.observe("LIST", multi(b"1 %d\r\n2 %d\r\n3 %d\r\n" % (999, small()[1].size, 7)))
    assert reqs(found) == ["RFC1939-5.LIST-5"]
    assert "message 1: 999 octets, but" in found[0].actual
    assert "in this session's RETR 1" in found[0].actual


def test_a_wrong_first_answer_is_not_what_the_session_saw() -> None:
    _, s = session_plain()
    assert reqs(s.observe("LIST 2", status("+OK 2 1"))) == ["RFC1939-5.LIST-5"]
    assert s.observe("LIST 2", status(f"+OK 2 {small()[1].size}")) == []
    assert reqs(s.observe("RETR 2", multi(b"Subject: other\r\n\r\n"))) == ["RFC1939-5.RETR-1"]
    assert s.observe("RETR 2", multi(small()[1].data)) == []


def session_plain() -> tuple[Maildrop, SessionModel]:
    drop = Maildrop(small())
    s = drop.open_session()
    s.login()
    return drop, s


def test_each_session_keeps_what_it_saw_when_another_learns() -> None:
    drop = Maildrop(small(), server_fields=True)
    a = drop.open_session()
    a.login()
    b = drop.open_session()
    b.login()
    assert a.observe("RETR 1", multi(small()[0].data)) == []
    # B has seen nothing of message 1: the server changed it before B's
    # session, so B learns it (a server that gives each session its view).
    assert b.observe("RETR 1", multi(marked(1))) == []
    assert drop.messages[0].data == marked(1)
    # A is still judged by what A received, and its sizes by what it saw.
    assert a.observe("RETR 1", multi(small()[0].data)) == []
    assert a.observe("LIST 1", status(f"+OK 1 {small()[0].size}")) == []
    assert b.observe("LIST 1", status(f"+OK 1 {len(marked(1))}")) == []
    assert reqs(a.observe("RETR 1", multi(marked(1)))) == ["RFC1939-5.RETR-1"]
    # A new session starts from what was learned.
    c = drop.open_session()
    c.login()
    assert c.observe("LIST 1", status(f"+OK 1 {len(marked(1))}")) == []


# -- a message stored without a final newline: two readings, one per session -------------


def shapes_session(server_fields: bool = False) -> tuple[Maildrop, SessionModel]:
    drop = Maildrop(corpus("shapes"), server_fields=server_fields)
    s = drop.open_session()
    s.login()
    return drop, s


def test_an_unended_message_may_count_the_added_crlf_or_not_but_keeps_to_one() -> None:
    x01 = corpus("shapes")[0]
    assert x01.unended and x01.sizes == (x01.size, x01.size - 2)
    for first, other in ((x01.size, x01.size - 2), (x01.size - 2, x01.size)):
        _, s = shapes_session()
        assert s.observe("LIST 1", status(f"+OK 1 {first}")) == []
        assert s.observe("RETR 1", multi(x01.data)) == []  # the CRLF is sent either way
        assert s.observe("LIST 1", status(f"+OK 1 {first}")) == []
        found = s.observe("LIST 1", status(f"+OK 1 {other}"))
        assert reqs(found) == ["RFC1939-5.LIST-5"]
        assert "as this session's LIST 1 said" in found[0].expected
    # Any other message counts its CRLF line ends, all of them.
    _, s = shapes_session()
    x02 = corpus("shapes")[1]
    assert reqs(s.observe("LIST 2", status(f"+OK 2 {x02.size - 2}"))) == ["RFC1939-5.LIST-5"]


def test_stat_and_list_must_add_up_whichever_reading() -> None:
    ms = corpus("shapes")
    full = sum(m.size for m in ms)
    listing = b"".join(b"%d %d\r\n" % (n, m.size) for n, m in enumerate(ms, start=1))
    short = listing.replace(b"1 %d\r\n" % ms[0].size, b"1 %d\r\n" % (ms[0].size - 2), 1)
    for total, lines in ((full, listing), (full - 2, short)):
        _, s = shapes_session()
        assert s.observe("STAT", status(f"+OK 7 {total}")) == []
        assert s.observe("LIST", multi(lines)) == []
    # STAT counted the CRLF, LIST did not: both readings alone, not together.
    _, s = shapes_session()
    assert s.observe("STAT", status(f"+OK 7 {full}")) == []
    found = s.observe("LIST", multi(short))
    assert reqs(found) == ["RFC1939-5.STAT-3"]
    assert f"add up to {full - 2} octets, and this session's STAT said {full}" in found[0].actual
    _, s = shapes_session()
    assert s.observe("LIST", multi(short)) == []
    assert reqs(s.observe("STAT", status(f"+OK 7 {full}"))) == ["RFC1939-5.STAT-3"]
    assert reqs(s.observe("STAT", status(f"+OK 7 {full - 4}"))) == ["RFC1939-5.STAT-3"]


def test_a_learned_unended_message_keeps_both_readings() -> None:
    drop, s = shapes_session(server_fields=True)
    x01 = corpus("shapes")[0]
    assert s.observe("RETR 1", multi(ADDED + x01.data)) == []  # learned: nothing seen yet
    learned = drop.messages[0]
    assert learned.data == ADDED + x01.data and learned.unended
    assert s.observe("LIST 1", status(f"+OK 1 {learned.size - 2}")) == []


def test_part_of_a_message_with_server_fields_is_accepted_until_the_session_saw_it() -> None:
    drop, s = calibrated()
    top = marked(2)[: marked(2).index(b"\r\n\r\n") + 4]
    assert s.observe("TOP 2 0", multi(top)) == []  # the server's, from before the session
    assert drop.messages[1].data == small()[1].data  # a part is never learned
    assert s.observe("LIST 2", status(f"+OK 2 {small()[1].size}")) == []
    assert reqs(s.observe("TOP 2 0", multi(top))) == ["RFC1939-7.TOP-1"]
