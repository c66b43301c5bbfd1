"""Fixtures for the reference server's tests: one child server, fresh accounts, a tiny client.

The client is deliberately naive (plain blocking sockets with timeouts) and
shares nothing with the harness's codec, so these tests judge the server on
their own.
"""

from __future__ import annotations

import itertools
import shutil
import socket
import struct
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from conformance.server.embedded import EmbeddedAccount, EmbeddedServer

TIMEOUT = 5.0
ACCOUNTS = tuple(f"user{i:03d}" for i in range(150))


class Client:
    """A POP3 client over one socket; every read has a deadline."""

    def __init__(self, host: str, port: int) -> None:
        self.sock = socket.create_connection((host, port), timeout=TIMEOUT)
        self.buffer = b""
        self.greeting = self.line()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self) -> bool:
        chunk = self.sock.recv(65536)
        self.buffer += chunk
        return bool(chunk)

    def line(self) -> bytes:
        """One line with its CRLF; raises EOFError if the server closed first."""
        while b"\r\n" not in self.buffer:
            if not self._fill():
                raise EOFError(f"connection closed, pending {self.buffer!r}")
        line, _, self.buffer = self.buffer.partition(b"\r\n")
        return line + b"\r\n"

    def cmd(self, command: str | bytes) -> bytes:
        """Send a command and return its single status line, without CRLF."""
        data = command.encode() if isinstance(command, str) else command
        self.send(data + b"\r\n")
        return self.line()[:-2]

    def body(self) -> list[bytes]:
        """The lines of a multi-line body up to the terminator, still stuffed, without CRLF."""
        lines: list[bytes] = []
        while (line := self.line()) != b".\r\n":
            lines.append(line[:-2])
        return lines

    def multi(self, command: str) -> tuple[bytes, list[bytes]]:
        status = self.cmd(command)
        assert status.startswith(b"+OK"), status
        return status, self.body()

    def raw_multi(self, command: str) -> bytes:
        """All bytes of a multi-line answer, status line and terminator included."""
        self.send(command.encode() + b"\r\n")
        while b"\r\n.\r\n" not in self.buffer:
            if not self._fill():
                raise EOFError("connection closed inside a multi-line answer")
        data, _, self.buffer = self.buffer.partition(b"\r\n.\r\n")
        return data + b"\r\n.\r\n"

    def login(self, account: EmbeddedAccount) -> None:
        assert self.cmd(f"USER {account.user}").startswith(b"+OK")
        status = self.cmd(f"PASS {account.password}")
        assert status.startswith(b"+OK"), status

    def closed(self, within: float = TIMEOUT) -> bool:
        """True if the server closes the connection (EOF) without sending anything more."""
        self.sock.settimeout(within)
        try:
            extra = self.sock.recv(65536)
        except ConnectionResetError:
            return True
        except TimeoutError:
            return False
        finally:
            self.sock.settimeout(TIMEOUT)
        assert extra == b"", f"server sent {extra!r} instead of closing"
        return True

    def reset(self) -> None:
        """Abort with an RST (SO_LINGER 0)."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()

    def close(self) -> None:
        self.sock.close()


@pytest.fixture(scope="session")
def server() -> Iterator[EmbeddedServer]:
    apop = [f"apop{i:02d}" for i in range(8)]
    with EmbeddedServer(accounts=ACCOUNTS, apop_accounts=apop) as running:
        yield running


_unused = itertools.count()
_unused_apop = itertools.count()


@pytest.fixture
def account(server: EmbeddedServer) -> EmbeddedAccount:
    """An account no other test has used: no lock or mail left over from elsewhere."""
    return server.accounts[next(_unused)]


@pytest.fixture
def other_account(server: EmbeddedServer) -> EmbeddedAccount:
    return server.accounts[next(_unused)]


@pytest.fixture
def apop_account(server: EmbeddedServer) -> EmbeddedAccount:
    """An unused account whose mailbox takes APOP and not USER/PASS."""
    return [a for a in server.accounts if a.apop][next(_unused_apop)]


@pytest.fixture
def client_of() -> Iterator[Callable[[EmbeddedServer], Client]]:
    """Clients of any server (not only the session's), closed at the end of the test."""
    clients: list[Client] = []

    def make(other: EmbeddedServer) -> Client:
        client = Client(other.host, other.port)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def connect(
    server: EmbeddedServer, client_of: Callable[[EmbeddedServer], Client]
) -> Callable[[], Client]:
    return lambda: client_of(server)


Seeder = Callable[..., list[Path]]


@pytest.fixture
def seed(server: EmbeddedServer) -> Seeder:
    """Write messages into an account's maildir (``new/``), names and order as given."""

    def write(
        account: EmbeddedAccount, messages: list[bytes], names: list[str] | None = None
    ) -> list[Path]:
        directory = server.maildir(account.user)
        for sub in ("new", "cur"):
            shutil.rmtree(directory / sub, ignore_errors=True)
            (directory / sub).mkdir(parents=True)
        paths = []
        for i, message in enumerate(messages):
            name = names[i] if names else f"{1700000000 + i}.M{i}P1.test"
            path = directory / "new" / name
            path.write_bytes(message)
            paths.append(path)
        return paths

    return write
