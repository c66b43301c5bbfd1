"""The timers: the slow scenarios, scaled down a hundredfold, against reference
servers whose timers are right and wrong; the slow set runs at once; LOGIN-DELAY.

The shipped files are read and only their ``sleep N s`` lines are scaled, so
the tests judge the scenarios that ``--slow`` runs, not look-alikes.  The
server's timer is scaled well clear of the scenarios' waits on either side
(9 s against 5.9 s, 3 s against 4 s), so that a loaded machine cannot turn a
pass into a fail.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance.campaign import RunOptions, run_campaign, slow_notes, split_slow
from conformance.outcomes import Outcome
from conformance.runner.handlers import HANDLERS
from conformance.scenario import steps as st
from conformance.scenario.loader import ScenarioError, parse_scenario
from conformance.scenario.steps import Scenario
from conformance.server.embedded import EmbeddedServer
from conformance.target_flags import embedded_target

ROOT = Path(__file__).resolve().parent.parent
SLOW_FILES = sorted((ROOT / "suites" / "ext" / "slow").glob("*.pop3"))
LOGIN_DELAY_FILE = ROOT / "suites" / "ext" / "resp-codes" / "login-delay-enforced.pop3"
SCALE = 100.0


def _shorter(match: re.Match[str]) -> str:
    return f"{match.group(1)}sleep {float(match.group(2)) / SCALE:g} s"


def scaled_text(path: Path) -> str:
    return re.sub(r"^(\s*)sleep (\d+) s$", _shorter, path.read_text(), flags=re.M)


def outcomes(server: EmbeddedServer, scenarios: list[Scenario]) -> dict[str, Outcome]:
    target = embedded_target(server, timeout=10.0)
    run = run_campaign(scenarios, target, RunOptions())
    return {s.id: s.outcome for s in run.scenarios}


@pytest.fixture
def slow_set() -> list[Scenario]:
    assert len(SLOW_FILES) == 4  # the three TRANSACTION timers and the AUTHORIZATION one
    return [parse_scenario(scaled_text(p), str(p)) for p in SLOW_FILES]


@pytest.fixture
def all_at_once(monkeypatch: pytest.MonkeyPatch, slow_set: list[Scenario]) -> Iterator[None]:
    """Every slow scenario must be sleeping at the same time, or the barrier breaks.

    Each scenario's first sleep waits for the others' first sleep; run one
    after the other they never meet, and the broken barrier is an error.
    """
    barrier = threading.Barrier(len(slow_set), timeout=30)
    first: set[str] = set()
    sleep = HANDLERS[st.Sleep]

    def meeting(run, step):  # type: ignore[no-untyped-def]
        if run.scenario.id not in first:
            first.add(run.scenario.id)
            barrier.wait()
        sleep(run, step)

    monkeypatch.setitem(HANDLERS, st.Sleep, meeting)
    yield


def test_the_scaling_reaches_every_sleep(slow_set: list[Scenario]) -> None:
    sleeps = [step.seconds for s in slow_set for step in s.steps if isinstance(step, st.Sleep)]
    assert sorted(sleeps) == [4.0, 4.0, 5.9, 5.9, 6.6]


@pytest.mark.usefixtures("all_at_once")
def test_a_timer_of_more_than_ten_minutes_passes_and_they_run_at_once(
    slow_set: list[Scenario],
) -> None:
    # 9 s is a 15-minute timer at this scale.
    with EmbeddedServer(extra_args=["--autologout", "9"]) as server:
        got = outcomes(server, slow_set)
    assert got == {
        "ext.slow.autologout-authorization": Outcome.PASS,
        "ext.slow.autologout-not-before-ten-minutes": Outcome.PASS,
        "ext.slow.autologout-reset-by-commands": Outcome.PASS,
        # No logout inside the 11-minute wait: the timer is longer (optional).
        "ext.slow.autologout-does-not-update": Outcome.INFO,
    }


@pytest.mark.usefixtures("all_at_once")
def test_a_five_minute_timer_fails_in_transaction_and_is_non_strict_before_login(
    slow_set: list[Scenario],
) -> None:
    # 3 s is a 5-minute timer at this scale.
    with EmbeddedServer(extra_args=["--autologout", "3"]) as server:
        got = outcomes(server, slow_set)
    assert got == {
        "ext.slow.autologout-authorization": Outcome.NON_STRICT,
        "ext.slow.autologout-not-before-ten-minutes": Outcome.FAIL,
        "ext.slow.autologout-reset-by-commands": Outcome.FAIL,
        # Logged out without UPDATE: message 1 is still there.
        "ext.slow.autologout-does-not-update": Outcome.PASS,
    }


def test_login_delay_enforced_then_lifted_passes() -> None:
    scenario = parse_scenario(LOGIN_DELAY_FILE.read_text(), str(LOGIN_DELAY_FILE))
    with EmbeddedServer(extra_args=["--login-delay", "2"]) as server:
        run = run_campaign([scenario], embedded_target(server, 10.0), RunOptions())
    (result,) = run.scenarios
    assert result.outcome is Outcome.PASS, result.checks
    notes = [c.note for c in result.checks]
    assert "refused with [LOGIN-DELAY]" in notes
    # The login after the announced delay was judged too.
    assert any(c.actual.startswith("logged in after") for c in result.checks)


def test_login_delay_advertised_but_not_enforced_is_non_strict() -> None:
    scenario = parse_scenario(LOGIN_DELAY_FILE.read_text(), str(LOGIN_DELAY_FILE))
    args = ["--login-delay", "2", "--login-delay-unenforced"]
    with EmbeddedServer(extra_args=args) as server:
        run = run_campaign([scenario], embedded_target(server, 10.0), RunOptions())
    (result,) = run.scenarios
    assert result.outcome is Outcome.NON_STRICT
    assert [c.requirement for c in result.checks if c.outcome is Outcome.NON_STRICT] == [
        "RFC2449-6.5-1"
    ]


def test_no_login_delay_to_enforce_is_unsupported() -> None:
    scenario = parse_scenario(LOGIN_DELAY_FILE.read_text(), str(LOGIN_DELAY_FILE))
    with EmbeddedServer() as server:
        run = run_campaign([scenario], embedded_target(server, 10.0), RunOptions())
    (result,) = run.scenarios
    assert result.outcome is Outcome.UNSUPPORTED
    assert "LOGIN-DELAY>0" in result.reason


def test_fewer_accounts_than_slow_scenarios_is_a_note(slow_set: list[Scenario]) -> None:
    slow, fast = split_slow(slow_set)
    assert slow == slow_set and fast == []
    # Two USER/PASS accounts (the APOP ones cannot serve these scenarios).
    with EmbeddedServer(accounts=("alice", "bob"), apop_accounts=("erin",)) as server:
        target = embedded_target(server, 10.0)
    (note,) = slow_notes(slow, target)
    assert "hold 3 account(s) at once and the target has 2" in note
    assert "about 2 windows" in note


def test_a_scenario_without_an_account_may_not_name_one() -> None:
    head = "id: t.x\ntitle: t\nrequirements: RFC1939-3-15\nmailbox: none\naccounts: 0\n---\n"
    assert parse_scenario(head + "open A\nC: NOOP\nS: -ERR\n", "t.pop3").accounts == 0
    with pytest.raises(ScenarioError, match="needs an account"):
        parse_scenario(head + "open A\nC: USER {user}\nS: +OK\n", "t.pop3")
    with pytest.raises(ScenarioError, match="login"):
        parse_scenario(head + "login A\n", "t.pop3")
    with pytest.raises(ScenarioError, match="mailbox: none"):
        parse_scenario(head.replace("mailbox: none\n", ""), "t.pop3")
