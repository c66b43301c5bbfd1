"""Mutation testing of the suite: does some check catch each injected defect?

The reference server can break one rule on purpose (``--defect NAME``, see
:mod:`conformance.server.defects`).  This module runs the whole suite against
the clean server and against each defect in turn, each run on its own
embedded server, and scores the suite: a defect is *caught* when some check
(or passive finding) grades it as the defect says (``fail``, or
``non-strict`` for a broken recommendation) while citing the requirement the
defect breaks, and the run has no ``error``, which could only hide it.

Every scenario gets accounts of its own, so a defect that poisons a mailbox
(a lock that is never released) shows up in the scenario that checks it and
cannot turn later scenarios into errors.  That also lets the scenarios of one
run go in parallel: most of a defect run's time is waiting (``eventually``
windows, deadlines), not computing.

``python -m conformance.mutation`` prints the score, the defects missed and
the wall time; it exits 1 unless every defect is caught and the clean server
passes.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from conformance import __version__
from conformance.campaign import RunOptions, default_suite_dirs, run_campaign, select
from conformance.cli_common import embedded_target
from conformance.outcomes import Outcome
from conformance.results import PassiveFinding, RunResult, ScenarioResult
from conformance.scenario.loader import load_all
from conformance.scenario.steps import Scenario
from conformance.server.defects import DEFECTS, Defect
from conformance.server.embedded import EmbeddedServer

DEFAULT_TIMEOUT = 2.0  # per response; scenarios with their own "timeout:" keep it
DEFAULT_JOBS = 2  # defect runs at once (one embedded server each)
SCENARIO_JOBS = 4  # scenarios at once within one run (distinct accounts)
ACCOUNTS_PER_SCENARIO = 2  # the most a scenario leases


@dataclass
class SuiteRun:
    """The suite against one server: clean (``defect`` None) or with one defect."""

    defect: Defect | None
    result: RunResult
    seconds: float

    def problems(self) -> list[str]:
        """For the clean run: every fail, error, non-strict or nondeterministic result."""
        bad = {Outcome.FAIL, Outcome.ERROR, Outcome.NON_STRICT, Outcome.NONDETERMINISTIC}
        out = [
            f"{s.id}: {s.outcome.value}: {s.reason}"
            for s in self.result.scenarios
            if s.outcome in bad
        ]
        out += [
            f"passive {p.requirement} {p.code}: {p.outcome.value} ({p.detail})"
            for p in self.result.passive
            if p.outcome in bad
        ]
        return out

    def errors(self) -> list[str]:
        """Scenarios that came out ``error`` (the harness or environment failed)."""
        return [
            f"{s.id}: {s.reason}"
            for s in self.result.scenarios
            if s.outcome is Outcome.ERROR or any(c.outcome is Outcome.ERROR for c in s.checks)
        ]

    def catches(self) -> list[str]:
        """Where the defect's requirement was graded as the defect says it must be."""
        if self.defect is None:
            return []
        wanted = Outcome(self.defect.caught_as)
        req = self.defect.requirement
        found = [
            f"{s.id} ({c.where})"
            for s in self.result.scenarios
            for c in s.checks
            if c.requirement == req and c.outcome is wanted
        ]
        found += [
            f"passive {p.code} (first in {p.scenario})"
            for p in self.result.passive
            if p.requirement == req and p.outcome is wanted
        ]
        return found

    @property
    def caught(self) -> bool:
        return bool(self.catches()) and not self.errors()

    @property
    def as_expected(self) -> bool:
        """Caught by the suite; for a defect that shows only under concurrency,
        not seen at all (``pop3-conformance stress`` is what finds those)."""
        if self.defect is not None and self.defect.concurrent:
            return not self.problems() and not self.errors()
        return self.caught


@dataclass
class Score:
    clean: SuiteRun
    runs: list[SuiteRun] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def caught(self) -> list[SuiteRun]:
        return [r for r in self.runs if r.caught]

    @property
    def sequential(self) -> list[SuiteRun]:
        """The runs of defects the sequential suite is meant to catch."""
        return [r for r in self.runs if r.defect is not None and not r.defect.concurrent]

    @property
    def missed(self) -> list[SuiteRun]:
        return [r for r in self.runs if not r.as_expected]

    @property
    def perfect(self) -> bool:
        return not self.clean.problems() and not self.missed

    def render(self) -> str:
        lines = [
            f"clean server: {len(self.clean.result.scenarios)} scenarios, "
            f"{self.clean.seconds:.1f} s"
        ]
        lines += [f"  PROBLEM {p}" for p in self.clean.problems()]
        for run in self.runs:
            assert run.defect is not None
            where = run.catches()
            if run.defect.concurrent:
                verdict = (
                    "left to stress: the sequential suite sees nothing, as it must"
                    if run.as_expected
                    else "SEEN by the sequential suite: "
                    + "; ".join((run.problems() + run.errors())[:3])
                )
            elif run.caught:
                verdict = f"caught by {where[0]}" + (
                    f" (+{len(where) - 1})" if len(where) > 1 else ""
                )
            elif run.errors():
                verdict = "MISSED: errors hide it: " + "; ".join(run.errors()[:3])
            else:
                verdict = f"MISSED: no {run.defect.caught_as} cites {run.defect.requirement}"
            lines.append(f"  {run.defect.name:<32} {run.seconds:5.1f} s  {verdict}")
        total = len(self.sequential)
        pct = 100.0 * len(self.caught) / total if total else 100.0
        lines.append(f"mutation score: {len(self.caught)}/{total} ({pct:.0f}%)")
        if self.missed:
            lines.append("missed: " + ", ".join(r.defect.name for r in self.missed if r.defect))
        lines.append(f"wall time: {self.seconds:.1f} s")
        return "\n".join(lines)


