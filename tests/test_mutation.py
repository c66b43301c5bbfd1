"""The mutation test: the suite must catch every defect the reference server can inject.

A new defect in ``conformance/server/defects.py`` without a check that catches
it makes this test fail, and so does a scenario that fails the clean server.
"""

from __future__ import annotations

import time

import pytest

from conformance.mutation import Score, load_suite, run_suite, score
from conformance.server.defects import DEFECTS


@pytest.fixture(scope="module")
def mutation_score() -> Score:
    started = time.monotonic()
    result = score(jobs=2)
    # Shown with -s, and in the failure report otherwise.
    print(result.render())
    print(f"mutation run took {time.monotonic() - started:.1f} s")
    return result


def test_clean_server_passes_everything(mutation_score: Score) -> None:
    assert mutation_score.clean.problems() == []
    assert mutation_score.clean.errors() == []


def test_every_defect_is_caught(mutation_score: Score) -> None:
    assert len(mutation_score.runs) == len(DEFECTS) >= 35
    missed = {
        run.defect.name: run.errors()
        or run.problems()
        or f"no {run.defect.caught_as} cites {run.defect.requirement}"
        for run in mutation_score.missed
        if run.defect is not None
    }
    assert missed == {}, mutation_score.render()


def test_concurrency_defects_stay_invisible_to_the_sequential_suite(
    mutation_score: Score,
) -> None:
    # They are proven by pop3-conformance stress instead (tests/test_stress_run.py).
    concurrent = [r for r in mutation_score.runs if r.defect is not None and r.defect.concurrent]
    assert {r.defect.name for r in concurrent if r.defect} >= {"lock-check-then-set"}
    assert all(not r.problems() and not r.caught for r in concurrent), mutation_score.render()


def test_a_defect_run_reports_where_it_was_caught() -> None:
    # One quick defect end to end, so that the scoring itself is exercised
    # against a known answer: RSET that unmarks nothing is caught by a check
    # citing RFC1939-5.RSET-1, with no error.
    scenarios = [s for s in load_suite() if s.id == "core.deletion.rset-restores-access"]
    run = run_suite(scenarios, DEFECTS["rset-ignored"])
    assert run.caught, run.result.scenarios[0].checks
    assert any("rset-restores-access" in where for where in run.catches())
    clean = run_suite(scenarios, None)
    assert clean.problems() == [] and clean.catches() == []
