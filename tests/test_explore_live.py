"""The exploration's live run: an action's last answer is read when the next action begins.

Hypothesis chooses the next action while the server answers the last one;
these tests pin down what that must not change: every answer is read and
judged before anything else is sent, an example may end with the command
that fails, and a session the server ended is the server's doing, not the
harness's error.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from conformance.explore import fragments
from conformance.explore.live import LiveRun
from conformance.explore.machine import Context, ExploreMachine, ModelMismatch
from conformance.outcomes import Outcome
from conformance.probe import probe
from conformance.provision import make_provisioner
from conformance.runner.run import Unjudged
from conformance.server.embedded import EmbeddedServer
from conformance.target import Account, Target


def _context(server: EmbeddedServer) -> Context:
    target = Target(
        server.host,
        server.port,
        [Account(a.user, a.password, True) for a in server.accounts],
        make_provisioner(f"maildir:{server.maildir_template}"),
        timeout=10.0,
    )
    profile = probe(target.host, target.port, target.timeout, target.connect_timeout)
    return Context(target, profile, target.accounts[0])


@pytest.fixture(scope="module")
def clean() -> Iterator[EmbeddedServer]:
    with EmbeddedServer() as server:
        yield server


@pytest.fixture(scope="module")
def released_later() -> Iterator[EmbeddedServer]:
    with EmbeddedServer(extra_args=["--behave", "lock-released-later"]) as server:
        yield server


@pytest.fixture(scope="module")
def stat_counts_deleted() -> Iterator[EmbeddedServer]:
    with EmbeddedServer(extra_args=["--defect", "stat-counts-deleted"]) as server:
        yield server


def _logging_in(context: Context) -> LiveRun:
    """A run whose mailbox is seeded and whose login's last answer is still owed."""
    run = LiveRun(
        context.scenario(), context.target, context.profile, [context.account], timeout=10.0
    )
    run.begin()
    run.perform(fragments.parse_fragment(fragments.login()))
    return run


def _logged_in(context: Context) -> LiveRun:
    run = _logging_in(context)
    run.settle()
    return run


def _sides(run: LiveRun, session: str = "A") -> list[str]:
    return [
        e.direction for e in run.transcript.entries if e.session == session and e.direction != "*"
    ]


def test_a_login_and_a_pipelined_batch_leave_their_last_answer_to_the_next_action(
    clean: EmbeddedServer,
) -> None:
    run = _logging_in(_context(clean))
    session = run.slots["A"].session
    assert session.connection.awaiting == 1 and run.checks == []  # PASS in flight
    run.perform(fragments.parse_fragment(fragments.pipelined(["STAT", "LIST 1"])))
    # The login was judged before the batch went out; the batch's last answer is owed.
    assert run.checks[0].requirement == "RFC1939-4-2"
    assert [c.command for c in run.checks[1:]] == ["STAT", "LIST 1"]
    assert session.connection.awaiting == 1
    run.perform(fragments.parse_fragment(fragments.command("NOOP")))
    assert len(run.checks) == 4 and run.checks[-1].command == "NOOP"
    run.finish()
    assert len(run.checks) == 5
    assert all(c.outcome is Outcome.PASS for c in run.checks), run.checks
    assert "C" not in _sides(run)[-1:]  # the last answer was read before the end


def test_a_login_refused_for_a_lock_is_tried_again_when_the_next_action_begins(
    released_later: EmbeddedServer,
) -> None:
    run = _logging_in(_context(released_later))
    # A's lock outlives its close: the first PASS is refused, and tried again.
    run.perform(fragments.parse_fragment(fragments.end_and_login("close")))
    assert len(run.checks) == 1  # the first login's; the second one's PASS is in flight
    assert run.slots["A"].session.connection.awaiting == 1
    run.perform(fragments.parse_fragment(fragments.command("STAT")))
    relogin = run.checks[-1]
    assert relogin.requirement == "RFC1939-4-2" and relogin.outcome is Outcome.PASS
    attempts = int(relogin.actual.split()[3])  # "logged in after N attempt(s)"
    assert attempts > 1, relogin.actual
    run.finish()
    assert run.checks[-1].command == "STAT" and run.checks[-1].outcome is Outcome.PASS
    # Every attempt's lines went out in order, each after the answer before it.
    assert _sides(run).count("C") >= 2 * attempts + 3


def test_a_lone_command_is_judged_when_the_next_action_begins(clean: EmbeddedServer) -> None:
    run = _logged_in(_context(clean))
    judged = len(run.checks)
    session = run.slots["A"].session
    run.perform(fragments.parse_fragment(fragments.command("STAT")))
    assert session.connection.awaiting == 1 and len(run.checks) == judged  # in flight
    run.perform(fragments.parse_fragment(fragments.command("LIST 1")))
    # STAT's answer was read and judged before LIST went out; LIST's is owed.
    assert [c.command for c in run.checks[judged:]] == ["STAT"]
    assert session.connection.awaiting == 1
    run.perform(fragments.parse_fragment(fragments.end_and_login("quit")))
    assert [c.command for c in run.checks[judged : judged + 2]] == ["STAT", "LIST 1"]
    assert session.connection.awaiting == 0
    run.perform(fragments.parse_fragment(fragments.command("NOOP")))
    run.finish()
    assert run.checks[-1].command == "NOOP"
    assert all(c.outcome is Outcome.PASS for c in run.checks), run.checks
    # On the wire, every command of session A had its answer before the next one.
    sides = [e.direction for e in run.transcript.entries if e.session == "A" and e.direction != "*"]
    assert sides.count("C") >= 8
    assert all(a != b for a, b in itertools.pairwise(sides) if a == "C"), sides


def test_an_example_may_end_with_the_command_that_fails(
    stat_counts_deleted: EmbeddedServer,
) -> None:
    machine = ExploreMachine(_context(stat_counts_deleted))
    machine.log_in()
    machine.delete("DELE 1")
    machine.query("STAT")  # answered with the deleted message counted
    machine.every_answer_matches_the_model()  # the answer is not read yet
    with pytest.raises(ModelMismatch, match=r"RFC1939-5\.STAT-2"):
        machine.teardown()
    failure = machine.context.minimal
    assert failure is not None and failure.lines[-2:] == ["C: STAT", "S: model"]


def test_a_failure_is_not_raised_over_an_exception_hypothesis_is_ending_the_example_with(
    stat_counts_deleted: EmbeddedServer,
) -> None:
    machine = ExploreMachine(_context(stat_counts_deleted))
    machine.log_in()
    machine.delete("DELE 1")
    machine.query("STAT")

    class Overrun(Exception):  # stands for hypothesis's StopTest
        pass

    # Hypothesis calls teardown from a finally; its own exception must come out.
    with pytest.raises(Overrun):
        try:
            raise Overrun
        finally:
            machine.teardown()
    assert machine.run.in_flight is None
    assert any(c.outcome is Outcome.FAIL for c in machine.run.checks)  # read and judged


def test_a_session_the_server_ended_is_unjudged_not_a_harness_error(
    clean: EmbeddedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = _logged_in(_context(clean))
    judged = len(run.checks)

    def gone(steps: object) -> None:
        raise Unjudged("session A: closed by the server")

    monkeypatch.setattr(run, "perform_steps", gone)
    run.perform(fragments.parse_fragment(fragments.end_and_login("quit")))
    assert run.aborted and run.unjudged == "session A: closed by the server"
    assert run.checks[judged:] == []
    run.perform(fragments.parse_fragment(fragments.command("STAT")))  # nothing more is done
    assert run.checks[judged:] == []
    monkeypatch.undo()
    run.finish()
