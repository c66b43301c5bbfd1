"""The reference server over TCP: every behaviour the brief asks for, on the wire."""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
import socket
import time

import pytest

# The three messages most tests seed, and exactly how they must be served:
# CRLF line ends, a CRLF added to an unterminated last line, sizes unstuffed.
STANDARD = [
    b"From: a@example.org\nSubject: one\n\nfirst body line\nsecond\n",
    b"From: b@example.org\r\nSubject: two\r\n\r\n.leading dot\r\n.\r\n..\r\nend\r\n",
    b"From: c@example.org\nSubject: three\n\nno final newline",
]
SERVED = [
    b"From: a@example.org\r\nSubject: one\r\n\r\nfirst body line\r\nsecond\r\n",
    b"From: b@example.org\r\nSubject: two\r\n\r\n.leading dot\r\n.\r\n..\r\nend\r\n",
    b"From: c@example.org\r\nSubject: three\r\n\r\nno final newline\r\n",
]
ON_WIRE_2 = b"From: b@example.org\r\nSubject: two\r\n\r\n..leading dot\r\n..\r\n...\r\nend\r\n"
CAPABILITIES = [
    b"TOP",
    b"UIDL",
    b"USER",
    b"RESP-CODES",
    b"PIPELINING",
    b"SASL PLAIN LOGIN CRAM-MD5",
    b"AUTH-RESP-CODE",
    b"UTF8",
    b"LANG",
    b"IMPLEMENTATION pop3-conformance-reference",
]


def plain(authcid: str, password: str, authzid: str = "") -> str:
    return base64.b64encode(f"{authzid}\0{authcid}\0{password}".encode()).decode()


def login_eventually(connect, account, within: float = 2.0) -> None:
    """Log in on a new connection, retrying while the maildrop is still locked."""
    deadline = time.monotonic() + within
    while True:
        client = connect()
        assert client.cmd(f"USER {account.user}").startswith(b"+OK")
        status = client.cmd(f"PASS {account.password}")
        if status.startswith(b"+OK"):
            assert client.cmd("QUIT").startswith(b"+OK")
            return
        assert status.startswith(b"-ERR [IN-USE]"), status
        assert time.monotonic() < deadline, "lock still held"
        client.close()
        time.sleep(0.02)


# -- greeting and authorization ---------------------------------------------


def test_greetings_carry_distinct_msg_id_timestamps(connect):
    stamps = []
    for _ in range(20):
        greeting = connect().greeting
        assert len(greeting) <= 512 and greeting.endswith(b"\r\n")
        match = re.fullmatch(rb"\+OK (<[^<>@\s]+@[^<>\s]+>)[^<>]*\r\n", greeting)
        assert match, greeting
        stamps.append(match.group(1))
    assert len(set(stamps)) == len(stamps)


def test_user_pass_opens_the_maildrop(connect, account, seed):
    seed(account, STANDARD)
    client = connect()
    assert client.cmd(f"USER {account.user}").startswith(b"+OK")
    assert client.cmd(f"PASS {account.password}").startswith(b"+OK")
    assert client.cmd("STAT") == f"+OK 3 {sum(map(len, SERVED))}".encode()


def test_wrong_password_keeps_the_session_in_authorization(connect, account):
    client = connect()
    assert client.cmd(f"USER {account.user}").startswith(b"+OK")
    assert client.cmd("PASS not-the-password").startswith(b"-ERR [AUTH]")
    assert client.cmd("STAT").startswith(b"-ERR")
    client.login(account)  # the connection stays open for another try
    assert client.cmd("STAT").startswith(b"+OK")


def test_unknown_user_gets_auth_error_only_at_pass(connect):
    client = connect()
    assert client.cmd("USER nobody-here").startswith(b"+OK")
    assert client.cmd("PASS whatever").startswith(b"-ERR [AUTH]")


def test_pass_is_accepted_only_right_after_user(connect, account):
    client = connect()
    assert client.cmd(f"PASS {account.password}").startswith(b"-ERR")
    assert client.cmd(f"USER {account.user}").startswith(b"+OK")
    assert client.cmd("NOOP").startswith(b"-ERR")
    assert client.cmd(f"PASS {account.password}").startswith(b"-ERR")
    client.login(account)


