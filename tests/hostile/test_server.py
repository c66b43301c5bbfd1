"""The hostile server itself: each mode does what it says, and the proxy frames answers right.

A naive socket client talks to the modes directly, so that these tests do not
depend on the harness they are there to judge.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator

import pytest

from conformance.server.embedded import EmbeddedServer
from tests.hostile.server import (
    BINARY,
    HostileServer,
    Inject,
    Trickle,
    expects_multiline,
    make_mode,
)

TIMEOUT = 5.0
Connect = Callable[..., "Peer"]


@pytest.fixture(scope="module")
def reference() -> Iterator[EmbeddedServer]:
    with EmbeddedServer(accounts=("alice",), apop_accounts=()) as server:
        yield server


class Peer:
    """A client socket that reads whole lines."""

    def __init__(self, port: int, timeout: float = TIMEOUT) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.file = self.sock.makefile("rb")

    def line(self) -> bytes:
        return self.file.readline()

    def ask(self, command: bytes) -> bytes:
        self.sock.sendall(command + b"\r\n")
        return self.line()

    def login(self, reference: EmbeddedServer) -> None:
        self.line()  # the greeting
        self.ask(b"USER alice")
        assert self.ask(b"PASS " + reference.account("alice").password.encode()).startswith(b"+OK")

    def close(self) -> None:
        self.file.close()
        self.sock.close()


@pytest.fixture
def peer_of(reference: EmbeddedServer) -> Iterator[Connect]:
    """Connects a Peer to a fresh hostile server in a mode, named with its parameters."""
    started: list[tuple[HostileServer, Peer]] = []

    def connect(name: str, **params: object) -> Peer:
        hostile = HostileServer(make_mode(name, **params), reference).start()
        peer = Peer(hostile.port)
        started.append((hostile, peer))
        return peer

    yield connect
    for hostile, peer in started:
        peer.close()
        hostile.stop()


def test_modes_take_text_parameters_and_refuse_unknown_ones() -> None:
    assert make_mode("trickle", delay="0.25") == Trickle(delay=0.25)
    assert make_mode("binary") == Inject(payload=BINARY)
    assert make_mode("markup", payload="a\\x00b") == Inject(payload=b"a\0b")
    with pytest.raises(ValueError, match="no parameter"):
        make_mode("trickle", speed="1")
    with pytest.raises(ValueError, match="unknown mode"):
        make_mode("polite")


def test_multi_line_answers_are_told_from_the_command() -> None:
    assert expects_multiline(b"RETR 1") and expects_multiline(b"capa")
    assert expects_multiline(b"LIST") and not expects_multiline(b"LIST 1")
    assert not expects_multiline(b"STAT") and not expects_multiline(b"")


def test_the_proxy_passes_a_pipelined_batch_through(
    peer_of: Connect, reference: EmbeddedServer
) -> None:
    peer = peer_of("conforming")
    peer.login(reference)
    peer.sock.sendall(b"CAPA\r\nLIST\r\nNOOP\r\n")
    assert peer.line().startswith(b"+OK")
    while peer.line() != b".\r\n":
        pass
    assert peer.line().startswith(b"+OK")  # LIST of an empty maildrop
    assert peer.line() == b".\r\n"
    assert peer.line().startswith(b"+OK")  # NOOP


def test_an_early_refused_long_line_keeps_the_framing(
    peer_of: Connect, reference: EmbeddedServer
) -> None:
    # Echo names the command it thinks each answer is for.
    peer = peer_of("echo")
    peer.login(reference)
    peer.sock.sendall(b"NOOP " + b"x" * 400)  # no line end: refused before it comes
    assert peer.line().startswith(b"-ERR")
    time.sleep(0.2)
    peer.sock.sendall(b"\r\nLIST\r\n")
    assert peer.line().endswith(b"(you said 'LIST')\r\n")
    assert peer.line() == b".\r\n"


def test_lying_sizes_and_echo_rewrite_answers(peer_of: Connect, reference: EmbeddedServer) -> None:
    peer = peer_of("lying-sizes", delta="5")
    peer.login(reference)
    assert peer.ask(b"STAT") == b"+OK 0 5\r\n"
    echo = peer_of("echo")
    echo.line()
    echo.ask(b"USER alice")
    assert b"you said 'PASS wrong'" in echo.ask(b"PASS wrong")


def test_trickle_sends_one_octet_at_a_time(peer_of: Connect) -> None:
    peer = peer_of("trickle", delay="0.1")
    assert peer.sock.recv(100) == b"+"
    assert peer.sock.recv(100) == b"O"


def test_rst_mid_retr_cuts_with_a_reset(peer_of: Connect, reference: EmbeddedServer) -> None:
    peer = peer_of("rst-mid-retr", after="20")
    peer.login(reference)
    peer.sock.sendall(b"RETR 1\r\n")
    received = b""
    with pytest.raises(ConnectionResetError):
        while chunk := peer.sock.recv(100):
            received += chunk
    assert received.startswith(b"+OK") and len(received) <= 20


def test_the_silent_modes_never_greet(reference: EmbeddedServer) -> None:
    for name in ("silent", "never-accept"):
        hostile = HostileServer(make_mode(name), reference).start()
        peer = Peer(hostile.port, timeout=0.5)
        with pytest.raises(TimeoutError):
            peer.line()
        peer.close()
        hostile.stop()
