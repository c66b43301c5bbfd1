"""Record what a harness run put on the wire, and replay it from a bare socket.

The baseline of a rate benchmark must do the same work on the server as the
harness did: the same connections, the same octets sent, the same answers
read before the next send, the same ways of ending, and the mailbox seeded
again wherever the harness seeded it.  :func:`recording` notes all of that
from the IO calls (the transport's socket spawn and its ending calls), and
:func:`replay` does it again with nothing but ``socket``: it counts line
ends to know when an answer is in, and judges nothing.  The replay's clock
stops while the mailbox is seeded, so the baseline is the wire work alone.

Recording patches classes for the duration of a ``with`` block: it is a
measuring instrument for benchmarks, never used by the harness itself.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from pexpect import EOF

from conformance import transport
from conformance.messages import Message
from conformance.spawn import PopSpawn

# How long the replay waits for any one answer before it gives up.
REPLAY_TIMEOUT_S = 30.0


@dataclass
class WireLog:
    """The IO operations of a run, in order: ``(op, connection, argument)``.

    ops: ``connect``; ``send`` (the octets); ``read`` (how many line ends
    arrived); ``eof`` (the server closed); ``shut`` (the write side shut);
    ``end`` ("fin" or "rst"); ``seed`` (a ``(user, messages)`` pair,
    connection -1).
    """

    ops: list[tuple[str, int, Any]] = field(default_factory=list)
    # When each seeding began (perf_counter): an exploration seeds before every
    # example, so these cut the run into examples (see :func:`replay`'s segments).
    seeded_at: list[float] = field(default_factory=list)

    def add(self, op: str, conn: int, arg: Any = None) -> None:
        last = self.ops[-1] if self.ops else None
        if op == "read" and last is not None and last[0] == "read" and last[1] == conn:
            self.ops[-1] = ("read", conn, last[2] + arg)  # one answer over several recv calls
        else:
            self.ops.append((op, conn, arg))

    def client_lines(self) -> list[str]:
        """Every whole line the client sent, in order (the octets of each connection
        joined first: a pipelined batch or a command sent in pieces is cut into lines)."""
        pending: dict[int, bytes] = {}
        out: list[str] = []
        for op, conn, arg in self.ops:
            if op != "send":
                continue
            *lines, pending[conn] = (pending.get(conn, b"") + arg).split(b"\r\n")
            out += (line.decode("utf-8", "replace") for line in lines)
        return out

    @property
    def sends(self) -> int:
        return sum(1 for op, _, _ in self.ops if op == "send")

    @property
    def connections(self) -> int:
        return sum(1 for op, _, _ in self.ops if op == "connect")


@contextlib.contextmanager
def recording(seed: Callable[[str, Sequence[Message]], None]) -> Iterator[tuple[WireLog, Any]]:
    """Record the wire operations of the harness inside the block.

    Yields the log and a wrapped ``seed`` function to put in place of the
    provisioner's, so that seeding is recorded in its place in the order.
    """
    log = WireLog()
    count = [0]
    # What is patched, by a short name: the transport calls shutdown_write by
    # the name it imported, so it is patched there.
    where: dict[str, tuple[Any, str]] = {
        "init": (PopSpawn, "__init__"),
        "send": (PopSpawn, "send"),
        "read": (PopSpawn, "read_nonblocking"),
        "shut": (transport, "shutdown_write"),
        "reset": (transport.Session, "reset"),
        "discard": (transport.Session, "_discard"),
    }
    saved = {key: getattr(owner, name) for key, (owner, name) in where.items()}
    sockets: dict[int, int] = {}  # id of the socket a spawn wraps -> its connection

    def conn_of(spawn: PopSpawn) -> int:
        return int(spawn._wire_conn)

    def init(self: PopSpawn, sock: socket.socket, timeout: float) -> None:
        saved["init"](self, sock, timeout)
        self._wire_conn = count[0]
        count[0] += 1
        sockets[id(sock)] = self._wire_conn
        log.add("connect", self._wire_conn)

    def send(self: PopSpawn, s: bytes) -> int:
        log.add("send", conn_of(self), bytes(s))
        return int(saved["send"](self, s))

    def read(self: PopSpawn, size: int = 1, timeout: float | None = -1) -> bytes:
        try:
            data: bytes = saved["read"](self, size, timeout)
        except EOF:
            log.add("eof", conn_of(self))
            raise
        log.add("read", conn_of(self), data.count(b"\n"))
        return data

    def shut(sock: socket.socket) -> None:
        saved["shut"](sock)
        log.add("shut", sockets.get(id(sock), -1))

    def reset(self: transport.Session) -> None:
        self._rst = True  # type: ignore[attr-defined]
        saved["reset"](self)

    def discard(self: transport.Session) -> None:
        spawn = self._spawn
        if spawn is not None:
            how = "rst" if getattr(self, "_rst", False) else "fin"
            log.add("end", conn_of(spawn), how)
        self._rst = False  # type: ignore[attr-defined]
        saved["discard"](self)

    def seeded(user: str, messages: Sequence[Message]) -> None:
        log.seeded_at.append(time.perf_counter())
        log.add("seed", -1, (user, list(messages)))
        seed(user, messages)

    replacements = {
        "init": init,
        "send": send,
        "read": read,
        "shut": shut,
        "reset": reset,
        "discard": discard,
    }
    for key, (owner, name) in where.items():
        setattr(owner, name, replacements[key])
    try:
        yield log, seeded
    finally:
        for key, (owner, name) in where.items():
            setattr(owner, name, saved[key])


@dataclass
class _Conn:
    sock: socket.socket
    buf: bytes = b""
    eof: bool = False

    def lines(self, n: int) -> None:
        """Read until ``n`` more line ends arrived (what the harness read, in all)."""
        while n > 0:
            seen = self.buf.count(b"\n")
            if seen >= n:
                cut = -1
                for _ in range(n):
                    cut = self.buf.index(b"\n", cut + 1)
                self.buf = self.buf[cut + 1 :]
                return
            n -= seen
            self.buf = b""
            self._recv_into()
            if self.eof:
                return

    def until_eof(self) -> None:
        while not self.eof:
            self._recv_into()

    def _recv_into(self) -> None:
        try:
            chunk = self.sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            chunk = b""
        if not chunk:
            self.eof = True
        self.buf += chunk


def replay(
    log: WireLog,
    host: str,
    port: int,
    seed: Callable[[str, Sequence[Message]], None],
    segments: list[float] | None = None,
) -> float:
    """Do ``log`` again over bare sockets; returns the seconds spent, seeding left out.

    ``segments``, if given, gets the seconds of each stretch that begins with a
    seeding and ends where the next one begins (seeding left out too): one per
    example of an exploration, the last one included.
    """
    conns: dict[int, _Conn] = {}
    seeding = 0.0
    t0 = time.perf_counter()
    mark = None  # where the current stretch began, on the replay's clock
    for op, conn, arg in log.ops:
        if op == "seed":
            s0 = time.perf_counter()
            if segments is not None and mark is not None:
                segments.append(s0 - mark)
            seed(*arg)
            seeding += time.perf_counter() - s0
            mark = time.perf_counter()
        elif op == "connect":
            sock = socket.create_connection((host, port), timeout=REPLAY_TIMEOUT_S)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conns[conn] = _Conn(sock)
        elif op == "send":
            with contextlib.suppress(OSError):
                conns[conn].sock.sendall(arg)
        elif op == "read":
            conns[conn].lines(arg)
        elif op == "eof":
            conns[conn].until_eof()
        elif op == "shut":
            with contextlib.suppress(OSError):
                conns[conn].sock.shutdown(socket.SHUT_WR)
        elif op == "end":
            sock = conns.pop(conn).sock
            if arg == "rst":
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()
    for leftover in conns.values():
        leftover.sock.close()
    end = time.perf_counter()
    if segments is not None and mark is not None:
        segments.append(end - mark)
    return end - t0 - seeding
