"""pop3-conformance: judge a POP3 server against RFC 1939 and its extensions,
requirement by requirement.

Exit codes: 0 no fail or error, 1 a fail, error or nondeterministic result
(or non-strict under --strict), 2 usage or configuration error, 3 target
unreachable, 4 nothing selected.  ``diff`` and ``run --baseline`` exit 1 on
a regression (a pass or waived result that became fail, error or
nondeterministic), else 0: with a baseline, fails the baseline already
records do not fail the run; 2 on a results file they cannot read.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import os
import pkgutil
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from conformance import __version__, arguments, commands
from conformance.campaign import (
    CampaignStopped,
    RunOptions,
    default_suite_dirs,
    run_campaign,
    select,
)
from conformance.cli_common import (
    EXIT_FAIL,
    EXIT_NOTHING,
    EXIT_OK,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
    UsageError,
    add_defect_option,
    add_preflight_option,
    add_suite_options,
    add_target_options,
    check_profile,
    ensure_writable,
    finish_run,
    interruptible,
    plural,
    read_run,
    target_from,
    unreachable_run,
    write_reports,
)
from conformance.preflight import PreflightError
from conformance.provision import ProvisionError
from conformance.report.diff import FORMATS, diff_runs, is_regression, render_diff
from conformance.report.journal import Journal
from conformance.report.progress import Progress
from conformance.scenario.digest import suite_digest
from conformance.scenario.loader import load_all
from conformance.scenario.steps import Scenario
from conformance.transport import ConnectError

__all__ = [
    "EXIT_FAIL",
    "EXIT_NOTHING",
    "EXIT_OK",
    "EXIT_UNREACHABLE",
    "EXIT_USAGE",
    "UsageError",
    "build_parser",
    "main",
    "target_from",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pop3-conformance",
        description="Judge a POP3 server against RFC 1939 and its extensions, requirement "
        "by requirement. Without --host, the embedded reference server is judged.",
        epilog="exit codes: 0 no fail or error; 1 a fail, error or nondeterministic result "
        "(or a regression against --baseline); 2 usage or configuration error; 3 the target "
        "is unreachable or stopped answering; 4 nothing selected; 130 interrupted",
    )
    parser.add_argument("--version", action="version", version=f"pop3-conformance {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the scenarios against a POP3 server")
    add_suite_options(run)
    run.add_argument("--list", action="store_true", help="list the selected cases, run nothing")
    run.add_argument("--report-dir", type=Path, help="default: reports/<timestamp>/")
    run.add_argument("--strict", action="store_true", help="non-strict results fail the run")
    run.add_argument(
        "--jobs",
        type=arguments.positive_int,
        default=1,
        help="scenarios run at once (accounts permitting)",
    )
    run.add_argument("-v", "--verbose", action="store_true", help="transcripts of every scenario")
    run.add_argument(
        "--baseline",
        type=Path,
        metavar="RESULTS",
        help="a results.json of an earlier run: print the changes, exit 1 on a regression",
    )
    run.add_argument(
        "--allow-removed",
        action="store_true",
        help="with --baseline: scenarios the baseline has and this run lacks are no regression",
    )
    add_defect_option(run, "run against")
    add_preflight_option(run)
    add_target_options(run)

    diff = sub.add_parser(
        "diff",
        help="compare two results.json files; exit 1 if a pass or waived result now fails",
    )
    diff.add_argument("base", type=Path, metavar="BASE.json")
    diff.add_argument("new", type=Path, metavar="NEW.json")
    diff.add_argument("--format", choices=FORMATS, default="text")
    diff.add_argument(
        "--allow-removed",
        action="store_true",
        help="scenarios of the baseline that the new run lacks are not a regression",
    )

    serve = sub.add_parser("serve", help="run the embedded reference POP3 server")
    from conformance.server import cli as server_cli

    server_cli.add_arguments(serve)
    for module in command_modules():
        module.add_arguments(sub.add_parser(module.NAME, help=module.HELP))
    return parser


def command_modules() -> list[ModuleType]:
    """The subcommands that live in ``conformance.commands``, one module each.

    Each module defines ``NAME``, ``HELP``, ``add_arguments(parser)`` and
    ``run(args) -> int``; a new subcommand is a new module, not an edit here.
    """
    found = []
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda i: i.name):
        if not info.name.startswith("_"):
            found.append(importlib.import_module(f"{commands.__name__}.{info.name}"))
    return found


def load_scenarios(dirs: Sequence[Path]) -> list[Scenario]:
    scenarios, errors = load_all(list(dirs))
    if errors:
        raise UsageError("\n".join(str(e) for e in errors))
    return scenarios


def default_report_dir() -> Path:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    return Path("reports") / stamp


def cmd_run(args: argparse.Namespace) -> int:
    dirs = args.suites or default_suite_dirs()
    scenarios = select(load_scenarios(dirs), args.select, slow=args.slow)
    if not scenarios:
        print("nothing selected: no scenario matches", file=sys.stderr)
        return EXIT_NOTHING
    if args.list:
        # The profile is read even here: a missing or broken one must not pass.
        check_profile(args)
        for s in scenarios:
            print(f"{s.id:<48} {','.join(s.requirements):<40} {s.title}")
        print(plural(len(scenarios), "scenario"))
        return EXIT_OK
    report_dir = args.report_dir or default_report_dir()
    # Both checked before anything runs: a bad baseline path or an unwritable
    # folder must not cost a whole run.
    baseline = read_run(args.baseline) if args.baseline is not None else None
    with target_from(args) as target, interruptible():
        ensure_writable(report_dir)
        print(
            f"pop3-conformance {__version__}: {plural(len(scenarios), 'scenario')} against "
            f"{target.host}:{target.port}",
            file=sys.stderr,
        )
        # A live status line on a terminal, one line per scenario in a CI log.
        progress = Progress(sys.stderr, strict=args.strict)
        progress.start(len(scenarios))
        journal = Journal(report_dir / "results.json")
        try:
            run = run_campaign(
                scenarios,
                target,
                RunOptions(
                    strict=args.strict,
                    jobs=args.jobs,
                    selection=args.select,
                    preflight=not args.no_preflight,
                    suite_sha256=suite_digest([Path(s.file) for s in scenarios], dirs).sha256,
                ),
                progress=progress.update,
                journal=journal.update,
            )
        except ConnectError as exc:
            progress.finish()
            print(f"target unreachable: {exc}", file=sys.stderr)
            # Reports all the same, for CI artifacts: no scenario, and why.
            write_reports(unreachable_run(target, f"target unreachable: {exc}"), report_dir)
            return EXIT_UNREACHABLE
        except PreflightError as exc:
            progress.finish()
            print(f"pop3-conformance: {exc}", file=sys.stderr)
            return EXIT_USAGE
        except CampaignStopped as stopped:
            progress.finish()
            judged = len(stopped.partial.scenarios)
            print(
                f"run stopped: {stopped} ({judged} of {plural(len(scenarios), 'scenario')} "
                "judged; their results are written)",
                file=sys.stderr,
            )
            finish_run(stopped.partial, report_dir, verbose=args.verbose)
            return stopped.exit_code
        finally:
            progress.finish()  # also on Ctrl-C: leave no half-drawn status line
    return finish_run(
        run,
        report_dir,
        verbose=args.verbose,
        baseline=baseline,
        baseline_path=args.baseline,
        allow_removed=args.allow_removed,
    )


def cmd_diff(args: argparse.Namespace) -> int:
    changes = diff_runs(read_run(args.base), read_run(args.new), allow_removed=args.allow_removed)
    print(render_diff(changes, args.format), end="")
    return EXIT_FAIL if is_regression(changes) else EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _main(argv)
    except BrokenPipeError:
        # The reader went away (`--list | head`): not an error of ours.  Point
        # stdout at /dev/null so that the interpreter's last flush is quiet.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK


def _main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return EXIT_USAGE if exc.code not in (0, None) else EXIT_OK
    # The words given, for a command that must run itself again (stress).
    args.argv = list(argv) if argv is not None else sys.argv[1:]
    try:
        if args.command == "serve":
            from conformance.server import cli as server_cli

            return server_cli.run(args)
        if args.command == "diff":
            return cmd_diff(args)
        if args.command == "run":
            return cmd_run(args)
        for module in command_modules():
            if args.command == module.NAME:
                result: int = module.run(args)
                return result
        raise UsageError(f"unknown command {args.command}")
    except UsageError as exc:
        print(f"pop3-conformance: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ProvisionError as exc:
        # Raised before any scenario ran: the provisioner's configuration
        # (a recipient the deliverer rejects, a mailbox it cannot read).
        print(f"pop3-conformance: provisioning: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
