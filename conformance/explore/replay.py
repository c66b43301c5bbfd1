"""Replaying an emitted scenario once, and the grade an exploration gets from it.

A failure found by exploring must come back when its scenario file is run
on its own.  If it does not, the server answered the same sequence in two
ways: the result is ``nondeterministic`` (style.md: never retried away).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from conformance.outcomes import Outcome, fails_run
from conformance.pop3 import Finding
from conformance.probe import ServerProfile
from conformance.results import CheckResult, ScenarioResult
from conformance.runner import ScenarioRun
from conformance.scenario.steps import Scenario
from conformance.target import Account, Target


def replay(
    scenario: Scenario,
    target: Target,
    profile: ServerProfile,
    account: Account,
    on_finding: Callable[[Finding, str], None] = lambda f, s: None,
) -> ScenarioResult:
    """Run ``scenario`` once, exactly as ``pop3-conformance run`` would."""
    return ScenarioRun(
        scenario, target, profile, [account], on_finding=on_finding, timeout=target.timeout
    ).execute()


def reproduced(result: ScenarioResult, strict: bool = False) -> bool:
    """Whether the replay failed as the exploration did."""
    return fails_run(result.outcome, strict)


def nondeterministic(checks: list[CheckResult], why: str) -> list[CheckResult]:
    """The exploration's failing checks, regraded: the same sequence did not fail again."""
    return [
        dataclasses.replace(
            c,
            outcome=Outcome.NONDETERMINISTIC,
            note=f"{why}; during the exploration: {c.note}" if c.note else why,
        )
        for c in checks
    ]
