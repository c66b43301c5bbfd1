"""A Locust master and its workers: the facts go out, the observations come back.

The master prepares the run (the facts, the seeded mailboxes) and keeps the
ledger; workers run the users.  Two custom Locust messages carry what the
invariants need, beside Locust's own statistics:

- ``pop3-hello`` and ``pop3-facts``: a worker that is connected and ready
  for them asks, and the master answers with the run's
  :class:`~conformance.stress.preparation.Facts`; its users wait for them;
- ``pop3-observations`` (worker to master): what its sessions saw, in
  batches every half second, and a last batch marked ``final`` once its
  users have stopped.  The master reads the mailboxes at the end only when
  every worker's last batch is in (:meth:`Gathering.await_finals`): Locust's
  own ``stop()`` may return as soon as the workers report no user running.

``--workers N`` forks N workers on this machine once the run is prepared, so
they share the target and its provisioner (a delivery needs it); a worker on
another machine (``--worker --master-host H``) gets them from its own flags.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections.abc import Callable
from typing import Any

import gevent
from locust.env import Environment
from locust.rpc import Message

from conformance.secrets import Secrets
from conformance.stress.ledger import Ledger
from conformance.stress.locust_user import LocustRecorder, WorldHolder, user_class
from conformance.stress.observations import Observation
from conformance.stress.preparation import Facts
from conformance.stress.world import World
from conformance.target import Target

HELLO = "pop3-hello"
FACTS = "pop3-facts"
OBSERVATIONS = "pop3-observations"
FLUSH_EVERY = 0.5  # seconds between batches of observations
PARENT_CHECK = 1.0  # a forked worker quits within this long of its master's death


class WorkerSink:
    """Observations buffered in a worker and sent to the master in batches."""

    def __init__(self, environment: Environment) -> None:
        self.environment = environment
        self.pending: list[Observation] = []

    def __call__(self, observation: Observation) -> None:
        self.pending.append(observation)

    def flush(self, final: bool = False) -> None:
        batch, self.pending = self.pending, []
        runner = self.environment.runner
        if runner is not None and (batch or final):
            runner.send_message(OBSERVATIONS, {"observations": batch, "final": final})

    def run(self) -> None:
        while True:
            gevent.sleep(FLUSH_EVERY)
            self.flush()


class Gathering:
    """At the master: facts to each worker that asks; observations into the ledger."""

    def __init__(self, environment: Environment, facts: Facts, ledger: Ledger) -> None:
        runner = environment.runner
        assert runner is not None
        self.workers: set[str] = set()
        self.finished: set[str] = set()

        def hello(environment: Environment, msg: Message, **_: Any) -> None:
            self.workers.add(msg.node_id)
            runner.send_message(FACTS, facts.to_wire(), client_id=msg.node_id)

        def observed(environment: Environment, msg: Message, **_: Any) -> None:
            ledger.apply_all(msg.data["observations"])
            if msg.data.get("final"):
                self.finished.add(msg.node_id)

        runner.register_message(HELLO, hello)
        runner.register_message(OBSERVATIONS, observed)

    def await_finals(self, within: float) -> set[str]:
        """Wait until every worker's last batch is in; the workers still missing."""
        deadline = time.monotonic() + within
        while self.workers - self.finished and time.monotonic() < deadline:
            gevent.sleep(0.1)
        return self.workers - self.finished


def run_worker(
    target: Target,
    secrets: Secrets,
    master_host: str,
    master_port: int,
    deliver: Callable[..., None] | None,
    parent: int | None = None,
) -> int:
    """Be a worker until the master says quit (or, forked, until the master is gone)."""
    holder = WorldHolder()
    environment = Environment(user_classes=[user_class(holder)], catch_exceptions=True)
    runner = environment.create_worker_runner(master_host, master_port)
    sink = WorkerSink(environment)
    node = f"w{runner.worker_index}"

    def got_facts(environment: Environment, msg: Message, **_: Any) -> None:
        if holder.world is None:
            facts = Facts.from_wire(msg.data)
            recorder = LocustRecorder(environment, sink)
            holder.set(World(target, facts, recorder, secrets, node, deliver=deliver))

    runner.register_message(FACTS, got_facts)
    # Asked for once the answer can be taken (a message sent to a worker before
    # its handler exists is dropped).
    runner.send_message(HELLO, {})
    # test_stop fires once the users are stopped and before the worker says so.
    environment.events.test_stop.add_listener(lambda **_: sink.flush(final=True))
    flusher = gevent.spawn(sink.run)
    if parent is not None:
        gevent.spawn(_quit_when_orphaned, runner, parent)
    try:
        runner.greenlet.join()
    finally:
        flusher.kill()
    return 0


def _quit_when_orphaned(runner: Any, parent: int) -> None:
    while os.getppid() == parent:
        gevent.sleep(PARENT_CHECK)
    runner.quit()


def fork_workers(
    count: int,
    target: Target,
    secrets: Secrets,
    port: int,
    deliver: Callable[..., None] | None,
) -> list[int]:
    """Start ``count`` worker processes on this machine; their pids."""
    sys.stdout.flush()
    sys.stderr.flush()
    parent = os.getpid()
    pids = []
    for _ in range(count):
        pid = gevent.fork()
        if pid == 0:  # pragma: no cover - the child's coverage is not collected
            # Ctrl-C is the master's to handle: it stops the workers in order.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            code = 1
            try:
                code = run_worker(target, secrets, "127.0.0.1", port, deliver, parent)
            finally:
                os._exit(code)
        pids.append(pid)
    return pids


def reap(pids: list[int], within: float = 15.0) -> None:
    """Wait for the forked workers to end; kill (by pid) those that do not."""
    deadline = time.monotonic() + within
    left = list(pids)
    while left and time.monotonic() < deadline:
        for pid in list(left):
            with contextlib.suppress(ChildProcessError):
                done, _ = os.waitpid(pid, os.WNOHANG)
                if not done:
                    continue
            left.remove(pid)
        gevent.sleep(0.1)
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
