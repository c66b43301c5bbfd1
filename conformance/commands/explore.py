"""``pop3-conformance explore``: random command sequences, judged by the mailbox model.

Same target flags, report files and exit codes as ``run``: 0 when the
exploration found nothing, 1 when it found a failure (or a nondeterministic
one), 2 for a usage error, 3 when the target is unreachable, 4 when the
budget allowed no example at all.  The seed is printed first, so any run can
be repeated with ``--seed``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shlex
import sys
from pathlib import Path

from conformance import arguments
from conformance.cli_common import (
    EXIT_FAIL,
    EXIT_NOTHING,
    EXIT_OK,
    EXIT_UNREACHABLE,
    UsageError,
    add_defect_option,
    add_target_options,
    target_from,
    write_reports,
)
from conformance.explore import Exploration, ExploreError, ExploreOptions, explore
from conformance.explore.driver import new_seed
from conformance.explore.emit import DEFAULT_DIR
from conformance.messages import BENCHMARK_CORPORA, CORPORA
from conformance.report.console import render_console
from conformance.transport import ConnectError

NAME = "explore"
HELP = "drive the server with random command sequences judged by the mailbox model"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--budget",
        type=arguments.seconds,
        default=60.0,
        metavar="SECONDS",
        help="wall-clock seconds of search (default 60); shrinking a failure has its own",
    )
    parser.add_argument("--seed", type=int, help="repeat an exploration (default: a random seed)")
    parser.add_argument(
        "--examples",
        type=arguments.positive_int,
        default=200,
        metavar="N",
        help="examples at most (default 200)",
    )
    parser.add_argument(
        "--steps",
        type=arguments.positive_int,
        default=25,
        metavar="N",
        help="actions per example at most (25)",
    )
    parser.add_argument(
        "--shrink-budget",
        type=arguments.seconds,
        default=120.0,
        metavar="SECONDS",
        help="wall-clock seconds to shrink a failure (default 120)",
    )
    parser.add_argument(
        "--mailbox",
        choices=[c for c in CORPORA if c != "empty" and c not in BENCHMARK_CORPORA],
        default="standard",
        help="the content seeded before each example (default standard)",
    )
    parser.add_argument(
        "--emit",
        type=Path,
        default=DEFAULT_DIR,
        metavar="DIR",
        help=f"where the regression scenario of a failure goes (default {DEFAULT_DIR}/)",
    )
    parser.add_argument("--report-dir", type=Path, help="default: reports/<timestamp>/")
    parser.add_argument("--strict", action="store_true", help="non-strict answers are failures")
    parser.add_argument("-v", "--verbose", action="store_true", help="details even on a pass")
    add_defect_option(parser, "explore")
    add_target_options(parser)


def run(args: argparse.Namespace) -> int:
    options = _options(args)
    report_dir = args.report_dir or _default_report_dir()
    print(f"explore: seed {options.seed} (repeat with --seed {options.seed})", file=sys.stderr)
    with target_from(args) as target:
        print(
            f"explore: {target.host}:{target.port}, budget {options.budget_s:g} s, "
            f"at most {options.examples} examples of {options.steps} actions",
            file=sys.stderr,
        )
        try:
            exploration = explore(
                target, options, notify=lambda m: print(f"explore: {m}", file=sys.stderr)
            )
        except ConnectError as exc:
            print(f"target unreachable: {exc}", file=sys.stderr)
            return EXIT_UNREACHABLE
        except ExploreError as exc:
            raise UsageError(str(exc)) from exc
    if exploration.examples == 0:
        print("nothing explored: the budget allowed no example", file=sys.stderr)
        return EXIT_NOTHING
    write_reports(exploration.run, report_dir)
    print(render_failure(exploration, _replay_command(args)), end="")
    print(render_console(exploration.run, verbose=args.verbose, color=sys.stdout.isatty()))
    print(figures(exploration))
    print(f"reports written to {report_dir}/", file=sys.stderr)
    return EXIT_FAIL if exploration.run.failed() else EXIT_OK


def _options(args: argparse.Namespace) -> ExploreOptions:
    if args.budget <= 0 or args.shrink_budget <= 0:
        raise UsageError("--budget and --shrink-budget must be positive numbers of seconds")
    if args.examples < 1 or args.steps < 1:
        raise UsageError("--examples and --steps must be at least 1")
    return ExploreOptions(
        budget_s=args.budget,
        examples=args.examples,
        seed=args.seed if args.seed is not None else new_seed(),
        steps=args.steps,
        shrink_budget_s=args.shrink_budget,
        mailbox=args.mailbox,
        strict=args.strict,
        emit_dir=args.emit,
    )


def render_failure(exploration: Exploration, replay_command: str) -> str:
    """The minimal step list of a failure and where its scenario went ("" when none)."""
    failure = exploration.failure
    if failure is None:
        return ""
    out = [f"explore seed {exploration.seed}: {exploration.result.outcome.value}", ""]
    out.append(f"Minimal step list ({len(failure.lines)} lines):")
    out += [f"  {line}" for line in failure.lines]
    # The wire transcript is in the report's Details below (escaped there).
    if exploration.emitted is not None:
        path = exploration.emitted.path
        out += ["", f"Regression scenario: {path}", f"  replay: {replay_command} --suites {path}"]
    out += [f"  note: {note}" for note in exploration.notes]
    return "\n".join(out) + "\n\n"


def figures(exploration: Exploration) -> str:
    found = (
        f"; first failure after {exploration.found_after_s:.1f} s"
        if exploration.found_after_s is not None
        else ""
    )
    return (
        f"explore seed {exploration.seed}: {exploration.examples} examples (shrinking "
        f"included), {exploration.commands} commands in {exploration.search_s:.1f} s "
        f"({exploration.commands_per_s:.0f} commands/s){found}"
    )


def _replay_command(args: argparse.Namespace) -> str:
    """``pop3-conformance run`` with the target flags of this invocation (no secrets)."""
    words = ["pop3-conformance", "run"]
    for name in args.defect:
        words += ["--defect", name]
    if args.profile is not None:
        words += ["--profile", str(args.profile)]
    elif args.host:
        words += ["--host", args.host]
        if args.port:
            words += ["--port", str(args.port)]
        words += ["--account", "USER:PASS"]
        if args.provision != "none":
            words += ["--provision", args.provision]
    return shlex.join(words)


def _default_report_dir() -> Path:
    return Path("reports") / dt.datetime.now(dt.UTC).strftime("explore-%Y%m%d-%H%M%S")
