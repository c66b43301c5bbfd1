"""Each lab server, judged by the full suite, against its committed baseline.

The six servers run at the same time (three at once: most of a run is spent
waiting on deadlines, lock refusals and login delays, not on the CPU), each
on a fresh instance with calibration on.  A change of any scenario's outcome
fails, printing the difference: a server that changed, or a harness change
whose effect on real servers must be looked at and the baseline updated with
``python tools/update_baselines.py NAME``.  Every ``fail`` a baseline records
carries a one-line explanation (reports/baselines/explanations.toml).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conformance.baseline import (
    load_explanations,
    read_baseline,
    stale_explanations,
    unexplained,
)
from conformance.campaign import default_suite_dirs, select
from conformance.cli_common import write_reports
from conformance.commands.lab import judge
from conformance.lab import LAB_SERVERS
from conformance.report.diff import diff_runs, render_diff
from conformance.results import RunResult
from conformance.scenario.loader import load_all

ROOT = Path(__file__).resolve().parents[2]
BASELINES = ROOT / "reports" / "baselines"
# Each run's reports and the server's own logs, for whoever reads a failure
# (CI keeps reports/ as an artifact).
LAB_REPORTS = ROOT / "reports" / "lab"
AT_ONCE = 3


def _judge_or_why(name: str) -> RunResult | str:
    server = LAB_SERVERS[name]
    ok, reason = server.available()
    if not ok:
        return reason
    scenarios, errors = load_all(default_suite_dirs())
    assert not errors
    out = LAB_REPORTS / name
    run = judge(server, select(scenarios, []), logs_to=out / "server-logs")
    write_reports(run, out)
    return run


@pytest.fixture(scope="module")
def lab_runs() -> dict[str, RunResult | str]:
    names = sorted(LAB_SERVERS)
    with ThreadPoolExecutor(max_workers=AT_ONCE) as pool:
        return dict(zip(names, pool.map(_judge_or_why, names), strict=True))


def test_every_lab_server_has_a_baseline() -> None:
    assert sorted(p.stem for p in BASELINES.glob("*.json")) == sorted(LAB_SERVERS)


@pytest.mark.parametrize("name", sorted(LAB_SERVERS))
def test_every_fail_in_the_baseline_is_explained(name: str) -> None:
    run, explained = read_baseline(BASELINES / f"{name}.json")
    assert unexplained(run, explained) == []
    assert stale_explanations(run, load_explanations(BASELINES).get(name, {})) == []
    for scenario in run.scenarios:
        if scenario.outcome.value == "fail":
            # The quoted requirement travels with the fail.
            assert any(c.quote for c in scenario.checks if c.outcome.value == "fail")


@pytest.mark.lab
@pytest.mark.parametrize("name", sorted(LAB_SERVERS))
def test_server_matches_its_baseline(name: str, lab_runs: dict[str, RunResult | str]) -> None:
    run = lab_runs[name]
    if isinstance(run, str):
        if os.environ.get("CI"):
            pytest.fail(f"CI must judge every lab server; {name} cannot start: {run}")
        pytest.skip(run)
    base, _ = read_baseline(BASELINES / f"{name}.json")
    changes = diff_runs(base, run)
    assert changes.is_empty(), f"{name} differs from its baseline:\n" + render_diff(changes, "text")


@pytest.mark.parametrize("name", sorted(LAB_SERVERS))
def test_a_baseline_is_a_results_file_diff_and_run_baseline_can_read(name: str) -> None:
    from conformance.cli import EXIT_OK, main

    path = str(BASELINES / f"{name}.json")
    assert main(["diff", path, path]) == EXIT_OK