def test_apop_digest_over_the_greeting_timestamp(connect, apop_account):
    account = apop_account
    client = connect()
    stamp = re.search(rb"<[^>]*>", client.greeting).group(0)  # type: ignore[union-attr]
    digest = hashlib.md5(stamp + account.password.encode()).hexdigest()
    assert client.cmd(f"APOP {account.user} {'0' * 32}").startswith(b"-ERR [AUTH]")
    assert client.cmd("STAT").startswith(b"-ERR")
    assert client.cmd(f"APOP {account.user} {digest}").startswith(b"+OK")
    assert client.cmd("STAT").startswith(b"+OK")
    assert client.cmd("QUIT").startswith(b"+OK")
    # A digest is good for one greeting only: replaying it must fail.
    replay = connect()
    assert replay.cmd(f"APOP {account.user} {digest}").startswith(b"-ERR [AUTH]")
    upper = connect()
    stamp = re.search(rb"<[^>]*>", upper.greeting).group(0)  # type: ignore[union-attr]
    digest = hashlib.md5(stamp + account.password.encode()).hexdigest().upper()
    assert upper.cmd(f"APOP {account.user} {digest}").startswith(b"+OK")


def test_a_mailbox_takes_apop_or_user_pass_never_both(connect, account, apop_account):
    # RFC 1939 section 13: "either the USER/PASS command sequence or the APOP
    # command is allowed, but not both."
    client = connect()
    assert client.cmd(f"USER {apop_account.user}").startswith(b"+OK")
    assert client.cmd(f"PASS {apop_account.password}").startswith(b"-ERR [AUTH]")
    other = connect()
    stamp = re.search(rb"<[^>]*>", other.greeting).group(0)  # type: ignore[union-attr]
    digest = hashlib.md5(stamp + account.password.encode()).hexdigest()
    assert other.cmd(f"APOP {account.user} {digest}").startswith(b"-ERR [AUTH]")
    assert other.cmd(f"USER {account.user}").startswith(b"+OK")
    assert other.cmd(f"PASS {account.password}").startswith(b"+OK")


def test_auth_plain_with_initial_response(connect, account):
    client = connect()
    assert client.cmd(f"AUTH PLAIN {plain(account.user, 'wrong')}").startswith(b"-ERR [AUTH]")
    assert client.cmd(f"auth plain {plain(account.user, account.password)}").startswith(b"+OK")
    assert client.cmd("STAT").startswith(b"+OK")
    assert client.cmd(f"AUTH PLAIN {plain(account.user, account.password)}").startswith(b"-ERR")


def test_auth_plain_with_continuation(connect, account):
    client = connect()
    client.send(b"AUTH PLAIN\r\n")
    assert client.line() == b"+ \r\n"
    assert client.cmd(plain(account.user, account.password)).startswith(b"+OK")
    assert client.cmd("STAT").startswith(b"+OK")


def test_auth_cancel_and_bad_base64_stay_in_authorization(connect, account, other_account):
    client = connect()
    client.send(b"AUTH PLAIN\r\n")
    assert client.line() == b"+ \r\n"
    assert client.cmd("*").startswith(b"-ERR")
    client.send(b"AUTH PLAIN\r\n")
    assert client.line() == b"+ \r\n"
    assert client.cmd("%%%notbase64").startswith(b"-ERR")
    good = plain(account.user, account.password)
    assert client.cmd(f"AUTH PLAIN {good[:4]}-{good[4:]}").startswith(b"-ERR")
    assert client.cmd(f"AUTH PLAIN {good[:4]}={good[4:]}").startswith(b"-ERR")
    assert client.cmd("AUTH PLAIN =").startswith(b"-ERR")
    assert client.cmd("AUTH X-NO-SUCH-MECH").startswith(b"-ERR")
    impersonate = plain(other_account.user, other_account.password, authzid=account.user)
    assert client.cmd(f"AUTH PLAIN {impersonate}").startswith(b"-ERR [AUTH]")
    assert client.cmd("STAT").startswith(b"-ERR")
    assert (
        client.cmd(f"AUTH PLAIN {plain(account.user, account.password, account.user)}")[:3]
        == b"+OK"
    )


def test_auth_without_mechanism_lists_the_mechanisms(connect):
    client = connect()
    assert client.multi("AUTH")[1] == [b"PLAIN", b"LOGIN", b"CRAM-MD5"]


def test_quit_in_authorization_closes_without_update(connect, account, seed):
    paths = seed(account, STANDARD)
    client = connect()
    assert client.cmd("QUIT").startswith(b"+OK")
    assert client.closed()
    assert all(p.exists() for p in paths)


def test_capa_is_the_same_in_both_states(connect, account):
    client = connect()
    before = client.multi("CAPA")[1]
    assert before == CAPABILITIES
    client.login(account)
    assert client.multi("capa")[1] == before


# -- locking ------------------------------------------------------------------


