"""The reference server's AUTH (RFC 5034): PLAIN, LOGIN and CRAM-MD5 on the wire."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import socket
from collections.abc import Iterator

import pytest

from conformance.server import sasl
from conformance.server.embedded import EmbeddedServer

MECHANISMS = [b"PLAIN", b"LOGIN", b"CRAM-MD5"]


def b64(data: str | bytes) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return base64.b64encode(raw).decode()


def plain(authcid: str, password: str, authzid: str = "") -> str:
    return b64(f"{authzid}\0{authcid}\0{password}")


def challenge(line: bytes) -> bytes:
    """The decoded data of a "+ base64" line (without CRLF)."""
    assert line.startswith(b"+ "), line
    assert re.fullmatch(rb"\+ [A-Za-z0-9+/]*={0,2}", line), line
    return base64.b64decode(line[2:], validate=True)


def cram_response(user: str, password: str, data: bytes) -> str:
    digest = hmac.new(password.encode(), data, hashlib.md5).hexdigest()
    return b64(f"{user} {digest}")


def assert_authorization_state(client) -> None:
    assert client.cmd("STAT").startswith(b"-ERR")


# -- discovery -----------------------------------------------------------------


def test_capa_and_bare_auth_list_the_same_mechanisms(connect, account):
    client = connect()
    assert b"SASL " + b" ".join(MECHANISMS) in client.multi("CAPA")[1]
    assert client.multi("AUTH")[1] == MECHANISMS
    client.login(account)
    # RFC 5034 section 3: SASL stays in CAPA after login.
    assert b"SASL " + b" ".join(MECHANISMS) in client.multi("CAPA")[1]


def test_unknown_mechanism_is_refused(connect):
    client = connect()
    assert client.cmd("AUTH X-NO-SUCH-MECH") == b"-ERR unsupported SASL mechanism"
    assert client.cmd("AUTH X-NO-SUCH-MECH dGVzdA==").startswith(b"-ERR")


# -- PLAIN ---------------------------------------------------------------------


def test_plain_with_an_initial_response(connect, account):
    client = connect()
    assert client.cmd(f"AUTH PLAIN {plain(account.user, account.password)}").startswith(b"+OK")
    assert client.cmd("STAT").startswith(b"+OK")


def test_plain_without_an_initial_response_gets_an_empty_challenge(connect, account):
    client = connect()
    client.send(b"AUTH PLAIN\r\n")
    assert client.line() == b"+ \r\n"  # RFC 5034 section 4: "+" SP and nothing else
    assert client.cmd(plain(account.user, account.password)).startswith(b"+OK")


def test_mechanism_names_are_case_insensitive(connect, account):
    client = connect()
    assert client.cmd(f"auth plain {plain(account.user, account.password)}").startswith(b"+OK")


def test_equals_sign_is_an_empty_initial_response(connect, account):
    client = connect()
    # Present but empty: PLAIN needs data, so this fails at once, with no challenge.
    assert client.cmd("AUTH PLAIN =") == b"-ERR malformed PLAIN response"
    assert_authorization_state(client)


def test_plain_with_another_authzid_is_refused(connect, account, other_account):
    client = connect()
    token = plain(account.user, account.password, authzid=other_account.user)
    assert client.cmd(f"AUTH PLAIN {token}").startswith(b"-ERR [AUTH]")
    assert_authorization_state(client)
    token = plain(account.user, account.password, authzid=account.user)
    assert client.cmd(f"AUTH PLAIN {token}").startswith(b"+OK")


def test_plain_fields_of_255_octets_get_an_ordinary_answer(connect):
    client = connect()
    client.send(b"AUTH PLAIN\r\n")
    assert client.line() == b"+ \r\n"
    token = plain("u" * 255, "p" * 255, authzid="z" * 255)
    assert len(token) > 1000  # RFC 5034 section 4: beyond the 255-octet command limit
    assert client.cmd(token) == b"-ERR [AUTH] invalid user name or password"
    assert_authorization_state(client)


def test_a_sasl_response_beyond_any_mechanism_size_is_refused_not_fatal(connect, account):
    client = connect()
    client.send(b"AUTH PLAIN\r\n")
    assert client.line() == b"+ \r\n"
    assert client.cmd("A" * 20000) == b"-ERR line too long"
    assert client.cmd(f"AUTH PLAIN {plain(account.user, account.password)}").startswith(b"+OK")


# -- LOGIN ---------------------------------------------------------------------


def test_login_asks_for_user_name_then_password(connect, account):
    client = connect()
    client.send(b"AUTH LOGIN\r\n")
    assert challenge(client.line()[:-2]) == b"Username:"
    client.send(b64(account.user).encode() + b"\r\n")
    assert challenge(client.line()[:-2]) == b"Password:"
    assert client.cmd(b64(account.password)).startswith(b"+OK")


def test_login_takes_the_user_name_as_initial_response(connect, account):
    client = connect()
    client.send(f"AUTH LOGIN {b64(account.user)}\r\n".encode())
    assert challenge(client.line()[:-2]) == b"Password:"
    assert client.cmd(b64("wrong")) == b"-ERR [AUTH] invalid user name or password"
    assert_authorization_state(client)


# -- CRAM-MD5 ------------------------------------------------------------------


def test_cram_md5_challenge_is_a_fresh_msg_id(connect):
    seen = set()
    for _ in range(3):
        client = connect()
        client.send(b"AUTH CRAM-MD5\r\n")
        data = challenge(client.line()[:-2])
        # RFC 2195: random digits, a timestamp and a host name, as an RFC 822 msg-id.
        assert re.fullmatch(rb"<[0-9.]+@[A-Za-z0-9.-]+>", data), data
        seen.add(data)
    assert len(seen) == 3


def test_cram_md5_verifies_the_hmac(connect, account):
    client = connect()
    client.send(b"AUTH CRAM-MD5\r\n")
    data = challenge(client.line()[:-2])
    assert client.cmd(cram_response(account.user, "wrong", data)).startswith(b"-ERR [AUTH]")
    assert_authorization_state(client)
    client.send(b"AUTH CRAM-MD5\r\n")
    data = challenge(client.line()[:-2])
    assert client.cmd(cram_response(account.user, account.password, data)).startswith(b"+OK")


def test_cram_md5_refuses_an_initial_response(connect):
    client = connect()
    # RFC 5034 section 4: a server-first mechanism with an initial response: -ERR.
    assert client.cmd("AUTH CRAM-MD5 dGVzdA==") == b"-ERR CRAM-MD5 takes no initial response"
    assert client.cmd("AUTH CRAM-MD5 =").startswith(b"-ERR")
    assert_authorization_state(client)


def test_cram_md5_for_an_unknown_user_fails_like_a_wrong_password(connect):
    client = connect()
    client.send(b"AUTH CRAM-MD5\r\n")
    data = challenge(client.line()[:-2])
    assert client.cmd(cram_response("nobody", "", data)) == (
        b"-ERR [AUTH] invalid user name or password"
    )


# -- cancel, base64, state -----------------------------------------------------


@pytest.mark.parametrize(
    "start, steps",
    [("AUTH PLAIN", 0), ("AUTH LOGIN", 0), ("AUTH LOGIN", 1), ("AUTH CRAM-MD5", 0)],
)
def test_star_cancels_at_any_step(connect, account, start, steps):
    client = connect()
    client.send(start.encode() + b"\r\n")
    assert client.line().startswith(b"+ ")
    for _ in range(steps):
        client.send(b64(account.user).encode() + b"\r\n")
        assert client.line().startswith(b"+ ")
    assert client.cmd("*") == b"-ERR authentication cancelled"
    # RFC 5034 section 4: as if AUTH had never been sent.
    client.login(account)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:4] + "-" + t[4:],  # outside the alphabet
        lambda t: t[:4] + "." + t[4:],
        lambda t: t[:4] + "\t" + t[4:],
        lambda t: "=" + t,  # pad character not at the end
        lambda t: t[:4] + "=" + t[4:],
        lambda t: t + "@",
    ],
)
def test_invalid_base64_is_refused_even_around_good_credentials(connect, account, mangle):
    token = mangle(plain(account.user, account.password))
    client = connect()
    assert client.cmd(f"AUTH PLAIN {token}") == b"-ERR invalid base64"
    client.send(b"AUTH PLAIN\r\n")
    assert client.line() == b"+ \r\n"
    assert client.cmd(token) == b"-ERR invalid base64"
    assert_authorization_state(client)


def test_a_failed_auth_leaves_authorization_and_no_lock(connect, account):
    client = connect()
    assert client.cmd(f"AUTH PLAIN {plain(account.user, 'wrong')}").startswith(b"-ERR [AUTH]")
    assert_authorization_state(client)
    assert client.cmd(f"AUTH PLAIN {plain(account.user, account.password)}").startswith(b"+OK")


def test_no_auth_after_a_successful_one(connect, account):
    client = connect()
    assert client.cmd(f"AUTH PLAIN {plain(account.user, account.password)}").startswith(b"+OK")
    # RFC 5034 section 4: "a server MUST reject any further AUTH commands".
    assert client.cmd(f"AUTH PLAIN {plain(account.user, account.password)}").startswith(b"-ERR")
    assert client.cmd("AUTH").startswith(b"-ERR")
    assert client.cmd("STAT").startswith(b"+OK")


def test_auth_with_too_many_arguments_is_refused(connect):
    client = connect()
    assert client.cmd("AUTH PLAIN a b").startswith(b"-ERR")


# -- defects -------------------------------------------------------------------


@pytest.fixture(scope="module")
def lenient_server() -> Iterator[EmbeddedServer]:
    with EmbeddedServer(
        accounts=("l1",), extra_args=["--defect", "auth-bad-base64-accepted"]
    ) as server:
        yield server


def test_defect_auth_bad_base64_accepted(lenient_server):
    account = lenient_server.account("l1")
    token = plain(account.user, account.password)
    with socket.create_connection((lenient_server.host, lenient_server.port), 5.0) as sock:
        reader = sock.makefile("rb")
        assert reader.readline().startswith(b"+OK")
        sock.sendall(f"AUTH PLAIN {token[:4]}-{token[4:]}\r\n".encode())
        assert reader.readline().startswith(b"+OK")


# -- the mechanisms alone ------------------------------------------------------


class Accounts:
    def __init__(self, accounts: dict[str, str]) -> None:
        self.accounts = accounts

    def password_ok(self, user: str, password: str) -> bool:
        return self.accounts.get(user) == password

    def secret(self, user: str) -> str | None:
        return self.accounts.get(user)


def run(mechanism: sasl.Mechanism, initial: bytes | None, *responses: bytes) -> sasl.Outcome:
    outcome = mechanism(initial, Accounts({"ann": "pw"}))
    for response in responses:
        assert isinstance(outcome, sasl.Challenge), outcome
        outcome = outcome.next(response)
    return outcome


@pytest.mark.parametrize(
    "mechanism, initial, responses, expected",
    [
        (sasl.plain, b"\0ann\0pw", (), sasl.Verdict("ann", "", True)),
        (sasl.plain, b"boss\0ann\0pw", (), sasl.Verdict("ann", "boss", True)),
        (sasl.plain, None, (b"\0ann\0no",), sasl.Verdict("ann", "", False)),
        (sasl.plain, b"\0\0pw", (), sasl.Malformed("malformed PLAIN response")),
        (sasl.plain, b"ann\0pw", (), sasl.Malformed("malformed PLAIN response")),
        (sasl.login, None, (b"ann", b"pw"), sasl.Verdict("ann", "", True)),
        (sasl.login, b"ann", (b"nope",), sasl.Verdict("ann", "", False)),
        (sasl.cram_md5, b"", (), sasl.Malformed("CRAM-MD5 takes no initial response")),
        (sasl.cram_md5, None, (b"nospace",), sasl.Malformed("malformed CRAM-MD5 response")),
    ],
)
def test_mechanism_outcomes(mechanism, initial, responses, expected):
    assert run(mechanism, initial, *responses) == expected


def test_cram_md5_outcome_depends_on_the_challenge():
    outcome = sasl.cram_md5(None, Accounts({"ann": "pw"}))
    assert isinstance(outcome, sasl.Challenge)
    good = hmac.new(b"pw", outcome.data, hashlib.md5).hexdigest()
    assert outcome.next(f"ann {good}".encode()) == sasl.Verdict("ann", "", True)
    assert outcome.next(f"ann {good.upper()}".encode()) == sasl.Verdict("ann", "", True)
    stale = hmac.new(b"pw", b"<1.2@other>", hashlib.md5).hexdigest()
    assert outcome.next(f"ann {stale}".encode()) == sasl.Verdict("ann", "", False)
