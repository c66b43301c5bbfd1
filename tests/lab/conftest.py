"""Fixtures for the lab tests: one Dovecot instance per test session, a tiny client.

The client is a plain blocking socket with a deadline on every read, and
shares nothing with the harness's codec: these tests judge the lab set-up,
not the harness.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from conformance.lab import LAB_SERVERS, LabInstance, LabServer

TIMEOUT = 15.0  # per read; a locked maildrop answers only after ~10 s


class Pop3:
    """A minimal POP3 client: one command, one response, all with deadlines."""

    def __init__(
        self, instance: LabInstance, timeout: float = TIMEOUT, sock: socket.socket | None = None
    ) -> None:
        """Connect to the instance's POP3 port and read the greeting; or, given
        ``sock`` (a TLS socket after STLS, say), carry on over it with no greeting."""
        if sock is None:
            self.sock = socket.create_connection((instance.host, instance.port), timeout=timeout)
        else:
            self.sock = sock
        self.file = self.sock.makefile("rb")
        self.greeting = self.line() if sock is None else ""

    def line(self) -> str:
        raw = self.file.readline(65536)
        if not raw.endswith(b"\r\n"):
            raise EOFError(f"connection ended or line unterminated: {raw!r}")
        return raw[:-2].decode("utf-8", "replace")

    def cmd(self, text: str) -> str:
        self.sock.sendall(text.encode("ascii") + b"\r\n")
        return self.line()

    def multi(self, text: str) -> tuple[str, bytes]:
        """Send a multi-line command; return its status line and the un-stuffed body."""
        status = self.cmd(text)
        if not status.startswith("+OK"):
            return status, b""
        body: list[bytes] = []
        while True:
            raw = self.file.readline(65536)
            if not raw.endswith(b"\r\n"):
                raise EOFError(f"multi-line response cut off after {len(body)} lines")
            if raw == b".\r\n":
                return status, b"".join(body)
            body.append(raw[1:] if raw.startswith(b".") else raw)

    def login(self, user: str, password: str) -> None:
        assert self.cmd(f"USER {user}").startswith("+OK")
        reply = self.cmd(f"PASS {password}")
        assert reply.startswith("+OK"), reply

    def close(self) -> None:
        self.file.close()
        self.sock.close()


@pytest.fixture(scope="session")
def dovecot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabInstance]:
    """A Dovecot POP3 instance on 127.0.0.1 for the whole session, stopped at the end."""
    server = LAB_SERVERS["dovecot"]
    ok, reason = server.available()
    if not ok:
        # CI installs Dovecot (.ci/install-servers.sh): a skip there would hide
        # a broken install, so it fails instead.
        if os.environ.get("CI"):
            pytest.fail(f"Dovecot lab unavailable in CI: {reason}")
        pytest.skip(reason)
    instance = server.start(tmp_path_factory.mktemp("dovecot"))
    try:
        yield instance
    finally:
        instance.stop()


def require(name: str, listeners: Sequence[str] = ()) -> LabServer:
    """The lab server `name` (with `listeners`), or a skip saying why this machine cannot start it.

    In CI every server is installed (.ci/install-servers.sh): a skip there
    would hide a broken install, so it fails instead.
    """
    server = LAB_SERVERS[name]
    ok, reason = server.available(listeners)
    if not ok:
        if os.environ.get("CI"):
            pytest.fail(f"{name} lab unavailable in CI: {reason}")
        pytest.skip(reason)
    return server


def process_ended(pid: int) -> bool:
    """Read /proc directly, independent of the lab's own process code."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(") ")[2].split()[0]
    except OSError:
        return True
    return state in ("Z", "X")  # a zombie no longer runs (see LabProcess.alive)


def processes_mentioning(text: str) -> list[int]:
    """Live processes whose command line contains `text` (e.g. an instance's folder)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if text.encode() in cmdline and not process_ended(int(entry.name)):
            found.append(int(entry.name))
    return found


def port_accepts(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError:
        return False
    return True
