"""The session state machine without sockets: phases, locks, secrets."""

from __future__ import annotations

import base64
import logging

import pytest

from conformance.server.app import LockTable
from conformance.server.config import ServerConfig
from conformance.server.session import (
    HANDLERS,
    MAX_COMMAND,
    MAX_SASL_RESPONSE,
    Phase,
    Session,
    dispatch_keywords,
    make_timestamp,
)

SECRET = "s3cret with space"


@pytest.fixture
def config(tmp_path):
    (tmp_path / "alice" / "new").mkdir(parents=True)
    (tmp_path / "alice" / "new" / "1").write_bytes(b"Subject: x\n\nbody\n")
    return ServerConfig(str(tmp_path / "{user}"), {"alice": SECRET, "bob": "pw"})


def say(session: Session, line: str) -> bytes:
    return session.receive_line(line.encode()).data


def test_config_rejects_a_template_without_user(tmp_path):
    with pytest.raises(ValueError, match="user"):
        ServerConfig(str(tmp_path / "mail"))
    with pytest.raises(ValueError):
        ServerConfig(str(tmp_path / "{user}"), autologout=0)


def test_config_repr_hides_passwords(config):
    assert SECRET not in repr(config)


def test_timestamps_differ_even_within_one_nanosecond_tick():
    stamps = {make_timestamp() for _ in range(1000)}
    assert len(stamps) == 1000


def test_password_may_contain_spaces_and_login_takes_the_lock(config):
    locks = LockTable()
    session = Session(config, locks)
    assert say(session, "USER alice").startswith(b"+OK")
    assert say(session, f"PASS {SECRET}").startswith(b"+OK")
    assert session.phase is Phase.TRANSACTION
    assert len(locks) == 1
    session.end()
    assert len(locks) == 0


def test_in_use_refusal_takes_no_lock_and_keeps_authorization(config):
    locks = LockTable()
    first, second = Session(config, locks), Session(config, locks)
    say(first, "USER alice")
    say(first, f"PASS {SECRET}")
    say(second, "USER alice")
    assert say(second, f"PASS {SECRET}").startswith(b"-ERR [IN-USE]")
    assert second.phase is Phase.AUTHORIZATION
    second.end()  # must not release the lock it never held
    assert len(locks) == 1
    assert say(first, "QUIT").startswith(b"+OK")
    assert len(locks) == 0


def test_quit_reply_closes_and_releases(config):
    locks = LockTable()
    session = Session(config, locks)
    say(session, "USER alice")
    say(session, f"PASS {SECRET}")
    reply = session.receive_line(b"QUIT")
    assert reply.close and reply.data.startswith(b"+OK")
    assert session.phase is Phase.CLOSED and len(locks) == 0
    assert say(session, "STAT").startswith(b"-ERR")


def test_sasl_phase_allows_long_responses_and_resets_on_overflow(config):
    session = Session(config, LockTable())
    assert session.line_limit == MAX_COMMAND
    assert say(session, "AUTH PLAIN") == b"+ \r\n"
    assert session.line_limit == MAX_SASL_RESPONSE
    assert session.line_too_long().data.startswith(b"-ERR")
    assert session.phase is Phase.AUTHORIZATION
    # A long but valid response (RFC 5034: not bound by 255 octets) still fails cleanly.
    say(session, "AUTH PLAIN")
    long_response = base64.b64encode(b"\0" + b"a" * 300 + b"\0" + b"b" * 400)
    assert session.receive_line(long_response).data.startswith(b"-ERR [AUTH]")


def test_malformed_plain_is_not_an_auth_code_error(config):
    session = Session(config, LockTable())
    bad = base64.b64encode(b"alice\0" + SECRET.encode()).decode()
    answer = say(session, f"AUTH PLAIN {bad}")
    assert answer.startswith(b"-ERR") and b"[AUTH]" not in answer


def test_handler_bugs_cost_one_answer_not_the_session(config, monkeypatch, caplog):
    session = Session(config, LockTable())

    def broken(self, command):
        raise ZeroDivisionError

    monkeypatch.setitem(HANDLERS[Phase.AUTHORIZATION], "CAPA", broken)
    with caplog.at_level(logging.ERROR):
        assert say(session, "CAPA") == b"-ERR [SYS/TEMP] internal server error\r\n"
    assert say(session, "QUIT").startswith(b"+OK")


def test_secrets_never_reach_the_log(config, caplog):
    session = Session(config, LockTable())
    plain = base64.b64encode(f"\0alice\0{SECRET}".encode()).decode()
    with caplog.at_level(logging.DEBUG, logger="conformance.server"):
        say(session, "USER alice")
        say(session, f"PASS {SECRET}")
        say(session, "QUIT")
        session = Session(config, LockTable())
        say(session, f"AUTH PLAIN {plain}")
        say(session, "QUIT")
        session = Session(config, LockTable())
        say(session, "AUTH PLAIN")
        say(session, plain)
        say(session, "QUIT")
    text = caplog.text
    assert "USER alice" in text  # the log is really on
    assert SECRET not in text and plain not in text and "s3cret" not in text


def test_every_handled_keyword_is_three_or_four_letters():
    for table in HANDLERS.values():
        for keyword in table:
            assert keyword.isupper() and 3 <= len(keyword) <= 4


def test_dispatch_keywords_lists_each_client_phase_table():
    keywords = dispatch_keywords()
    assert set(keywords) == {"AUTHORIZATION", "AUTHORIZATION_USER", "SASL", "TRANSACTION"}
    # RFC 1939 section 7: PASS only right after USER.
    assert {phase for phase, table in keywords.items() if "PASS" in table} == {"AUTHORIZATION_USER"}
    for command in ("RETR", "STAT", "DELE", "TOP", "UIDL"):
        assert {phase for phase, table in keywords.items() if command in table} == {"TRANSACTION"}
    assert {"USER", "APOP", "AUTH", "STLS"} <= keywords["AUTHORIZATION"]
    assert not {"USER", "APOP", "AUTH", "STLS"} & keywords["TRANSACTION"]
    assert {"CAPA", "QUIT"} <= keywords["AUTHORIZATION"] & keywords["TRANSACTION"]
    assert keywords["SASL"] == frozenset()  # its lines are SASL responses
