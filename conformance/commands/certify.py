"""``pop3-conformance certify``: a run with certification settings and a certificate.

All installed suites run (``--select`` narrows them, and the certificate says
so), without ``--strict`` (strict grading is reported apart from the
verdict), with the waivers of ``--waivers FILE`` applied.  The report folder
gets the usual run reports plus ``certification.json`` and
``certification.html`` (:mod:`conformance.report.certification`).

Exit codes: 0 CONFORMANT, 1 NOT CONFORMANT, 2 usage (a malformed waivers
file among them), 3 target unreachable, 4 nothing selected.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from conformance import __version__, arguments
from conformance.campaign import RunOptions, default_suite_dirs, run_campaign, select
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
    target_from,
    write_reports,
)
from conformance.preflight import PreflightError
from conformance.report.certification import (
    Certification,
    certify,
    suite_digest,
    write_certification,
)
from conformance.report.findings import count_line
from conformance.report.notes import run_notes
from conformance.results import ScenarioResult
from conformance.scenario.loader import load_all
from conformance.secrets import for_accounts, scrub_run
from conformance.target import secrets_of
from conformance.transport import ConnectError
from conformance.waivers import Waiver, WaiverError, apply_waivers, load_waivers

NAME = "certify"
HELP = "run every suite with waivers and write a certification report (exit 1: not conformant)"

REPORT_FILES = ["report.html", "results.json", "summary.md", "junit.xml"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--waivers",
        type=Path,
        metavar="FILE",
        help="TOML file of [[waiver]] tables (scenario or requirement, reason, expires)",
    )
    add_suite_options(
        parser, select_help="certify only a selection (recorded in the certificate as such)"
    )
    parser.add_argument("--report-dir", type=Path, help="default: reports/certify-<timestamp>/")
    parser.add_argument(
        "--jobs",
        type=arguments.positive_int,
        default=1,
        help="scenarios run at once (accounts permitting)",
    )
    add_defect_option(parser, "certify")
    add_preflight_option(parser)
    add_target_options(parser)


def _progress(result: ScenarioResult) -> None:
    print(f"  {result.outcome.value:<16} {result.id}", file=sys.stderr, flush=True)


def _read_waivers(path: Path | None) -> list[Waiver]:
    if path is None:
        return []
    try:
        return load_waivers(path)
    except WaiverError as exc:
        raise UsageError(str(exc)) from exc


def run(args: argparse.Namespace) -> int:
    # Read the waivers before anything runs: a typo must not cost a whole run.
    waivers = _read_waivers(args.waivers)
    roots = list(args.suites) or default_suite_dirs()
    scenarios, errors = load_all(roots)
    if errors:
        raise UsageError("\n".join(str(e) for e in errors))
    scenarios = select(scenarios, args.select, slow=args.slow)
    if not scenarios:
        print("nothing selected: no scenario matches", file=sys.stderr)
        return EXIT_NOTHING
    suite = suite_digest([Path(s.file) for s in scenarios], roots)
    report_dir = args.report_dir or Path("reports") / (
        "certify-" + dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    )
    with target_from(args) as target:
        print(
            f"pop3-conformance {__version__}: certifying {target.host}:{target.port} "
            f"with {len(scenarios)} scenarios",
            file=sys.stderr,
        )
        try:
            result = run_campaign(
                scenarios,
                target,
                RunOptions(
                    strict=False,
                    jobs=args.jobs,
                    selection=list(args.select),
                    preflight=not args.no_preflight,
                    suite_sha256=suite.sha256,
                ),
                progress=_progress,
            )
        except ConnectError as exc:
            print(f"target unreachable: {exc}", file=sys.stderr)
            return EXIT_UNREACHABLE
        except PreflightError as exc:
            print(f"pop3-conformance: {exc}", file=sys.stderr)
            return EXIT_USAGE
        secrets = for_accounts(target.accounts, secrets_of(target))
    # Scrubbed at the results boundary already; a certificate goes to third
    # parties, so the whole of it is walked once more.
    waived, uses = apply_waivers(scrub_run(result, secrets), waivers)
    cert = certify(waived, uses, suite, str(args.waivers) if args.waivers else None)
    cert.report_files = REPORT_FILES
    write_reports(waived, report_dir)
    write_certification(cert, report_dir)

    print(f"verdict: {cert.verdict} ({count_line(waived)})")
    for reason in cert.reasons:
        print(f"  {reason}")
    print(strictly_line(cert))
    for line in run_notes(waived):
        print(f"  {line}")
    for use in uses:
        if use.status != "applied":
            print(f"waiver {use.status}: {use.waiver.subject} ({use.waiver.where})")
    print(f"suite sha256: {suite.sha256}")
    print(f"certification written to {report_dir}/certification.html", file=sys.stderr)
    return EXIT_OK if cert.conformant else EXIT_FAIL


def strictly_line(cert: Certification) -> str:
    """The console's strict verdict, naming the SHOULDs that keep it from "yes"."""
    strictly = "yes" if cert.strictly_conformant else "no"
    if cert.non_strict:
        strictly += f" (a SHOULD is not met: {', '.join(cert.non_strict)})"
    return f"strictly conformant: {strictly}"
