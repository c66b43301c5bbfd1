"""Locust as a library: the run in one process, or as the master of local or remote workers.

The order of a run: prepare (the facts, the mailboxes), start the users, let
them run for ``--run-time`` (or until Ctrl-C, or until the server stops
answering), stop them (each may finish its task for a moment, then it is
killed), read every mailbox once more and account for it, and hand back
what happened.  Locust's CSV statistics are written while the run goes on,
so a run that dies still leaves them, and once more at the end.

Only the stress process imports this module (see the package docstring).
"""

from __future__ import annotations

import csv
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gevent
from locust.env import Environment
from locust.runners import MasterRunner, Runner
from locust.stats import PERCENTILES_TO_REPORT, StatsCSVFileWriter

from conformance.exits import EXIT_FAIL, EXIT_INTERRUPTED
from conformance.lab.ports import free_port
from conformance.secrets import Secrets
from conformance.stress import distributed
from conformance.stress.ledger import Ledger
from conformance.stress.locust_user import LocustRecorder, WorldHolder, user_class
from conformance.stress.monitor import Monitor
from conformance.stress.observations import Violation
from conformance.stress.options import StressOptions
from conformance.stress.preparation import Prepared
from conformance.stress.reading import Reader, ReadError
from conformance.stress.world import World
from conformance.target import Target

STOP_GRACE = 3.0  # seconds a user may take to finish its task once the run ends
WORKERS_WAIT = 60.0  # seconds for forked workers to connect
FINALS_WAIT = 15.0  # seconds, beyond the grace, for the workers' last observations
DOWN_MARGIN = 1.0  # seconds before the first failed connection that belong to the failure
CSV_BASE = "locust"  # locust_stats.csv, locust_stats_history.csv, locust_failures.csv, ...


class StressError(Exception):
    """The run could not be carried out (the harness or the environment, not the server)."""

    def __init__(self, message: str, exit_code: int = EXIT_FAIL) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class Outcome:
    """What a run did: the ledger, Locust's statistics, and why it stopped."""

    ledger: Ledger
    environment: Environment
    monitor: Monitor
    started_wall: float
    duration_s: float
    stopped: str  # "run time reached", "interrupted", or why the server was given up
    down: bool = False
    interrupted: bool = False
    unjudged: dict[str, str] = field(default_factory=dict)
    csv_files: list[str] = field(default_factory=list)
    workers: int = 0


class Interrupts:
    """Ctrl-C and SIGTERM end the run in order (a second one ends it at once)."""

    def __init__(self, say: Callable[[str], None]) -> None:
        self.say = say
        self.seen = False
        self.at = 0.0  # time.monotonic() of the first one
        self._handles: list[Any] = []

    def __enter__(self) -> Interrupts:
        # Run in the hub, never inside a user's greenlet (where Locust would
        # take a KeyboardInterrupt for a failure of the user's task).
        self._handles = [
            gevent.signal_handler(signum, self._on_signal)
            for signum in (signal.SIGINT, signal.SIGTERM)
        ]
        return self

    def _on_signal(self) -> None:
        if self.seen:
            raise SystemExit(130)
        self.seen = True
        self.at = time.monotonic()
        self.say("interrupted: stopping the users and writing the statistics")

    def __exit__(self, *exc: object) -> None:
        for handle in self._handles:
            handle.cancel()


def run(
    target: Target,
    options: StressOptions,
    prepared: Prepared,
    secrets: Secrets,
    report_dir: Path,
    say: Callable[[str], None],
) -> Outcome:
    """The load itself, locally or as a master; the outcome (the ledger judged)."""
    facts = prepared.facts
    ledger = Ledger(facts.run_id, prepared.readings, facts.policy)
    holder = WorldHolder()
    environment = Environment(user_classes=[user_class(holder)], catch_exceptions=True)
    deliver = getattr(target.provisioner, "deliver", None) if facts.can_deliver else None
    pids: list[int] = []
    gathering: distributed.Gathering | None = None
    with Interrupts(say) as interrupts:
        facts.start_at(time.time())
        if options.role == "local":
            runner: Runner = environment.create_local_runner()
            recorder = LocustRecorder(environment, ledger.apply)
            holder.set(World(target, facts, recorder, secrets, deliver=deliver))
        else:
            port = options.master_port if not options.workers else free_port()
            if options.workers:
                pids = distributed.fork_workers(options.workers, target, secrets, port, deliver)
            runner = environment.create_master_runner(options.master_bind_host, port)
            gathering = distributed.Gathering(environment, facts, ledger)
            _await_workers(runner, options, interrupts, say, bool(pids))
        writer = StatsCSVFileWriter(
            environment, PERCENTILES_TO_REPORT, str(report_dir / CSV_BASE), full_history=True
        )
        writing = gevent.spawn(writer)
        monitor = Monitor(environment.stats, facts.started_wall)
        started = time.monotonic()
        try:
            stopped = _load(runner, options, monitor, interrupts, say)
            duration = time.monotonic() - started  # the load; stopping is not part of it
            environment.stop_timeout = 0.0 if interrupts.seen else STOP_GRACE
            if monitor.down_since is not None:
                # What broke as it went down is the same finding, said once.
                ledger.cutoff = max(0.0, monitor.down_since - DOWN_MARGIN)
            if interrupts.seen:
                # The terminal's Ctrl-C reaches an embedded server too.
                ledger.cutoff = max(0.0, interrupts.at - facts.t0 - DOWN_MARGIN)
            runner.stop()
            unheard = gathering.await_finals(STOP_GRACE + FINALS_WAIT) if gathering else set()
            outcome = Outcome(
                ledger,
                environment,
                monitor,
                facts.started_wall,
                duration,
                stopped,
                down=monitor.down_since is not None,
                interrupted=interrupts.seen,
                workers=options.workers or options.expect_workers,
            )
            if outcome.down:
                ledger.found.append(
                    Violation(
                        "responsive",
                        "RFC1939-3-2",
                        "a greeting on every connection, for the whole run",
                        monitor.down_reason,
                        t=monitor.down_since or 0.0,
                    )
                )
            if not (outcome.down or outcome.interrupted or unheard):
                _account(target, prepared, secrets, ledger, outcome, say)
            else:
                why = (
                    "the run was interrupted"
                    if outcome.interrupted
                    else monitor.down_reason
                    if outcome.down
                    else f"the last observations of worker(s) {', '.join(sorted(unheard))} "
                    "never came"
                )
                for key in ("accounting", "deletion"):
                    outcome.unjudged[key] = f"the mailboxes were not read at the end: {why}"
            ledger.judge_unique_ids()
            ledger.judge_overlaps()
        finally:
            writing.kill()
            writer.close_files()
            runner.quit()
            distributed.reap(pids)
    outcome.csv_files = _final_csv(writer, report_dir)
    return outcome