def test_second_login_is_refused_in_use_until_quit(connect, account):
    first = connect()
    first.login(account)
    second = connect()
    assert second.cmd(f"USER {account.user}").startswith(b"+OK")
    assert second.cmd("PASS wrong").startswith(b"-ERR [AUTH]")  # not IN-USE: auth failed
    assert second.cmd(f"USER {account.user}").startswith(b"+OK")
    assert second.cmd(f"PASS {account.password}") == b"-ERR [IN-USE] maildrop already locked"
    assert second.cmd("STAT").startswith(b"-ERR")  # still AUTHORIZATION
    assert first.cmd("QUIT").startswith(b"+OK")
    # Released before the +OK was sent: no waiting needed.
    assert second.cmd(f"USER {account.user}").startswith(b"+OK")
    assert second.cmd(f"PASS {account.password}").startswith(b"+OK")


@pytest.mark.parametrize("how", ["rst", "fin", "half-close"])
def test_lock_is_released_when_the_connection_ends(connect, account, how):
    first = connect()
    first.login(account)
    if how == "rst":
        first.reset()
    elif how == "fin":
        first.close()
    else:
        first.sock.shutdown(socket.SHUT_WR)
        assert first.closed()
    login_eventually(connect, account)


# -- transaction --------------------------------------------------------------


def test_retr_dot_stuffs_and_sizes_are_unstuffed_crlf_octets(connect, account, seed):
    seed(account, STANDARD)
    client = connect()
    client.login(account)
    _, listing = client.multi("LIST")
    assert listing == [f"{i + 1} {len(m)}".encode() for i, m in enumerate(SERVED)]
    assert client.cmd("LIST 3") == f"+OK 3 {len(SERVED[2])}".encode()
    assert client.raw_multi("RETR 2") == (
        f"+OK {len(SERVED[1])} octets\r\n".encode() + ON_WIRE_2 + b".\r\n"
    )
    for number, served in ((1, SERVED[0]), (3, SERVED[2])):
        raw = client.raw_multi(f"RETR {number}")
        assert raw.split(b"\r\n", 1)[1] == served + b".\r\n"


def test_top_sends_headers_blank_line_and_n_body_lines(connect, account, seed):
    seed(account, STANDARD)
    client = connect()
    client.login(account)
    assert client.multi("TOP 1 0")[1] == [b"From: a@example.org", b"Subject: one", b""]
    assert client.multi("TOP 2 2")[1] == [
        b"From: b@example.org",
        b"Subject: two",
        b"",
        b"..leading dot",
        b"..",
    ]
    assert client.raw_multi("TOP 2 999999999999999999999") == client.raw_multi("RETR 2").replace(
        f"+OK {len(SERVED[1])} octets".encode(), b"+OK top of message follows"
    )
    for bad in ("TOP 1", "TOP 1 -1", "TOP 1 x", "TOP 1 1 2", "TOP 4 1", "TOP 0 1", "TOP +1 1"):
        assert client.cmd(bad).startswith(b"-ERR"), bad
    assert client.cmd("NOOP") == b"+OK"


def test_dele_rset_quit_remove_exactly_the_marked_files(connect, account, seed):
    paths = seed(account, [b"Subject: %d\n\nbody\n" % i for i in range(4)])
    client = connect()
    client.login(account)
    assert client.cmd("DELE 1").startswith(b"+OK")
    assert client.cmd("DELE 3").startswith(b"+OK")
    assert client.cmd("RSET").startswith(b"+OK")
    assert client.cmd("STAT").startswith(b"+OK 4 ")
    assert client.cmd("DELE 2").startswith(b"+OK")
    assert client.cmd("DELE 4").startswith(b"+OK")
    assert client.cmd("QUIT").startswith(b"+OK")
    assert client.closed()
    assert [p.exists() for p in paths] == [True, False, True, False]


@pytest.mark.parametrize("how", ["rst", "fin", "half-close", "mid-command"])
def test_a_dropped_connection_removes_nothing(connect, account, seed, how):
    paths = seed(account, STANDARD)
    client = connect()
    client.login(account)
    assert client.cmd("DELE 1").startswith(b"+OK")
    assert client.cmd("DELE 2").startswith(b"+OK")
    if how == "rst":
        client.reset()
    elif how == "fin":
        client.close()
    elif how == "half-close":
        client.sock.shutdown(socket.SHUT_WR)
        assert client.closed()
    else:
        client.send(b"QUI")
        client.reset()
    login_eventually(connect, account)
    assert all(p.exists() for p in paths)


