"""What every session of one process shares: the target, the facts learned before
the load, where observations and timings go, and what the process has seen.

A process is the local runner or one Locust worker; the ledger that merges
what every process saw lives elsewhere (at the master).  What is kept here is
only what a session needs to judge an answer on the spot: the unique-ids this
process has seen name which message (:class:`Knowledge`), and which of its
sessions are in TRANSACTION now (:class:`Occupancy`).
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from conformance.messages import Message
from conformance.secrets import Secrets
from conformance.stress.observations import Observation
from conformance.stress.preparation import Facts
from conformance.target import Account, Target


class Recorder(Protocol):
    """Where a session's timings (to Locust) and observations (to the ledger) go."""

    def request(self, name: str, ms: float, octets: int, failure: str | None) -> None: ...

    def emit(self, observation: Observation) -> None: ...


class Knowledge:
    """Which message each unique-id named in this process, and the last count seen per mailbox."""

    def __init__(self) -> None:
        self._names: dict[str, dict[str, str]] = {}
        self.counts: dict[str, int] = {}
        self._lock = threading.Lock()

    def learn(self, user: str, uid: str, identity: str) -> str | None:
        """Remember ``uid`` -> ``identity``; the message it named before, if another."""
        with self._lock:
            names = self._names.setdefault(user, {})
            before = names.get(uid)
            names[uid] = identity
        return before if before not in (None, identity) else None

    def named(self, user: str, uid: str) -> str | None:
        return self._names.get(user, {}).get(uid)


class Occupancy:
    """The sessions of this process that are in TRANSACTION, by mailbox.

    A session is *in* from the moment its login's +OK arrives until it sends
    QUIT or ends the connection; the server's lock is held at least that
    long, so two sessions in at once on one mailbox means the lock let both in.
    """

    def __init__(self) -> None:
        self._inside: dict[str, list[Any]] = {}
        self._lock = threading.Lock()

    def enter(self, user: str, session: Any) -> list[Any]:
        """Note ``session`` as in; the sessions of ``user`` that already were."""
        with self._lock:
            inside = self._inside.setdefault(user, [])
            others = list(inside)
            inside.append(session)
        return others

    def leave(self, user: str, session: Any) -> None:
        with self._lock:
            inside = self._inside.get(user, [])
            if session in inside:
                inside.remove(session)


def both(first: Callable[[], None], second: Callable[[], None]) -> None:
    """Run two callables at the same time (threads; greenlets once gevent has patched)."""
    other = threading.Thread(target=second, daemon=True)
    other.start()
    try:
        first()
    finally:
        other.join()


@dataclass
class World:
    target: Target
    facts: Facts
    recorder: Recorder
    secrets: Secrets
    node: str = ""  # names this process in session labels and markers ("" alone)
    deliver: Callable[[str, Message], None] | None = None
    parallel: Callable[[Callable[[], None], Callable[[], None]], None] = both
    knowledge: Knowledge = field(default_factory=Knowledge)
    occupancy: Occupancy = field(default_factory=Occupancy)
    _serials: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def accounts(self) -> list[Account]:
        """The accounts the run uses: those that log in by some method."""
        return [a for a in self.target.accounts if self.facts.methods.get(a.user)]

    def now(self) -> float:
        """Seconds since the run started, on the time base every process shares."""
        return time.monotonic() - self.facts.t0

    def serial(self) -> str:
        return f"{self.node or 'm'}-{next(self._serials)}"

    def label(self) -> str:
        """A new session's label, unique in the run."""
        return f"{self.node}s{next(self._serials)}"

    def pick(self, rng: random.Random, disposable: bool = False) -> Account | None:
        pool = [a for a in self.accounts if not disposable or a.user in self.facts.disposable]
        return rng.choice(pool) if pool else None
