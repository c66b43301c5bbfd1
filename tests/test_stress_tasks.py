"""The stress tasks and their checks against the reference server, without Locust.

The sessions, tasks, preparation, reading and ledger are plain Python over
the harness's transport: here they run in this process, in threads where a
task needs two sessions at once, and their observations go straight into a
ledger.  Locust only adds users, timing statistics and processes around them
(tests/test_stress_run.py).
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from conformance.secrets import for_accounts
from conformance.server.embedded import EmbeddedServer
from conformance.stress import tasks
from conformance.stress.client import StressClient
from conformance.stress.ledger import Ledger
from conformance.stress.observations import Observation
from conformance.stress.options import StressOptions
from conformance.stress.preparation import prepare
from conformance.stress.reading import Reader
from conformance.stress.world import World
from conformance.target_flags import embedded_target


@dataclass
class Recorder:
    ledger: Ledger | None = None
    requests: list[tuple[str, str | None]] = field(default_factory=list)
    early: list[Observation] = field(default_factory=list)

    def request(self, name: str, ms: float, octets: int, failure: str | None) -> None:
        self.requests.append((name, failure))

    def emit(self, observation: Observation) -> None:
        if self.ledger is None:
            self.early.append(observation)
        else:
            self.ledger.apply(observation)


def world_of(server: EmbeddedServer) -> tuple[World, Ledger, Reader]:
    target = embedded_target(server, 5.0)
    secrets = for_accounts(target.accounts)
    options = StressOptions(users=1, spawn_rate=1.0, run_time=1.0, lock_wait=5.0)
    prepared = prepare(target, options, secrets, lambda _: None)
    prepared.facts.start_at(time.time())
    ledger = Ledger(prepared.facts.run_id, prepared.readings)
    recorder = Recorder(ledger)
    deliver = getattr(target.provisioner, "deliver", None)
    facts = prepared.facts
    world = World(target, facts, recorder, secrets, "t", deliver=deliver)
    reader = Reader(
        target, prepared.profile, secrets, facts.top, facts.uidl, facts.lock_wait, facts.t0
    )
    return world, ledger, reader


def account_all(world: World, ledger: Ledger, reader: Reader) -> None:
    facts = world.facts
    for account in world.accounts:
        ledger.account(account.user, reader.read(account, facts.methods[account.user][0]))
    ledger.judge_unique_ids()


@pytest.fixture(scope="module")
def server() -> Iterator[EmbeddedServer]:
    with EmbeddedServer() as running:
        yield running


def test_preparation_learns_logins_policy_and_marked_mailboxes(server: EmbeddedServer) -> None:
    world, ledger, _ = world_of(server)
    facts = world.facts
    assert facts.policy == "exclusive" and facts.can_deliver
    assert facts.methods["alice"][0] == "user" and "sasl-plain" in facts.methods["alice"]
    # An APOP mailbox takes APOP, not USER/PASS (RFC 1939 section 13).
    assert facts.methods["erin"][0] == "apop" and "user" not in facts.methods["erin"]
    assert sorted(facts.disposable) == sorted(a.user for a in server.accounts)
    assert all(
        name.startswith(f"{facts.run_id}/{user}/seed")
        for user, box in ledger.mailboxes.items()
        for name in box.status
    )


def test_every_task_keeps_every_invariant_on_a_correct_server(server: EmbeddedServer) -> None:
    world, ledger, reader = world_of(server)
    rng = random.Random(1939)
    for _ in range(6):
        for name in tasks.TASKS:
            tasks.run_task(world, name, rng)
    account_all(world, ledger, reader)
    assert ledger.violations == []
    names = {name for name, _ in world.recorder.requests}  # type: ignore[attr-defined]
    assert {"CONNECT", "PASS", "APOP", "RETR", "TOP", "DELE", "RSET", "DELIVER"} <= names
    assert ledger.counts["messages removed at UPDATE"] >= 1
    assert ledger.counts["rset"] >= 1 and ledger.counts["fin"] + ledger.counts["rst"] >= 1


def test_simultaneous_logins_find_a_lock_checked_then_set() -> None:
    with EmbeddedServer(extra_args=("--defect", "lock-check-then-set")) as racy:
        world, ledger, _ = world_of(racy)
        rng = random.Random(7)
        for _ in range(10):
            tasks.concurrent(world, rng)
    (first, *_) = [v for v in ledger.violations if v.invariant == "lock"]
    assert first.requirement == "RFC1939-4-2"
    assert len({e.session for e in first.transcript}) == 2


def test_a_delivery_during_a_session_shows_the_snapshot_rewrite() -> None:
    with EmbeddedServer(extra_args=("--defect", "quit-rewrites-snapshot")) as rewriting:
        world, ledger, reader = world_of(rewriting)
        account = next(a for a in world.accounts if a.user == "bob")
        client = StressClient(world, account)
        assert client.open() and client.log_in("user") and client.learn_view()
        tasks.deliver_one(world, "bob")
        client.quit()
        account_all(world, ledger, reader)
    (lost,) = ledger.violations
    assert lost.requirement == "RFC1939-6.QUIT-2" and client.label in lost.note


def test_nothing_here_imported_locust() -> None:
    assert "locust" not in sys.modules