def test_deleted_messages_are_hidden_and_refused(connect, account, seed):
    seed(account, STANDARD)
    client = connect()
    client.login(account)
    assert client.cmd("DELE 2") == b"+OK message 2 deleted"
    size = len(SERVED[0]) + len(SERVED[2])
    assert client.cmd("STAT") == f"+OK 2 {size}".encode()
    assert client.multi("LIST")[1] == [b"1 %d" % len(SERVED[0]), b"3 %d" % len(SERVED[2])]
    assert [line.split()[0] for line in client.multi("UIDL")[1]] == [b"1", b"3"]
    for command in ("RETR 2", "LIST 2", "TOP 2 0", "UIDL 2", "DELE 2"):
        assert client.cmd(command).startswith(b"-ERR"), command
    # Numbers stay fixed: message 3 is still message 3.
    assert client.raw_multi("RETR 3").endswith(SERVED[2] + b".\r\n")


def test_uidl_is_stable_across_sessions_and_deletions(connect, account, seed):
    seed(account, STANDARD)
    client = connect()
    client.login(account)
    listing = client.multi("UIDL")[1]
    uids = [line.split(b" ", 1)[1] for line in listing]
    assert all(re.fullmatch(rb"[\x21-\x7e]{1,70}", uid) for uid in uids)
    assert len(set(uids)) == 3
    assert client.cmd("UIDL 2") == b"+OK 2 " + uids[1]
    assert client.cmd("DELE 1").startswith(b"+OK")
    assert client.cmd("QUIT").startswith(b"+OK")
    again = connect()
    again.login(account)
    assert again.multi("UIDL")[1] == [b"1 " + uids[1], b"2 " + uids[2]]
    assert again.raw_multi("RETR 1").endswith(SERVED[1].replace(b"\r\n.", b"\r\n..") + b".\r\n")


def test_uidl_uses_the_maildir_name_or_its_hash(connect, account, seed, server):
    long_name = "x" * 80
    seed(account, [b"a\n", b"b\n", b"c\n"], names=["1.a.host", "2 with space", long_name])
    cur = server.maildir(account.user) / "cur"
    (server.maildir(account.user) / "new" / "1.a.host").rename(cur / "1.a.host:2,S")
    client = connect()
    client.login(account)
    assert client.multi("UIDL")[1] == [
        b"1 1.a.host",
        b"2 " + hashlib.sha1(b"2 with space").hexdigest().encode(),
        b"3 " + hashlib.sha1(long_name.encode()).hexdigest().encode(),
    ]


def test_missing_maildir_is_an_empty_maildrop(connect, account, server):
    shutil.rmtree(server.maildir(account.user))
    client = connect()
    client.login(account)
    assert client.cmd("STAT") == b"+OK 0 0"
    assert client.multi("LIST")[1] == []
    assert client.multi("UIDL")[1] == []
    assert client.cmd("RETR 1").startswith(b"-ERR")


def test_failed_removal_answers_sys_temp(connect, account, seed):
    paths = seed(account, STANDARD)
    client = connect()
    client.login(account)
    assert client.cmd("DELE 1").startswith(b"+OK")
    assert client.cmd("DELE 3").startswith(b"+OK")
    # A directory where the file was: unlink fails even for root.
    paths[0].unlink()
    paths[0].mkdir()
    (paths[0] / "keep").write_bytes(b"x")
    assert client.cmd("QUIT") == b"-ERR [SYS/TEMP] some deleted messages not removed"
    assert client.closed()
    assert not paths[2].exists() and paths[1].exists()


# -- syntax and states ----------------------------------------------------------


def test_wrong_state_and_malformed_commands_get_err(connect, account, seed):
    seed(account, STANDARD)
    client = connect()
    for command in ("STAT", "LIST", "LIST 1", "RETR 1", "DELE 1", "NOOP", "RSET", "TOP 1 0"):
        assert client.cmd(command).startswith(b"-ERR"), command
    for command in ("UIDL", "PASS x", "XYZZ", "", "   ", "USER", "APOP x", "CAPA x", "QUIT x"):
        assert client.cmd(command).startswith(b"-ERR"), command
    client.login(account)
    wrong = ["USER x", "PASS x", f"APOP {account.user} {'0' * 32}", "AUTH PLAIN", "STLS"]
    malformed = ["NOOP x", "STAT 1", "RSET 1", "LIST 1 2", "RETR", "RETR abc", "RETR 0"]
    malformed += ["RETR -1", "RETR +1", "RETR 1.5", "RETR 99999999999999999999", "DELE 4"]
    malformed += ["LIST  1", "UIDL 1 2", "DELE", "LIS", "RETRX 1", "NOOP\0"]
    for command in wrong + malformed:
        assert client.cmd(command).startswith(b"-ERR"), command
    assert client.cmd("RETR 0002").startswith(b"+OK")  # leading zeros are still decimal
    client.body()
    for command in ("stat", "StAt", "noop", "list 1", "uidl 1"):
        assert client.cmd(command).startswith(b"+OK"), command
    assert client.cmd("quit").startswith(b"+OK")


