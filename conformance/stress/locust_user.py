"""The Locust side of a session: the POP3 user class and the recorder that feeds Locust.

Imported only in the stress process (Locust monkey-patches with gevent when it
is imported).  Each command a session sends is one Locust request: type
``POP3``, named by its keyword (``RETR``, ``PASS (in use)``, ``CONNECT``,
``DELIVER``), with its latency, its octets and, for a failure, why.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from gevent.event import Event
from locust import User, constant
from locust.env import Environment

from conformance.stress.observations import Observation
from conformance.stress.tasks import TASKS, run_task
from conformance.stress.world import World

REQUEST_TYPE = "POP3"
WORLD_WAIT = 60.0  # seconds a worker's user waits for the master's facts


class LocustRecorder:
    """Timings to Locust's statistics, observations to ``sink`` (the ledger, or the master)."""

    def __init__(self, environment: Environment, sink: Callable[[Observation], None]) -> None:
        self.environment = environment
        self.sink = sink

    def request(self, name: str, ms: float, octets: int, failure: str | None) -> None:
        self.environment.events.request.fire(
            request_type=REQUEST_TYPE,
            name=name,
            response_time=ms,
            response_length=octets,
            exception=failure,
            context={},
        )

    def emit(self, observation: Observation) -> None:
        self.sink(observation)


class WorldHolder:
    """The process's world, once it is known (at once locally; from the master in a worker)."""

    def __init__(self) -> None:
        self.world: World | None = None
        self._ready = Event()

    def set(self, world: World) -> None:
        self.world = world
        self._ready.set()

    def wait(self) -> World:
        self._ready.wait(WORLD_WAIT)
        if self.world is None:
            raise RuntimeError(f"no facts from the master within {WORLD_WAIT:g} s")
        return self.world


def user_class(holder: WorldHolder) -> type[User]:
    """The user class: each task run draws one task of the mix by its weight."""

    def step(user: User) -> None:
        world = holder.wait()
        weights = world.facts.mix
        names = [n for n in TASKS if weights.get(n)]
        rng: random.Random = user.rng  # type: ignore[attr-defined]
        run_task(world, rng.choices(names, [weights[n] for n in names])[0], rng)

    def on_start(user: User) -> None:
        user.rng = random.Random()  # type: ignore[attr-defined]

    return type(
        "Pop3User",
        (User,),
        {"tasks": [step], "wait_time": constant(0), "on_start": on_start, "__module__": __name__},
    )
