"""The sans-IO client connection: it owns the state and picks each answer's reader."""

from __future__ import annotations

import pytest

from conformance.pop3 import (
    GREETING,
    SASL_RESPONSE,
    Answer,
    ClientConnection,
    LocalProtocolError,
    NeedData,
    State,
)


def feed(conn: ClientConnection, data: bytes) -> list[Answer]:
    conn.receive_data(data)
    out = []
    while conn.awaiting:
        event = conn.next_event()
        if isinstance(event, NeedData):
            break
        out.append(event)
    return out


def greeted() -> ClientConnection:
    conn = ClientConnection()
    [greeting] = feed(conn, b"+OK ready\r\n")
    assert greeting.command.keyword == GREETING
    return conn


def test_login_moves_the_state_and_each_answer_says_where_it_was_given() -> None:
    conn = greeted()
    conn.send_command("USER a")
    [user] = feed(conn, b"+OK\r\n")
    assert (user.before, user.after) == (State.AUTHORIZATION, State.AUTHORIZATION_USER)
    conn.send_command("PASS b")
    [pass_] = feed(conn, b"+OK\r\n")
    assert pass_.entered_transaction and conn.state is State.TRANSACTION
    conn.send_command("QUIT")
    [quit_] = feed(conn, b"+OK bye\r\n")
    assert quit_.after is State.UPDATE


def test_the_reader_follows_the_state_of_each_queued_command() -> None:
    """A pipelined batch: LIST is multi-line, LIST 1 single, in the order sent."""
    conn = greeted()
    for line in ("USER a", "PASS b", "LIST", "LIST 1", "RETR 1"):
        conn.send_command(line)
    answers = feed(
        conn,
        b"+OK\r\n+OK\r\n+OK\r\n1 5\r\n.\r\n+OK 1 5\r\n+OK\r\n..x\r\n.\r\n",
    )
    assert [a.command.line for a in answers] == ["USER a", "PASS b", "LIST", "LIST 1", "RETR 1"]
    assert [a.response.kind for a in answers] == ["status", "status", "multi", "status", "multi"]
    assert answers[-1].response.lines == [b".x"]


def test_a_negative_answer_is_one_line_whatever_the_shape() -> None:
    conn = greeted()
    conn.send_command("RETR 1")  # wrong state: -ERR, single line
    [answer] = feed(conn, b"-ERR not yet\r\n")
    assert answer.response.kind == "status" and conn.state is State.AUTHORIZATION


def test_raw_bytes_queue_each_line_they_complete() -> None:
    conn = greeted()
    conn.send_raw(b"NO")
    assert conn.awaiting == 0 and conn.unfinished_line == b"NO"
    conn.send_raw(b"OP\r\nST")
    assert conn.awaiting == 1
    [noop] = feed(conn, b"-ERR\r\n")
    assert noop.command.keyword == "NOOP"


def test_sasl_rows_of_the_table() -> None:
    conn = greeted()
    conn.send_command("AUTH PLAIN")
    [challenge] = feed(conn, b"+ \r\n")
    assert challenge.response.kind == "continuation"
    assert conn.state is State.AUTHORIZATION_SASL
    conn.send_raw(b"AGEAYg==\r\n")
    [final] = feed(conn, b"-ERR [AUTH] no\r\n")
    assert (final.before, final.after) == (State.AUTHORIZATION_SASL, State.AUTHORIZATION)
    assert conn.command_row("NOOP") == "NOOP"  # back to commands
    conn.send_command("AUTH PLAIN")
    feed(conn, b"+ \r\n")
    assert conn.command_row("AGEAYg==") == SASL_RESPONSE
    conn.send_raw(b"AGEAYg==\r\n")
    [ok] = feed(conn, b"+OK\r\n")
    assert ok.entered_transaction


def test_a_continuation_outside_auth_moves_nothing() -> None:
    conn = greeted()
    conn.send_command("NOOP")
    [answer] = feed(conn, b"+ what\r\n")
    assert answer.response.kind == "continuation" and conn.state is State.AUTHORIZATION


def test_a_close_mid_answer_kills_the_connection_and_says_the_server_did_it() -> None:
    conn = greeted()
    conn.send_command("CAPA")
    conn.receive_data(b"+OK\r\nTOP\r\n")
    assert isinstance(conn.next_event(), NeedData)
    [answer] = feed(conn, b"")
    assert answer.response.kind == "closed"
    assert conn.dead is not None and conn.dead.by_server
    assert conn.state is State.CLOSED
    with pytest.raises(LocalProtocolError):
        conn.send_command("NOOP")