def test_255_octet_commands_work_and_longer_lines_are_refused(connect, account, seed):
    seed(account, STANDARD)
    client = connect()
    user = "USER " + "u" * 248
    assert len(user) + 2 == 255
    assert client.cmd(user).startswith(b"+OK")
    assert client.cmd(user + "u").startswith(b"-ERR line too long")
    client.login(account)
    assert client.cmd("LIST " + "0" * 247 + "1") == f"+OK 1 {len(SERVED[0])}".encode()
    assert client.cmd("TOP 1 " + "0" * 247).startswith(b"+OK")
    client.body()
    assert client.cmd("NOOP " + "x" * 70000) == b"-ERR line too long"
    assert client.cmd("NOOP") == b"+OK"
    # No line end at all: the refusal must not wait for one.
    client.send(b"X" * 1000)
    assert client.line() == b"-ERR line too long\r\n"
    client.send(b"Y" * 5000 + b"\r\n")
    assert client.cmd("STAT").startswith(b"+OK 3 ")


def test_status_lines_stay_under_512_octets(connect, account):
    client = connect()
    client.login(account)
    assert len(client.cmd("RETR " + "9" * 240)) <= 510


def test_pipelined_commands_are_all_answered_in_order(connect, account, seed):
    paths = seed(account, STANDARD)
    client = connect()
    batch = (
        f"USER {account.user}\r\nPASS {account.password}\r\nSTAT\r\nLIST\r\nUIDL\r\n"
        "RETR 1\r\nRETR 2\r\nDELE 1\r\nNOOP\r\nBOGUS\r\nSTAT\r\nQUIT\r\n"
    )
    client.send(batch.encode())
    assert client.line().startswith(b"+OK")
    assert client.line().startswith(b"+OK")
    assert client.line() == f"+OK 3 {sum(map(len, SERVED))}\r\n".encode()
    assert client.line().startswith(b"+OK") and len(client.body()) == 3
    assert client.line().startswith(b"+OK") and len(client.body()) == 3
    assert client.line().startswith(b"+OK") and client.body() == SERVED[0].splitlines()
    assert client.line().startswith(b"+OK") and client.body()[3] == b"..leading dot"
    assert client.line() == b"+OK message 1 deleted\r\n"
    assert client.line() == b"+OK\r\n"
    assert client.line().startswith(b"-ERR")
    assert client.line().startswith(b"+OK 2 ")
    assert client.line().startswith(b"+OK")
    assert client.closed()
    assert not paths[0].exists() and paths[1].exists()


def test_bare_lf_and_split_segments_are_one_command_each(connect, account):
    client = connect()
    client.login(account)
    client.send(b"NOOP\n")
    assert client.line() == b"+OK\r\n"
    for part in (b"NO", b"OP\r", b"\n"):
        client.send(part)
        time.sleep(0.02)
    assert client.line() == b"+OK\r\n"
    assert client.cmd("STAT").startswith(b"+OK")  # nothing extra was queued in between


def test_noop_round_trip_is_cheap(connect, account):
    client = connect()
    client.login(account)
    start = time.perf_counter()
    for _ in range(300):
        assert client.cmd("NOOP") == b"+OK"
    assert (time.perf_counter() - start) / 300 < 0.002


def test_a_retr_flood_from_a_client_that_reads_late_neither_deadlocks_nor_drops(
    connect, account, seed
):
    body = b"".join(b"line %06d of a large message\n" % i for i in range(3000))
    seed(account, [b"Subject: big\n\n" + body])
    client = connect()
    client.login(account)
    client.send(b"RETR 1\r\n" * 200 + b"NOOP\r\n")
    time.sleep(0.5)  # not reading: the server must wait, not fail or buffer without end
    expected = len(body) + len(b"Subject: big\r\n\r\n") + body.count(b"\n")
    for _ in range(200):
        assert client.line() == f"+OK {expected} octets\r\n".encode()
        assert len(client.body()) == 3002
    assert client.line() == b"+OK\r\n"  # the NOOP queued behind them
    assert client.cmd("STAT") == f"+OK 1 {expected}".encode()
