"""What a load run is asked to do, checked before anything starts (exit 2 otherwise).

The units are Locust's: ``--run-time`` takes ``90``, ``90s``, ``5m``,
``1h30m`` (as ``locust --run-time`` does), ``--spawn-rate`` users per second.
``--mix`` weights the tasks of :data:`TASKS`, e.g. ``read=6,drop=0``; a task
left out keeps its default weight, and weight 0 leaves a task out.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from conformance.target_flags import UsageError

# The task mix: name -> (default weight, what one run of the task does).
TASKS: Final[dict[str, tuple[int, str]]] = {
    "read": (6, "log in; STAT, LIST, UIDL, RETR and TOP of some messages; QUIT"),
    "dele-rset": (2, "log in; DELE a message, RSET, STAT; QUIT (nothing is removed)"),
    "dele-quit": (2, "log in; DELE a message, QUIT (it is removed); a new message is delivered"),
    "drop": (1, "log in; DELE a message, then end by FIN or RST without QUIT (nothing is removed)"),
    "concurrent": (1, "two sessions log in to one mailbox at the same instant"),
    "deliver": (2, "deliver a message to a mailbox while sessions run"),
}
# Tasks that mark messages as deleted: run only on disposable accounts.
MARKING: Final = frozenset({"dele-rset", "dele-quit", "drop"})
# Tasks that need the provisioner to deliver one message (Provisioner.deliver).
DELIVERING: Final = frozenset({"dele-quit", "deliver"})

_TIMESPAN = re.compile(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
DEFAULT_MASTER_PORT: Final = 5557  # Locust's


def run_time(text: str) -> float:
    """A Locust time span: ``20``, ``20s``, ``3m``, ``2h``, ``1h20m``, ``3h30m10s``."""
    value = text.strip()
    if value.isdigit():
        seconds = int(value)
    else:
        m = _TIMESPAN.fullmatch(value)
        if not value or m is None or not any(m.groups()):
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a time span (e.g. 90, 90s, 5m, 1h30m)"
            )
        hours, minutes, secs = (int(g or 0) for g in m.groups())
        seconds = hours * 3600 + minutes * 60 + secs
    if seconds < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: a run lasts at least one second")
    return float(seconds)


def mix(text: str) -> dict[str, int]:
    """``NAME=WEIGHT,...`` over :data:`TASKS`; names left out keep their default weight."""
    weights = {name: default for name, (default, _) in TASKS.items()}
    given: set[str] = set()
    for part in text.split(","):
        name, sep, number = part.strip().partition("=")
        name = name.strip()
        if not sep or name not in TASKS:
            raise argparse.ArgumentTypeError(
                f"{part.strip()!r} is not NAME=WEIGHT with NAME one of: {', '.join(TASKS)}"
            )
        if name in given:
            raise argparse.ArgumentTypeError(f"task {name!r} is weighted twice")
        if not number.strip().isdigit():
            raise argparse.ArgumentTypeError(f"the weight of {name!r} is not a whole number >= 0")
        weights[name] = int(number)
        given.add(name)
    if not any(weights.values()):
        raise argparse.ArgumentTypeError("every task has weight 0: nothing would run")
    return weights


def default_mix() -> dict[str, int]:
    return {name: default for name, (default, _) in TASKS.items()}


@dataclass(frozen=True)
class StressOptions:
    users: int
    spawn_rate: float
    run_time: float
    mix: dict[str, int] = field(default_factory=default_mix)
    # "local" (one process), "master" (Locust master: local workers or remote
    # ones) or "worker" (connects to a master).
    role: str = "local"
    workers: int = 0  # worker processes this machine starts (--workers N)
    expect_workers: int = 0  # workers the master waits for before starting
    master_host: str = "127.0.0.1"
    master_port: int = DEFAULT_MASTER_PORT
    master_bind_host: str = "*"
    lock_wait: float = 30.0  # how long a login may wait for a locked mailbox
    report_dir: Path | None = None


def options_from(args: argparse.Namespace) -> StressOptions:
    """The validated options of ``pop3-conformance stress``; UsageError (exit 2) otherwise."""
    if args.workers and (args.master or args.worker):
        raise UsageError("--workers starts master and workers here: not with --master or --worker")
    if args.master and args.worker:
        raise UsageError("a process is either --master or --worker, not both")
    if args.worker and not args.master_host:
        raise UsageError("--worker needs --master-host HOST (the machine running --master)")
    if args.master_host and not args.worker:
        raise UsageError("--master-host is for --worker")
    if args.expect_workers and not args.master:
        raise UsageError("--expect-workers is for --master (with --workers N, N are expected)")
    if args.worker and (args.defect or args.behave):
        raise UsageError("a --worker judges the master's server: give --host (or --profile)")
    role = "worker" if args.worker else "master" if (args.master or args.workers) else "local"
    return StressOptions(
        users=args.users,
        spawn_rate=args.spawn_rate if args.spawn_rate is not None else float(args.users),
        run_time=args.run_time,
        mix=args.mix or default_mix(),
        role=role,
        workers=args.workers or 0,
        expect_workers=args.workers or args.expect_workers or (1 if args.master else 0),
        master_host=args.master_host or "127.0.0.1",
        master_port=args.master_port,
        master_bind_host="127.0.0.1" if args.workers else args.master_bind_host,
        lock_wait=args.lock_wait,
        report_dir=args.report_dir,
    )
