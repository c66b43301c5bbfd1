"""What the subcommands share: exit codes, the target flags, and the reports a run writes.

Every subcommand module in ``conformance.commands`` builds on these, so a run,
a certification and an exploration describe their target with the same flags
and leave the same report files behind.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import signal
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

from conformance import __version__

# The exit codes, re-exported: every subcommand takes them from here.
from conformance.exits import EXIT_FAIL as EXIT_FAIL
from conformance.exits import EXIT_INTERRUPTED as EXIT_INTERRUPTED
from conformance.exits import EXIT_NOTHING as EXIT_NOTHING
from conformance.exits import EXIT_OK as EXIT_OK
from conformance.exits import EXIT_UNREACHABLE as EXIT_UNREACHABLE
from conformance.exits import EXIT_USAGE as EXIT_USAGE
from conformance.report.console import render_console
from conformance.report.diff import diff_runs, is_regression, render_diff
from conformance.report.html import write_html
from conformance.report.json_report import read_results, write_results
from conformance.report.junit_report import write_junit
from conformance.report.summary import write_summary
from conformance.results import RunResult
from conformance.target import Target
from conformance.target_flags import UsageError as UsageError
from conformance.target_flags import add_target_options as add_target_options
from conformance.target_flags import check_profile as check_profile
from conformance.target_flags import embedded_target as embedded_target
from conformance.target_flags import target_from as target_from


def add_suite_options(
    p: argparse.ArgumentParser,
    select_help: str = "id glob, tag, or requirement-ID prefix such as RFC1939-6 (repeatable)",
) -> None:
    """--suites, --select and --slow: which scenarios a command runs."""
    p.add_argument(
        "--suites",
        action="append",
        type=Path,
        default=[],
        metavar="DIR",
        help="scenario files or folders to run instead of the installed ones",
    )
    p.add_argument("--select", action="append", default=[], metavar="PATTERN", help=select_help)
    p.add_argument(
        "--slow",
        action="store_true",
        help="also run scenarios tagged slow (the 10-minute autologout timer; off by default)",
    )


def add_preflight_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--no-preflight",
        action="store_true",
        help="skip logging in once with every account before the first scenario "
        "(a refused account then shows as errors instead of exit 2)",
    )


def add_defect_option(p: argparse.ArgumentParser, what: str) -> None:
    """--defect and --behave: the embedded server with a fault injected, or adopting a
    behaviour the RFCs permit; ``what`` says what the command does."""
    p.add_argument(
        "--defect",
        action="append",
        default=[],
        metavar="NAME",
        help=f"{what} the embedded server with this fault injected (repeatable; "
        "'pop3-conformance serve --list-defects' lists them)",
    )
    p.add_argument(
        "--behave",
        action="append",
        default=[],
        metavar="NAME",
        help=f"{what} the embedded server adopting a behaviour the RFCs permit "
        "(repeatable; 'pop3-conformance serve --list-behaviours' lists them)",
    )


def plural(n: int, word: str) -> str:
    """``1 scenario``, ``2 scenarios``."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def ensure_writable(report_dir: Path) -> None:
    """Make ``report_dir`` and prove a file can be written there, or UsageError (exit 2)."""
    try:
        report_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=report_dir, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise UsageError(f"cannot write reports to {report_dir}: {exc.strerror or exc}") from exc


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """SIGTERM ends a run as Ctrl-C does: what was judged is written, exit 130."""

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers belong to the main thread (the pytest plugin may not be)
        return
    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def unreachable_run(target: Target, why: str) -> RunResult:
    """The result of a run that judged nothing because the target could not be reached."""
    started = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    return RunResult(
        tool_version=__version__,
        started=started,
        duration_s=0.0,
        target=target.describe(),
        scenarios=[],
        notes=[why],
    )


def write_reports(run: RunResult, report_dir: Path) -> None:
    """Write the files of every run into ``report_dir``.

    results.json is the source of truth; junit.xml, summary.md and
    report.html are views of it.
    """
    report_dir.mkdir(parents=True, exist_ok=True)
    write_results(run, report_dir / "results.json")
    write_junit(run, report_dir / "junit.xml")
    write_summary(run, report_dir / "summary.md")
    write_html(run, report_dir / "report.html")


def read_run(path: Path) -> RunResult:
    """A results file, or a UsageError (exit 2) saying why it cannot be read."""
    try:
        return read_results(path)
    except OSError as exc:
        raise UsageError(f"cannot read results file {path}: {exc.strerror or exc}") from exc
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"cannot read results file {path}: not JSON ({exc.msg} at line {exc.lineno})"
        ) from exc
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        # ValueError covers bad UTF-8, an unknown schema or outcome; the others
        # a document of the wrong shape.
        what = f"no {exc}" if isinstance(exc, KeyError) else str(exc)
        raise UsageError(
            f"cannot read results file {path}: not a pop3-conformance result ({what})"
        ) from exc


def finish_run(
    run: RunResult,
    report_dir: Path,
    *,
    verbose: bool,
    baseline: RunResult | None = None,
    baseline_path: Path | None = None,
    allow_removed: bool = False,
) -> int:
    """Write the reports, print the results (and the changes from a baseline); the exit code."""
    write_reports(run, report_dir)
    print(render_console(run, verbose=verbose, color=sys.stdout.isatty()))
    print(f"reports written to {report_dir}/", file=sys.stderr)
    if baseline is not None:
        # Against a baseline, a regression decides: a real server has known
        # fails, and CI must fail only when something that worked breaks.
        changes = diff_runs(baseline, run, allow_removed=allow_removed)
        print(f"against baseline {baseline_path}:")
        print(render_diff(changes, "text"), end="")
        return EXIT_FAIL if is_regression(changes) else EXIT_OK
    return EXIT_FAIL if run.failed() else EXIT_OK
