"""The body of ``pop3-conformance stress`` in the process where gevent has patched.

Prepare, run the load, judge, write: ``results.json`` (the ``stress.*``
invariants and the ``load`` figures), ``junit.xml``, ``summary.md``,
``report.html``, ``stress.html`` and Locust's CSV files, all in one folder.

Exit codes as for ``run``: 0 every invariant held, 1 one did not (or the
harness failed), 2 bad usage, 3 the target is unreachable or stopped
answering (the statistics so far are written), 4 no task could run, 130
interrupted (the statistics are written).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from conformance import __version__
from conformance.cli_common import (
    EXIT_FAIL,
    EXIT_INTERRUPTED,
    EXIT_NOTHING,
    EXIT_OK,
    EXIT_UNREACHABLE,
    ensure_writable,
    target_from,
    write_reports,
)
from conformance.report.console import render_console
from conformance.report.load import render_load_text, write_load_page
from conformance.results import RunResult
from conformance.secrets import Secrets, for_accounts
from conformance.stress import distributed, engine
from conformance.stress.figures import load_figures
from conformance.stress.invariants import grade, harness_errors
from conformance.stress.options import StressOptions
from conformance.stress.preparation import NothingToRun, Prepared, prepare
from conformance.target import Target, secrets_of
from conformance.transport import ConnectError

say = engine.stderr_say


def stress(args: argparse.Namespace, options: StressOptions) -> int:
    if options.role == "worker":
        with target_from(args) as target:
            secrets = for_accounts(target.accounts, secrets_of(target))
            deliver = getattr(target.provisioner, "deliver", None)
            say(f"worker of {options.master_host}:{options.master_port}")
            try:
                return distributed.run_worker(
                    target, secrets, options.master_host, options.master_port, deliver
                )
            except ConnectionError:
                # Locust gives up after its retries (about a minute).
                print(f"no master at {options.master_host}:{options.master_port}", file=sys.stderr)
                return EXIT_UNREACHABLE
            except KeyboardInterrupt:
                return EXIT_INTERRUPTED
    report_dir = options.report_dir or default_report_dir()
    with target_from(args) as target:
        ensure_writable(report_dir)
        secrets = for_accounts(target.accounts, secrets_of(target))
        say(f"preparing {target.host}:{target.port}")
        try:
            prepared = prepare(target, options, secrets, say)
        except ConnectError as exc:
            print(f"target unreachable: {exc}", file=sys.stderr)
            return EXIT_UNREACHABLE
        except NothingToRun as exc:
            print(f"nothing to run: {exc}", file=sys.stderr)
            return EXIT_NOTHING
        except KeyboardInterrupt:
            print("interrupted before the load started", file=sys.stderr)
            return EXIT_INTERRUPTED
        _describe(prepared)
        try:
            outcome = engine.run(target, options, prepared, secrets, report_dir, say)
        except engine.StressError as exc:
            print(f"stress: {exc}", file=sys.stderr)
            return exc.exit_code
        result = _result(target, prepared, options, outcome, secrets)
    write_reports(result, report_dir)
    write_load_page(result, report_dir / "stress.html")
    print(render_console(result, verbose=args.verbose, color=sys.stdout.isatty()))
    print(render_load_text(result.load))
    print(f"reports written to {report_dir}/ (stress.html, Locust's CSV files)", file=sys.stderr)
    if outcome.interrupted:
        return EXIT_INTERRUPTED
    if outcome.down:
        return EXIT_UNREACHABLE
    return EXIT_FAIL if result.failed() else EXIT_OK


def _describe(prepared: Prepared) -> None:
    facts = prepared.facts
    logins = ", ".join(f"{u} ({'/'.join(m)})" for u, m in facts.methods.items())
    say(f"run {facts.run_id}: lock policy {facts.policy}; logins: {logins}")
    for task, why in facts.skipped.items():
        say(f"task {task} not run: {why}")


def _result(
    target: Target,
    prepared: Prepared,
    options: StressOptions,
    outcome: engine.Outcome,
    secrets: Secrets,
) -> RunResult:
    load = load_figures(outcome, options, prepared.facts, secrets)
    scenarios = grade(outcome.ledger, secrets, outcome.duration_s, outcome.unjudged)
    broken = harness_errors(load["exceptions"], load["total"]["requests"], outcome.duration_s)
    if broken is not None:
        scenarios.append(broken)
    started = dt.datetime.fromtimestamp(outcome.started_wall, dt.UTC).replace(microsecond=0)
    return RunResult(
        tool_version=__version__,
        started=started.isoformat(),
        duration_s=outcome.duration_s,
        target={**target.describe(), **prepared.profile.describe()},
        scenarios=scenarios,
        selection=["stress"],
        load=load,
    )


def default_report_dir() -> Path:
    return Path("reports") / dt.datetime.now(dt.UTC).strftime("stress-%Y%m%d-%H%M%S")
