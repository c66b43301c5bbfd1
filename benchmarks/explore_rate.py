"""Commands per second of ``explore`` against the embedded reference server, next to
raw-socket clients sending the same commands, in the same run.

    python -m benchmarks.explore_rate [--budget SECONDS] [--seed N] [--seeds K]

The exploration's figure includes everything an exploration does: seeding
the mailbox before each example, the logins, the ends of sessions and the
re-logins, the runner and the model judging every answer.

Two raw clients give the baseline; neither judges anything:

- **the same command mix** (the goal's figure): every operation the
  exploration put on the wire, replayed from bare sockets in the same order
  (:mod:`benchmarks.wire_replay`): the same connections and logins, the same
  octets, each answer read to its last line end before the next send, the
  same ends of sessions, and the mailbox seeded again where the exploration
  seeded it, with the replay's clock stopped while it seeds;
- **TRANSACTION commands only**, a harder baseline: one login, then the
  exploration's TRANSACTION commands in order over one connection, reading
  each answer by hand (status line, then up to the "." line when the answer
  is multi-line).

Each seed draws its own mix: how many logins come per command varies, and a
login is mostly the server's work while a command is mostly the harness's,
so the ratio moves with the seed.  ``--seeds K`` explores with K seeds and
prints the median ratio as well.

The host's bursts of work (steal time, seen at 10-20% of a CPU for seconds
at a time) slow whichever phase they land in, the exploration or its
replay, and move the whole run's ratio by a tenth either way.  So the run is
also cut into stretches of 25 examples, each seeding to seeding, and each
stretch's replay time is set against its exploration time: the median of
those ratios leaves out the stretches a burst landed in, as the round-trip
benchmark's median of per-round ratios does.  Both figures are printed.

Both clients, the exploration and the replay, run on one CPU and the
embedded server on the other (``--no-pin``: wherever the scheduler puts
them), as in :mod:`benchmarks.roundtrip`: the same placement for both, and
the one a harness has against a server on another machine.

The figures are for people, never for assertions: these machines are noisy.
"""

from __future__ import annotations

import argparse
import itertools
import socket
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.roundtrip import pinned_apart
from benchmarks.wire_replay import WireLog, recording, replay
from conformance.explore import ExploreOptions, explore
from conformance.messages import corpus
from conformance.pop3 import Shape, State, response_shape, rule_for, split_command
from conformance.provision import make_provisioner
from conformance.server.embedded import EmbeddedServer
from conformance.target import Account, Target

# Examples per stretch of the run whose ratio is taken apart (stretch_ratios).
STRETCH = 25
# Lines the raw client leaves out: they end or open sessions, which it does not do.
_SESSION_LINES = frozenset({"USER", "PASS", "QUIT"})


class RawClient:
    """A POP3 client on a bare socket: send a line, read the answer, nothing else."""

    def __init__(self, host: str, port: int, user: str, password: str) -> None:
        self.sock = socket.create_connection((host, port), timeout=10)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self._line()
        for cmd in (f"USER {user}", f"PASS {password}"):
            if not self.command(cmd).startswith(b"+OK"):
                raise RuntimeError("raw login failed")

    def _line(self) -> bytes:
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed by the server")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _body(self) -> None:
        while b"\r\n.\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed by the server")
            self.buf += chunk
        self.buf = self.buf.split(b"\r\n.\r\n", 1)[1]

    def command(self, line: str) -> bytes:
        self.sock.sendall(line.encode() + b"\r\n")
        status = self._line()
        keyword, args = split_command(line)
        multi = response_shape(State.TRANSACTION, keyword, bool(args)) is Shape.MULTI
        if status.startswith(b"+OK") and multi:
            if self.buf.startswith(b".\r\n"):
                self.buf = self.buf[3:]  # an empty listing
            else:
                self._body()
        return status

    def close(self) -> None:
        self.sock.sendall(b"RSET\r\n")
        self._line()
        self.sock.sendall(b"QUIT\r\n")
        self._line()
        self.sock.close()


def transaction_commands(log: WireLog) -> list[str]:
    """The lines of an exploration that the raw client can send on one logged-in connection."""
    out = []
    for line in log.client_lines():
        keyword, _ = split_command(line)
        if keyword in _SESSION_LINES or rule_for(State.TRANSACTION, keyword) is None:
            continue  # logins, QUIT, and the pieces of a split filler command
        out.append(line)
    return out


def stretch_ratios(replayed: list[float], seeded_at: list[float]) -> list[float]:
    """The ratio of each stretch of STRETCH examples: replay seconds over explore seconds.

    An example's exploration time runs from its seeding to the next example's
    (everything the exploration does, seeding included); its replay time is
    the replay's stretch from the same seeding (seeding left out).  The last
    example, cut by the budget, is left out; a run shorter than one stretch
    is one stretch.
    """
    explored = [b - a for a, b in itertools.pairwise(seeded_at)]
    n = min(len(explored), len(replayed))
    size = STRETCH if n >= STRETCH else max(n, 1)
    out = []
    for start in range(0, n - size + 1, size):
        spent = sum(explored[start : start + size])
        if spent > 0:
            out.append(sum(replayed[start : start + size]) / spent)
    return out