def _await_workers(
    runner: MasterRunner,
    options: StressOptions,
    interrupts: Interrupts,
    say: Callable[[str], None],
    forked: bool,
) -> None:
    wanted = options.expect_workers
    say(f"waiting for {wanted} worker(s) on port {runner.master_bind_port}")
    deadline = time.monotonic() + WORKERS_WAIT if forked else None
    while runner.worker_count < wanted:
        if interrupts.seen:
            raise StressError("interrupted while waiting for workers", EXIT_INTERRUPTED)
        if deadline is not None and time.monotonic() > deadline:
            raise StressError(f"only {runner.worker_count} of {wanted} workers connected")
        gevent.sleep(0.2)


def _load(
    runner: Runner,
    options: StressOptions,
    monitor: Monitor,
    interrupts: Interrupts,
    say: Callable[[str], None],
) -> str:
    """Run the users until the run time is up; why the run stopped."""
    runner.start(options.users, options.spawn_rate)
    say(f"{options.users} users (spawning {options.spawn_rate:g}/s) for {options.run_time:g} s")
    deadline = time.monotonic() + options.run_time
    while time.monotonic() < deadline:
        gevent.sleep(0.25)
        monitor.sample(runner.user_count)
        if interrupts.seen:
            return "interrupted"
        if monitor.server_down():
            say(monitor.down_reason)
            return monitor.down_reason
        if isinstance(runner, MasterRunner) and runner.worker_count == 0:
            return "every worker quit"
    return "run time reached"


def _account(
    target: Target,
    prepared: Prepared,
    secrets: Secrets,
    ledger: Ledger,
    outcome: Outcome,
    say: Callable[[str], None],
) -> None:
    """Read every mailbox once more and compare it with the ledger."""
    facts = prepared.facts
    reader = Reader(
        target, prepared.profile, secrets, facts.top, facts.uidl, facts.lock_wait, facts.t0
    )
    # A delivery through the mail system (an SMTP relay) may still be on its way;
    # one written into the store is there once deliver() returned.
    provisioner = target.provisioner
    owns_store = bool(getattr(provisioner, "owns_store", True))
    settle = 0.0 if owns_store else float(getattr(provisioner, "wait", 0.0) or 0.0)
    deadline = time.monotonic() + settle  # one wait for every mailbox, not one each
    say("reading every mailbox to account for each message")
    for account in target.accounts:
        methods = facts.methods.get(account.user)
        if not methods:
            continue
        try:
            reading = reader.read(account, methods[0], label="END")
            while ledger.missing(account.user, reading) and time.monotonic() < deadline:
                gevent.sleep(0.5)
                reading = reader.read(account, methods[0], label="END")
        except ReadError as exc:
            for key in ("accounting", "deletion"):
                outcome.unjudged[key] = f"{account.user}'s mailbox could not be read: {exc}"
            continue
        ledger.account(account.user, reading)


def _final_csv(writer: StatsCSVFileWriter, report_dir: Path) -> list[str]:
    """Locust's CSV files once more, from the final statistics."""
    base = report_dir / CSV_BASE
    for suffix, write in (
        ("_stats.csv", writer.requests_csv),
        ("_failures.csv", writer.failures_csv),
        ("_exceptions.csv", writer.exceptions_csv),
    ):
        with open(f"{base}{suffix}", "w", newline="", encoding="utf-8") as handle:
            write(csv.writer(handle))
    names = ("_stats.csv", "_stats_history.csv", "_failures.csv", "_exceptions.csv")
    return [f"{CSV_BASE}{suffix}" for suffix in names]


def stderr_say(text: str) -> None:
    print(f"stress: {text}", file=sys.stderr, flush=True)