def load_suite() -> list[Scenario]:
    """The scenarios ``pop3-conformance run`` uses by default."""
    scenarios, errors = load_all(default_suite_dirs())
    if errors:
        raise ValueError("\n".join(str(e) for e in errors))
    return select(scenarios, [])


def run_suite(
    scenarios: Sequence[Scenario],
    defect: Defect | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    jobs: int = SCENARIO_JOBS,
) -> SuiteRun:
    """Run every scenario against a fresh embedded server (with ``defect``, if given)."""
    started = time.monotonic()
    count = len(scenarios) * ACCOUNTS_PER_SCENARIO
    names = [f"u{i:03d}" for i in range(count)]
    apop_names = [f"a{i:03d}" for i in range(count)]
    extra = ("--defect", defect.name) if defect is not None else ()
    with EmbeddedServer(
        accounts=names, apop_accounts=apop_names, extra_args=extra, tls=True
    ) as server:
        whole = embedded_target(server, timeout)
        users = [a for a in whole.accounts if not a.apop]
        apops = [a for a in whole.accounts if a.apop]

        def one(index: int) -> RunResult:
            # Each scenario has accounts of its own, of both kinds.
            first = index * ACCOUNTS_PER_SCENARIO
            mine = [
                *users[first : first + ACCOUNTS_PER_SCENARIO],
                *apops[first : first + ACCOUNTS_PER_SCENARIO],
            ]
            target = dataclasses.replace(whole, accounts=mine)
            return run_campaign([scenarios[index]], target, RunOptions())

        with ThreadPoolExecutor(max_workers=max(1, jobs)) as executor:
            parts = list(executor.map(one, range(len(scenarios))))
    return SuiteRun(defect, _merge(parts, time.monotonic() - started), time.monotonic() - started)


def _merge(parts: Sequence[RunResult], seconds: float) -> RunResult:
    """One RunResult from the one-scenario runs (passive findings folded once per code)."""
    scenarios: list[ScenarioResult] = [s for part in parts for s in part.scenarios]
    passive: dict[tuple[str, str], PassiveFinding] = {}
    for part in parts:
        for finding in part.passive:
            key = (finding.requirement, finding.code)
            if key in passive:
                passive[key].count += finding.count
            else:
                passive[key] = finding
    first = parts[0]
    return RunResult(
        tool_version=__version__,
        started=first.started,
        duration_s=seconds,
        target=first.target,
        scenarios=scenarios,
        passive=[passive[k] for k in sorted(passive)],
    )


def score(
    defects: Sequence[Defect] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    jobs: int = DEFAULT_JOBS,
    progress: Callable[[SuiteRun], None] | None = None,
) -> Score:
    """The clean run and one run per defect (all of :data:`DEFECTS` by default)."""
    started = time.monotonic()
    scenarios = load_suite()
    chosen = list(DEFECTS.values()) if defects is None else list(defects)

    def one(defect: Defect | None) -> SuiteRun:
        run = run_suite(scenarios, defect, timeout)
        if progress is not None:
            progress(run)
        return run

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as executor:
        # The slowest defects first, so that they do not run alone at the end.
        order = sorted(chosen, key=lambda d: d.name not in _SLOW)
        futures = [executor.submit(one, d) for d in [None, *order]]
        runs = [f.result() for f in futures]
    by_name = {r.defect.name: r for r in runs[1:] if r.defect is not None}
    return Score(
        clean=runs[0],
        runs=[by_name[d.name] for d in chosen],
        seconds=time.monotonic() - started,
    )


# Defects whose runs wait out "eventually" windows or deadlines.
_SLOW = frozenset({"lock-kept-after-drop", "lock-released-late", "missing-terminator"})


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m conformance.mutation",
        description="Run the suite against each injected defect of the reference server "
        "and print the mutation score.",
    )
    parser.add_argument(
        "--defect",
        action="append",
        default=[],
        metavar="NAME",
        help="only these defects (repeatable; default: all)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        help="seconds to wait for each response (default %(default)s)",
    )
    parser.add_argument(
        "--jobs", type=int, default=DEFAULT_JOBS, help="defect runs at once (default %(default)s)"
    )
    args = parser.parse_args(argv)
    unknown = sorted(set(args.defect) - DEFECTS.keys())
    if unknown:
        print(f"unknown defect {', '.join(unknown)}", file=sys.stderr)
        return 2
    chosen = [DEFECTS[n] for n in args.defect] if args.defect else None

    def progress(run: SuiteRun) -> None:
        name = run.defect.name if run.defect else "(clean)"
        state = "ok" if (run.as_expected if run.defect else not run.problems()) else "NOT OK"
        print(f"  {name:<32} {run.seconds:5.1f} s  {state}", file=sys.stderr, flush=True)

    result = score(chosen, timeout=args.timeout, jobs=args.jobs, progress=progress)
    print(result.render())
    return 0 if result.perfect else 1


if __name__ == "__main__":
    sys.exit(main())