def run(budget_s: float, seed: int = 1, pin: bool = False) -> dict[str, float]:
    with EmbeddedServer() as server, pinned_apart(server, pin):
        target = Target(
            server.host,
            server.port,
            [Account(a.user, a.password, True) for a in server.accounts],
            make_provisioner(f"maildir:{server.maildir_template}"),
        )
        options = ExploreOptions(
            budget_s=budget_s,
            examples=1_000_000,
            seed=seed,
            emit_dir=Path(tempfile.mkdtemp(prefix="explore-bench-")),
        )
        provisioner = target.provisioner
        seed_mailbox = provisioner.seed
        with recording(seed_mailbox) as (log, seeded):
            setattr(provisioner, "seed", seeded)  # noqa: B010 (the recording's, for this run)
            exploration = explore(target, options)
        setattr(provisioner, "seed", seed_mailbox)  # noqa: B010
        if exploration.found:
            raise RuntimeError(f"the reference server failed: {exploration.result.reason}")
        segments: list[float] = []
        mix_s = replay(log, server.host, server.port, seed_mailbox, segments)
        stretches = stretch_ratios(segments, log.seeded_at)
        commands = transaction_commands(log)
        # The same account, seeded again with the same content.
        account = target.accounts[0]
        seed_mailbox(account.user, corpus(options.mailbox))
        client = RawClient(server.host, server.port, account.user, account.password)
        t0 = time.perf_counter()
        for line in commands:
            client.command(line)
        raw_s = time.perf_counter() - t0
        client.close()
    raw_rate = len(commands) / raw_s if raw_s > 0 else 0.0
    # The same lines as the raw client's, over the exploration's whole time.
    same = len(commands) / exploration.search_s if exploration.search_s > 0 else 0.0
    return {
        "mix_ratio": mix_s / exploration.search_s if exploration.search_s > 0 else 0.0,
        "stretch_ratio": statistics.median(stretches) if stretches else 0.0,
        "stretches": float(len(stretches)),
        "stretch_low": min(stretches, default=0.0),
        "stretch_high": max(stretches, default=0.0),
        "mix_s": mix_s,
        "explore_s": exploration.search_s,
        "mix_sends": float(log.sends),
        "mix_connections": float(log.connections),
        "explore_same_per_s": same,
        "examples": float(exploration.examples),
        "explore_commands": float(exploration.commands),
        "explore_per_s": exploration.commands_per_s,
        "raw_commands": float(len(commands)),
        "raw_per_s": raw_rate,
        "ratio": raw_rate / same if same else 0.0,
    }


def report(r: dict[str, float], budget_s: float, seed: int) -> None:
    print(f"explore against the reference server, {budget_s:g} s budget, seed {seed}:")
    print(
        f"  explore, every client line       : {r['explore_per_s']:8.0f} commands/s "
        f"({r['explore_commands']:.0f} lines, {r['examples']:.0f} examples)"
    )
    print(f"  explore, TRANSACTION commands only: {r['explore_same_per_s']:8.0f} commands/s")
    print(
        f"  raw socket client, same commands  : {r['raw_per_s']:8.0f} commands/s "
        f"({r['raw_commands']:.0f} of the same commands, one connection)"
    )
    print(f"  raw / explore, same commands      : {r['ratio']:8.2f}x")
    print(
        f"same command mix replayed raw ({r['mix_sends']:.0f} sends, "
        f"{r['mix_connections']:.0f} connections): {r['mix_s']:.2f} s against explore's "
        f"{r['explore_s']:.2f} s"
    )
    print(f"  ratio (explore rate / raw rate, same command mix): {r['mix_ratio']:.2f}x")
    print(
        f"  the same, per {STRETCH} examples: median {r['stretch_ratio']:.2f}x of "
        f"{r['stretches']:.0f} stretches (from {r['stretch_low']:.2f} to {r['stretch_high']:.2f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=20.0, help="seconds of exploration")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--seeds",
        type=int,
        default=1,
        help="explorations with the seeds SEED, SEED+1, ... (each its own mix), and their median",
    )
    parser.add_argument(
        "--no-pin",
        action="store_true",
        help="leave the clients and the embedded server free to share a CPU",
    )
    args = parser.parse_args()
    if args.seeds < 1:
        parser.error("--seeds must be at least 1")
    ratios, stretched = [], []
    for seed in range(args.seed, args.seed + args.seeds):
        r = run(args.budget, seed, pin=not args.no_pin)
        report(r, args.budget, seed)
        ratios.append(r["mix_ratio"])
        stretched.append(r["stretch_ratio"])
    if len(ratios) > 1:
        for what, values in (("whole runs", ratios), (f"per {STRETCH} examples", stretched)):
            shown = ", ".join(f"{x:.2f}" for x in values)
            median = statistics.median(values)
            print(
                f"median ratio over {len(values)} seeds, same command mix, {what}: "
                f"{median:.2f}x ({shown})"
            )


if __name__ == "__main__":
    main()
