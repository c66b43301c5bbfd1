"""The two defects that show only under concurrency, on the reference server itself.

Each test runs the same steps against a clean server and against the
defective one: the clean server keeps the rule, the defective one breaks it,
and a client that does one thing at a time sees no difference.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator

import pytest

from conformance.server.embedded import EmbeddedServer

ACCOUNTS = tuple(f"user{i:02d}" for i in range(12))
_names = itertools.count()


def _server(*defect: str) -> Iterator[EmbeddedServer]:
    extra = ("--defect", *defect) if defect else ()
    with EmbeddedServer(accounts=ACCOUNTS, extra_args=extra) as running:
        yield running


@pytest.fixture(scope="module")
def racy() -> Iterator[EmbeddedServer]:
    yield from _server("lock-check-then-set")


@pytest.fixture(scope="module")
def rewriting() -> Iterator[EmbeddedServer]:
    yield from _server("quit-rewrites-snapshot")


@pytest.fixture(scope="module")
def clean() -> Iterator[EmbeddedServer]:
    yield from _server()


def _password(server: EmbeddedServer, user: str) -> str:
    return next(a.password for a in server.accounts if a.user == user)


def _two_logins_at_once(server: EmbeddedServer, user: str, client_of) -> list[bytes]:
    a, b = client_of(server), client_of(server)
    for client in (a, b):
        assert client.cmd(f"USER {user}").startswith(b"+OK")
    # Both PASS lines leave before either answer is read.
    for client in (a, b):
        client.send(f"PASS {_password(server, user)}\r\n".encode())
    return [a.line()[:-2], b.line()[:-2]]


def _one_after_the_other(server: EmbeddedServer, user: str, client_of) -> bytes:
    first, second = client_of(server), client_of(server)
    assert first.cmd(f"USER {user}").startswith(b"+OK")
    assert first.cmd(f"PASS {_password(server, user)}").startswith(b"+OK")
    assert second.cmd(f"USER {user}").startswith(b"+OK")
    answer: bytes = second.cmd(f"PASS {_password(server, user)}")
    first.cmd("QUIT")
    return answer


def test_lock_check_then_set_lets_two_simultaneous_logins_in(racy, clean, client_of) -> None:
    both = _two_logins_at_once(racy, "user00", client_of)
    assert all(answer.startswith(b"+OK") for answer in both), both
    one = _two_logins_at_once(clean, "user00", client_of)
    assert sorted(answer[:4] for answer in one) == [b"+OK ", b"-ERR"], one


def test_lock_check_then_set_is_invisible_one_login_at_a_time(racy, client_of) -> None:
    assert _one_after_the_other(racy, "user01", client_of).startswith(b"-ERR [IN-USE]")


def _deliver(server: EmbeddedServer, user: str, stamp: int) -> None:
    new = server.maildir(user) / "new"
    new.mkdir(parents=True, exist_ok=True)
    name = f"{stamp}.D{next(_names)}.test"
    (new / name).write_bytes(b"Subject: " + name.encode() + b"\n\nbody\n")


def _count(server: EmbeddedServer, user: str, client_of) -> int:
    client = client_of(server)
    assert client.cmd(f"USER {user}").startswith(b"+OK")
    assert client.cmd(f"PASS {_password(server, user)}").startswith(b"+OK")
    count = int(client.cmd("STAT").split()[1])
    client.cmd("QUIT")
    return count


@pytest.mark.parametrize(("user", "marked"), [("user02", False), ("user03", True)])
def test_quit_rewrites_snapshot_loses_mail_delivered_during_the_session(
    rewriting, clean, client_of, user: str, marked: bool
) -> None:
    for server in (rewriting, clean):
        _deliver(server, user, int(time.time()) - 100)
        client = client_of(server)
        assert client.cmd(f"USER {user}").startswith(b"+OK")
        assert client.cmd(f"PASS {_password(server, user)}").startswith(b"+OK")
        before = int(client.cmd("STAT").split()[1])
        _deliver(server, user, int(time.time()))
        if marked:
            assert client.cmd("DELE 1").startswith(b"+OK")
        assert client.cmd("QUIT").startswith(b"+OK")
        after = _count(server, user, client_of)
        kept = before - marked + 1  # the message delivered meanwhile stays
        assert after == (kept if server is clean else kept - 1), server.extra_args


def test_quit_rewrites_snapshot_is_invisible_without_a_delivery_during_a_session(
    rewriting, client_of
) -> None:
    _deliver(rewriting, "user04", 1700000000)
    _deliver(rewriting, "user04", 1700000001)
    assert _count(rewriting, "user04", client_of) == 2
    _deliver(rewriting, "user04", 1700000002)
    assert _count(rewriting, "user04", client_of) == 3
