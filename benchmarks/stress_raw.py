"""A raw-socket load client: the stress task mix with nothing judged.

    python -m benchmarks.stress_raw HOST PORT USERS SECONDS MIX USER:PASS...

The yardstick for ``pop3-conformance stress`` (benchmarks/stress.py): the
same tasks (read, dele-rset, drop, concurrent), drawn by the same weights, by
as many greenlets of one gevent process, on the same accounts, but each
command is a bare ``sendall`` and a read of its status line (and body), with
no transcript, no model, no Locust.  Every command counts as one request, as
in stress.  Prints one JSON line: requests, seconds, requests per second.
"""

from gevent import monkey

monkey.patch_all()

import json  # noqa: E402
import random  # noqa: E402
import socket  # noqa: E402
import struct  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

import gevent  # noqa: E402
from gevent.event import Event  # noqa: E402

from benchmarks.explore_rate import RawClient  # noqa: E402

HOLD = 0.5  # as tasks.HOLD


class Conn(RawClient):
    """A bare connection that logs in when asked (RawClient logs in at once)."""

    count = 0  # commands sent by every connection of the process

    def __init__(self, host: str, port: int) -> None:
        self.sock = socket.create_connection((host, port), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self._line()
        Conn.count += 1  # the connection and its greeting, as stress's CONNECT

    def command(self, line: str) -> bytes:
        Conn.count += 1
        return super().command(line)

    def log_in(self, user: str, password: str) -> bool:
        return self.command(f"USER {user}").startswith(b"+OK") and self.command(
            f"PASS {password}"
        ).startswith(b"+OK")

    def numbers(self) -> list[int]:
        self.command("STAT")
        self.sock.sendall(b"LIST\r\n")
        Conn.count += 1
        status = self._line()
        found = []
        while status.startswith(b"+OK") and (line := self._line()) != b".":
            found.append(int(line.split()[0]))
        self.command("UIDL")
        return found

    def reset(self) -> None:
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()


Account = tuple[str, str]


def read(host: str, port: int, account: Account, rng: random.Random) -> None:
    c = Conn(host, port)
    if c.log_in(*account):
        numbers = c.numbers()
        for n in rng.sample(numbers, min(2, len(numbers))):
            c.command(f"RETR {n}")
            c.command(f"TOP {n} {rng.randrange(4)}")
            c.command(f"LIST {n}")
            c.command(f"UIDL {n}")
        c.command("STAT")
    c.command("QUIT")
    c.sock.close()


def marking(host: str, port: int, account: Account, rng: random.Random, then: str) -> None:
    c = Conn(host, port)
    if not c.log_in(*account) or not (numbers := c.numbers()):
        c.command("QUIT")
        c.sock.close()
        return
    n = rng.choice(numbers)
    c.command(f"TOP {n} 0")
    c.command(f"DELE {n}")
    if then == "rset":
        c.command("RSET")
        c.command("STAT")
        c.command("QUIT")
        c.sock.close()
    elif then == "rst":
        c.reset()
    else:
        c.sock.shutdown(socket.SHUT_WR)
        c.sock.close()


def concurrent(host: str, port: int, account: Account, rng: random.Random) -> None:
    pair = [Conn(host, port), Conn(host, port)]
    answered = [Event(), Event()]
    for c in pair:
        c.command(f"USER {account[0]}")

    def one(i: int) -> None:
        inside = pair[i].command(f"PASS {account[1]}").startswith(b"+OK")
        answered[i].set()
        if inside:
            answered[1 - i].wait(HOLD)
            pair[i].command("STAT")
        pair[i].command("QUIT")
        pair[i].sock.close()

    gevent.joinall([gevent.spawn(one, 0), gevent.spawn(one, 1)])


def main() -> None:
    host, port, users, seconds, mix = sys.argv[1:6]
    accounts = [tuple(a.split(":", 1)) for a in sys.argv[6:]]
    weights = {k: int(v) for k, v in (part.split("=") for part in mix.split(","))}
    tasks: dict[str, Callable[[Account, random.Random], None]] = {
        "read": lambda a, r: read(host, int(port), a, r),
        "dele-rset": lambda a, r: marking(host, int(port), a, r, "rset"),
        "drop": lambda a, r: marking(host, int(port), a, r, r.choice(("fin", "rst"))),
        "concurrent": lambda a, r: concurrent(host, int(port), a, r),
    }
    names = [n for n in tasks if weights.get(n)]
    deadline = time.monotonic() + float(seconds)

    def user() -> None:
        rng = random.Random()
        while time.monotonic() < deadline:
            name = rng.choices(names, [weights[n] for n in names])[0]
            try:
                tasks[name](rng.choice(accounts), rng)  # type: ignore[arg-type]
            except (OSError, ValueError):
                continue

    started = time.monotonic()
    gevent.joinall([gevent.spawn(user) for _ in range(int(users))])
    elapsed = time.monotonic() - started
    print(json.dumps({"requests": Conn.count, "seconds": elapsed, "rps": Conn.count / elapsed}))


if __name__ == "__main__":
    main()
