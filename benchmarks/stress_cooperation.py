"""Does the transport cooperate with gevent?  ``python -m benchmarks.stress_cooperation``

Locust runs every user as a greenlet of one process: a read that blocks
outside gevent's patched ``socket`` and ``select`` would stop every other
user while it waits.  Two measurements, each of four sessions run one after
the other and then at once as four greenlets, with the ratio of the wall
times (about 1: the greenlets ran one after another, a blocking read; well
below 1: they overlapped):

- *waiting*: a server (in its own process) that answers every line after
  DELAY_S; 0.25 is perfect overlap.  Waiting dominates, so the figure does
  not depend on how busy the machine is: the test uses this one;
- *NOOPs*: the embedded reference server, as fast as it answers (CPU bound
  on both sides: below 1 only where there is a core to spare).

The process patches itself first, as the stress command does.
"""

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

import gevent  # noqa: E402

from conformance.server.embedded import EmbeddedServer  # noqa: E402
from conformance.transcript import Transcript  # noqa: E402
from conformance.transport import Session  # noqa: E402

SESSIONS = 4
DELAY_S = 0.02
# A POP3-shaped server that takes DELAY_S over every answer, one thread per connection.
SLOW_SERVER = f"""
import socketserver, sys, time
class Slow(socketserver.StreamRequestHandler):
    def handle(self):
        self.wfile.write(b"+OK slow\\r\\n")
        for line in self.rfile:
            time.sleep({DELAY_S})
            self.wfile.write(b"+OK\\r\\n")
            if line.upper().startswith(b"QUIT"):
                return
socketserver.ThreadingTCPServer.daemon_threads = True
server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Slow)
print(server.server_address[1], flush=True)
server.serve_forever()
"""


def exchanges(host: str, port: int, user: str, password: str, count: int) -> None:
    session = Session("A", host, port, Transcript([password]), timeout=10)
    session.connect()
    session.command(f"USER {user}")
    if not session.command(f"PASS {password}").ok:
        raise RuntimeError("login failed")
    for _ in range(count):
        session.command("NOOP")
    session.command("QUIT")
    session.abandon()


def _ratio(one: Callable[[int], None]) -> dict[str, float]:
    started = time.monotonic()
    for index in range(SESSIONS):
        one(index)
    one_by_one = time.monotonic() - started
    started = time.monotonic()
    gevent.joinall([gevent.spawn(one, i) for i in range(SESSIONS)], raise_error=True)
    at_once = time.monotonic() - started
    return {"one_by_one_s": one_by_one, "at_once_s": at_once, "ratio": at_once / one_by_one}


def waiting(count: int = 10) -> dict[str, float]:
    server = subprocess.Popen(
        [sys.executable, "-c", SLOW_SERVER], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        return _ratio(lambda i: exchanges("127.0.0.1", port, f"u{i}", "pw", count))
    finally:
        server.kill()
        server.wait()


def noops(count: int = 500) -> dict[str, float]:
    names = [f"coop{i}" for i in range(SESSIONS)]
    with EmbeddedServer(accounts=names, apop_accounts=()) as server:
        users = server.accounts
        return _ratio(
            lambda i: exchanges(server.host, server.port, users[i].user, users[i].password, count)
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500, help="NOOPs per session (500)")
    parser.add_argument("--waiting-only", action="store_true", help="the first measurement only")
    args = parser.parse_args()
    figures = waiting()
    print(
        f"gevent cooperation, waiting: {SESSIONS} sessions x 10 answers of {DELAY_S * 1000:g} ms: "
        f"one after another {figures['one_by_one_s']:.3f} s, as greenlets "
        f"{figures['at_once_s']:.3f} s, ratio {figures['ratio']:.2f} (1.0: a blocking read)"
    )
    if args.waiting_only:
        return
    figures = noops(args.count)
    print(
        f"gevent cooperation, NOOPs: {SESSIONS} sessions x {args.count} NOOPs on the embedded "
        f"server: one after another {figures['one_by_one_s']:.3f} s, as greenlets "
        f"{figures['at_once_s']:.3f} s, ratio {figures['ratio']:.2f}"
    )


if __name__ == "__main__":
    main()