def test_local_errors_are_the_harnesss() -> None:
    conn = greeted()
    with pytest.raises(LocalProtocolError):
        conn.send_command("NOOP\r\nQUIT")
    with pytest.raises(LocalProtocolError):
        conn.next_event()  # nothing is awaiting an answer


def test_stls_drops_what_was_queued_in_the_clear() -> None:
    conn = greeted()
    conn.send_raw(b"STLS\r\nCAPA\r\n")
    [stls] = feed(conn, b"+OK begin\r\n")
    assert stls.response.ok and conn.awaiting == 1 and conn.tls_pending
    # The connection now belongs to TLS: no POP3 goes out, none is read.
    with pytest.raises(LocalProtocolError):
        conn.send_command("QUIT")
    conn.receive_data(b"junk")
    assert isinstance(conn.next_event(), NeedData)
    assert conn.start_tls() == b"junk"
    assert conn.awaiting == 0  # the injected CAPA is not a command of the TLS layer
    assert not conn.tls_pending
    conn.send_command("CAPA")


def test_a_timeout_answers_the_command_and_kills_the_connection() -> None:
    """A late answer would be read as the next command's: nothing more is read."""
    conn = greeted()
    conn.send_command("NOOP")
    conn.receive_data(b"+O")  # half an answer
    assert isinstance(conn.next_event(), NeedData)
    answer = conn.time_out(b"+O", 2.0)
    assert answer.response.kind == "timeout" and answer.command.keyword == "NOOP"
    assert conn.dead is not None and conn.dead.reason == "timeout" and conn.dead.by_server
    assert "part of it was read" in conn.dead.detail
    conn.receive_data(b"K late\r\n")
    with pytest.raises(LocalProtocolError):
        conn.next_event()
    with pytest.raises(LocalProtocolError):
        conn.send_command("QUIT")


def test_a_body_cut_by_the_deadline_lacks_its_terminator() -> None:
    conn = greeted()
    conn.send_command("CAPA")
    conn.receive_data(b"+OK\r\nTOP\r\nUSER\r\n")
    assert isinstance(conn.next_event(), NeedData)
    answer = conn.time_out(b"+OK", 1.0)
    assert [f.code for f in answer.response.findings] == ["missing-terminator"]
    assert answer.response.findings[0].requirement == "RFC1939-3-8"


def test_no_line_that_carries_a_secret_is_kept_in_the_command_cache() -> None:
    from conformance.pop3.connection import _ENCODED

    conn = ClientConnection()
    conn.receive_data(b"+OK ready\r\n")
    conn.next_event()
    conn.state = State.TRANSACTION  # where lines are cached
    before = set(_ENCODED)
    for line in (
        "PASS s3cret-in-transaction",
        "apop alice 0123456789abcdef",
        " AUTH PLAIN AGFsaWNl",
    ):
        assert conn.send_command(line) == line.encode() + b"\r\n"
    assert set(_ENCODED) == before
    conn.send_command("LIST 424242")  # an ordinary line is
    assert set(_ENCODED) == before | {"LIST 424242"}
    assert [c.keyword for c in conn._queue] == ["PASS", "APOP", "AUTH", "LIST"]


def test_a_nul_or_an_8_bit_octet_in_a_status_line_is_one_finding_until_utf8() -> None:
    """RFC 2449 section 3: status text is CHAR (%x01-7F), until UTF8 or LANG (RFC 6856)."""
    conn = greeted()

    def codes(line: str, answer: bytes) -> list[str]:
        conn.send_command(line)
        [got] = feed(conn, answer)
        return [f.code for f in got.response.findings]

    assert codes("NOOP", b"+OK fine\r\n") == []
    assert codes("NOOP", b"+OK a\x00b\r\n") == ["octets-outside-text"]
    assert codes("NOOP", b"-ERR gr\xc3\xbc\xc3\x9f\r\n") == ["octets-outside-text"]
    # No status line at all: that finding only (one root cause, one finding).
    assert codes("NOOP", b"\x00garbage\r\n") == ["not-a-status"]
    # LANG without an argument lists languages: it changes no text.
    assert codes("LANG", b"+OK\r\nen English\r\n.\r\n") == []
    assert codes("NOOP", b"-ERR gr\xc3\xbc\xc3\x9f\r\n") == ["octets-outside-text"]
    assert codes("UTF8", b"+OK UTF-8 on\r\n") == []
    assert codes("NOOP", b"-ERR gr\xc3\xbc\xc3\x9f\r\n") == []
    assert codes("NOOP", b"+OK a\x00b\r\n") == ["octets-outside-text"]  # never a NUL
