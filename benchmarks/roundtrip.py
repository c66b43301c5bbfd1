"""NOOP round trips: our Session (pexpect SocketSpawn + the sans-IO core) against a
raw-socket client, on the same server in the same run.

    python -m benchmarks.roundtrip [--count N]                       # the embedded server
    python -m benchmarks.roundtrip --host H --port P --account U:P --account U2:P2

Two accounts, one per client, so that neither waits on the other's lock.

Prints microseconds per round trip for both and their ratio.  The figures
are for people, never for assertions: these machines are noisy.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import statistics
import time
from collections.abc import Callable, Iterator

from conformance.server.embedded import EmbeddedServer
from conformance.transcript import Transcript
from conformance.transport import Session


def raw_client(host: str, port: int, user: str, password: str) -> Callable[[], None]:
    sock = socket.create_connection((host, port), timeout=5)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buf = b""

    def line() -> bytes:
        nonlocal buf
        while b"\r\n" not in buf:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            buf += chunk
        out, buf = buf.split(b"\r\n", 1)
        return out

    line()
    for cmd in (f"USER {user}", f"PASS {password}"):
        sock.sendall(cmd.encode() + b"\r\n")
        if not line().startswith(b"+OK"):
            raise RuntimeError("raw login failed")

    def noop() -> None:
        sock.sendall(b"NOOP\r\n")
        if not line().startswith(b"+OK"):
            raise RuntimeError("NOOP refused")

    return noop


def session_client(host: str, port: int, user: str, password: str) -> Callable[[], None]:
    session = Session("B", host, port, Transcript([password]), timeout=5)
    session.connect()
    session.command(f"USER {user}")
    if not session.command(f"PASS {password}").ok:
        raise RuntimeError("session login failed")

    calls = 0

    def noop() -> None:
        nonlocal calls
        if not session.command("NOOP").ok:
            raise RuntimeError("NOOP refused")
        # The transcript grows with every line: emptied now and then, so that
        # the figure is the steady state and not the cost of emptying it.
        calls += 1
        if calls % 1024 == 0:
            session.transcript.clear()

    return noop


def _mean_us(fn: Callable[[], None], count: int) -> float:
    t0 = time.perf_counter()
    for _ in range(count):
        fn()
    return (time.perf_counter() - t0) / count * 1e6


def compare(
    host: str, port: int, accounts: list[tuple[str, str]], count: int, rounds: int = 41
) -> dict[str, float]:
    """Medians over ``rounds`` rounds of ``count`` NOOPs each, the two clients taking
    turns round by round: machine noise (another process, a frequency step) lasts
    longer than a round and hits both alike, and the median ratio leaves it out."""
    (u1, p1), (u2, p2) = accounts[0], accounts[1]
    raw = raw_client(host, port, u1, p1)
    ours = session_client(host, port, u2, p2)
    for fn in (raw, ours):
        _mean_us(fn, min(200, count))  # warm up
    raw_us, ours_us, ratios = [], [], []
    for _ in range(rounds):
        r = _mean_us(raw, count)
        o = _mean_us(ours, count)
        raw_us.append(r)
        ours_us.append(o)
        ratios.append(o / r)
    return {
        "raw_us": statistics.median(raw_us),
        "session_us": statistics.median(ours_us),
        "ratio": statistics.median(ratios),
    }


def pin_apart(server_pid: int) -> str:
    """Keep both clients on one CPU and the embedded server off it, if there are two.

    Left free, the scheduler now and then puts a client on the server's CPU,
    and a run then measures that placement more than either client (1.3x
    instead of 1.1x, seen on two cores).  Both clients get the same CPU, so
    the ratio stays a fair one.  A server we did not start is left alone.
    """
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if len(cpus) < 2:
        return "not pinned (one CPU)"
    os.sched_setaffinity(0, {cpus[-1]})
    os.sched_setaffinity(server_pid, set(cpus[:-1]))
    return f"clients on CPU {cpus[-1]}, the server on the other CPUs"


@contextlib.contextmanager
def pinned_apart(server: EmbeddedServer, pin: bool = True) -> Iterator[None]:
    """:func:`pin_apart` for the life of ``server``; this process's CPUs are given back
    after (a server started later inherits them, and must not find one CPU left)."""
    if not pin or server.pid is None or not hasattr(os, "sched_getaffinity"):
        yield
        return
    saved = os.sched_getaffinity(0)
    print(pin_apart(server.pid))
    try:
        yield
    finally:
        os.sched_setaffinity(0, saved)


def run(count: int, pin: bool = False) -> dict[str, float]:
    """Against the embedded reference server."""
    with EmbeddedServer() as server, pinned_apart(server, pin):
        accounts = [(a.user, a.password) for a in server.accounts[:2]]
        return compare(server.host, server.port, accounts, count)


def _account(spec: str) -> tuple[str, str]:
    user, sep, password = spec.partition(":")
    if not sep or not user or not password:
        raise argparse.ArgumentTypeError("an account is USER:PASSWORD")
    return user, password


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500, help="NOOPs per round (41 rounds)")
    parser.add_argument("--host", help="a server to measure against (default: the embedded one)")
    parser.add_argument("--port", type=int, default=110)
    parser.add_argument("--account", type=_account, action="append", default=[])
    parser.add_argument(
        "--no-pin",
        action="store_true",
        help="leave the clients and the embedded server free to share a CPU",
    )
    args = parser.parse_args()
    if args.count < 1:
        parser.error("--count must be at least 1")
    if args.host:
        if len(args.account) != 2:
            parser.error("--host needs two --account USER:PASS (one per client)")
        r = compare(args.host, args.port, args.account, args.count)
        where = f"{args.host}:{args.port}"
    else:
        r = run(args.count, pin=not args.no_pin)
        where = "the embedded reference server"
    print(
        f"NOOP round trip against {where}: 41 rounds of {args.count}, the clients taking "
        "turns; medians:"
    )
    print(f"  raw socket client : {r['raw_us']:8.1f} us")
    print(f"  pop3-conformance  : {r['session_us']:8.1f} us")
    print(f"  ratio             : {r['ratio']:8.2f}x  (median of the per-round ratios)")


if __name__ == "__main__":
    main()
