"""The reference server's UTF8 and LANG commands (RFC 6856)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from conformance.server.embedded import EmbeddedServer

UTF8_HEADERS = "From: Jörg <j@example.org>\r\nSubject: Grüße\r\n\r\nbody\r\n".encode()
EIGHT_BIT_BODY = "From: a@example.org\r\nSubject: ascii\r\n\r\nGrüße\r\n".encode()
ASCII = b"From: a@example.org\r\nSubject: plain\r\n\r\nbody\r\n"


def test_utf8_and_lang_are_advertised_in_both_states(connect, account):
    client = connect()
    before = client.multi("CAPA")[1]
    assert b"UTF8" in before and b"LANG" in before
    client.login(account)
    after = client.multi("CAPA")[1]
    assert b"UTF8" in after and b"LANG" in after


def test_utf8_is_accepted_in_authorization_only(connect, account):
    client = connect()
    assert client.cmd("UTF8 now").startswith(b"-ERR")  # "has no parameters"
    assert client.cmd("UTF8") == b"+OK UTF-8 mode enabled"
    client.login(account)
    # RFC 6856 section 2: "Commands valid in states: AUTHORIZATION".
    assert client.cmd("UTF8") == b"-ERR command not valid in this state"


def test_utf8_headers_need_utf8_mode(connect, account, seed):
    seed(account, [UTF8_HEADERS, EIGHT_BIT_BODY, ASCII])
    client = connect()
    client.login(account)
    # RFC 6856 section 2.1 and 5: no raw UTF-8 without UTF-8 mode; -ERR [UTF8].
    assert client.cmd("RETR 1") == b"-ERR [UTF8] message has UTF-8 headers: send UTF8 first"
    assert client.cmd("TOP 1 0").startswith(b"-ERR [UTF8]")
    assert client.cmd("LIST 1") == f"+OK 1 {len(UTF8_HEADERS)}".encode()
    # An 8-bit body under ASCII headers is "obviously allowed".
    assert client.multi("RETR 2")[1][-1] == "Grüße".encode()
    assert client.multi("RETR 3")[1] == ASCII.split(b"\r\n")[:-1]


def test_in_utf8_mode_messages_are_sent_as_is(connect, account, seed):
    seed(account, [UTF8_HEADERS, ASCII])
    client = connect()
    assert client.cmd("UTF8").startswith(b"+OK")
    client.login(account)
    assert client.multi("RETR 1")[1] == UTF8_HEADERS.split(b"\r\n")[:-1]
    assert client.multi("TOP 1 0")[1] == UTF8_HEADERS.split(b"\r\n")[:3]
    # "UTF-8 mode has no effect on messages in an ASCII-only maildrop."
    assert client.multi("RETR 2")[1] == ASCII.split(b"\r\n")[:-1]


def test_lang_lists_the_languages(connect, account):
    client = connect()
    assert client.multi("LANG")[1] == [b"en English"]
    client.login(account)
    assert client.multi("LANG")[1] == [b"en English"]  # valid in TRANSACTION too


@pytest.mark.parametrize("language_range", ["en", "EN", "*"])
def test_lang_selects_english(connect, language_range):
    client = connect()
    # RFC 6856 section 3.2: +OK SP tag SP text.
    assert client.cmd(f"LANG {language_range}") == b"+OK en language changed"


@pytest.mark.parametrize("language_range", ["de", "en-US", "e", "x-klingon"])
def test_lang_refuses_other_languages(connect, language_range):
    client = connect()
    assert client.cmd(f"LANG {language_range}") == b"-ERR unsupported language"
    assert client.cmd("LANG en").startswith(b"+OK en ")


def test_lang_takes_one_argument(connect):
    client = connect()
    assert client.cmd("LANG en de").startswith(b"-ERR")


# -- defects -------------------------------------------------------------------


@pytest.fixture(scope="module")
def defective() -> Iterator[dict[str, EmbeddedServer]]:
    names = ("utf8-in-transaction", "utf8-headers-without-utf8-mode")
    servers = {n: EmbeddedServer(accounts=("u1",), extra_args=["--defect", n]) for n in names}
    try:
        for server in servers.values():
            server.start()
        yield servers
    finally:
        for server in servers.values():
            server.stop()


def converse(server: EmbeddedServer, lines: list[str]) -> list[bytes]:
    """Log in as u1, send ``lines`` one by one, return the first line of each answer."""
    account = server.account("u1")
    answers = []
    with socket.create_connection((server.host, server.port), 5.0) as sock:
        reader = sock.makefile("rb")
        reader.readline()
        for line in [f"USER {account.user}", f"PASS {account.password}", *lines]:
            sock.sendall(line.encode() + b"\r\n")
            answers.append(reader.readline())
    return answers[2:]


def test_defect_utf8_in_transaction(defective):
    assert converse(defective["utf8-in-transaction"], ["UTF8"])[0].startswith(b"+OK")


def test_defect_utf8_headers_without_utf8_mode(defective):
    server = defective["utf8-headers-without-utf8-mode"]
    (server.maildir("u1") / "new" / "1.M1P1.test").write_bytes(UTF8_HEADERS)
    assert converse(server, ["RETR 1"])[0].startswith(b"+OK")
