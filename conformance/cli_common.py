"""What the subcommands share: exit codes, the target flags, and the reports a run writes.

Every subcommand module in ``conformance.commands`` builds on these, so a run,
a certification and an exploration describe their target with the same flags
and leave the same report files behind.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

from conformance.profile import load_profile
from conformance.provision import DeliveryOptions, make_provisioner
from conformance.provision.options import DEFAULT_WAIT, TLS_MODES
from conformance.report.console import render_console
from conformance.report.diff import diff_runs, is_regression, render_diff
from conformance.report.html import write_html
from conformance.report.json_report import read_results, write_results
from conformance.report.junit_report import write_junit
from conformance.report.summary import write_summary
from conformance.results import RunResult
from conformance.server.embedded import EmbeddedServer
from conformance.target import Account, Target, parse_account

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_NOTHING = 0, 1, 2, 3, 4


class UsageError(Exception):
    pass


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


def add_target_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("target (default: the embedded reference server)")
    g.add_argument("--host", help="server host")
    g.add_argument("--port", type=int, help="server port (default 110)")
    g.add_argument(
        "--account",
        action="append",
        default=[],
        metavar="USER:PASS",
        help="an account (repeatable); split at the first colon",
    )
    g.add_argument(
        "--apop-account",
        action="append",
        default=[],
        metavar="USER:SECRET",
        help="an account reached with APOP, not USER/PASS (repeatable)",
    )
    g.add_argument(
        "--disposable",
        action="append",
        default=[],
        metavar="USER",
        help="declare USER's mail disposable (destructive scenarios may run)",
    )
    g.add_argument(
        "--provision",
        default="none",
        metavar="SPEC",
        help="lmtp:HOST:PORT, lmtp:/SOCKET, smtp:HOST:PORT, imap:HOST:PORT, existing, "
        "existing:DELIVERER, maildir:DIR/{user}, mbox:PATH/{user}, exec, or none (default)",
    )
    g.add_argument("--seed-cmd", help="exec provisioner: command template with {user} and {file}")
    g.add_argument("--clear-cmd", help="exec provisioner: command template with {user}")
    g.add_argument(
        "--deliver-tls",
        choices=TLS_MODES,
        default="none",
        help="lmtp, smtp, imap: STARTTLS, or implicit TLS (smtp, imap); default none",
    )
    g.add_argument(
        "--deliver-auth",
        metavar="USER:PASS",
        help="smtp (or lmtp): SMTP AUTH credentials, split at the first colon",
    )
    g.add_argument(
        "--recipient",
        default="{user}",
        metavar="TEMPLATE",
        help="lmtp, smtp: an account's envelope recipient, e.g. '{user}@example.org' "
        "(default {user})",
    )
    g.add_argument("--deliver-from", metavar="ADDRESS", help="lmtp, smtp: the envelope sender")
    g.add_argument(
        "--deliver-wait",
        type=float,
        default=DEFAULT_WAIT,
        metavar="S",
        help=f"seconds a delivered message may take to show in POP3 (default {DEFAULT_WAIT:g})",
    )
    g.add_argument("--profile", type=Path, help="a TOML target profile instead of the flags")
    g.add_argument(
        "--timeout", type=float, default=None, help="seconds to wait for each response (default 10)"
    )
    g.add_argument("--tls-port", type=int, help="implicit-TLS port (RFC 8314), e.g. 995")
    g.add_argument("--tls-ca", help="CA bundle (PEM) to verify the server certificate")
    g.add_argument(
        "--tls-insecure",
        action="store_true",
        help="do not verify the server certificate (explicitly insecure; default: verify)",
    )
    g.add_argument("--tls-servername", help="name the certificate must carry (default: --host)")
    g.add_argument(
        "--calibrate",
        action="store_true",
        help="before each scenario, learn the seeded messages as the server returns them "
        "(for servers that rewrite stored mail: mbox quoting, added headers)",
    )


@contextlib.contextmanager
def target_from(args: argparse.Namespace) -> Iterator[Target]:
    """The target the flags describe, or a started embedded server.

    ``args`` needs: profile, host, port, account, disposable, provision,
    seed_cmd, clear_cmd, timeout (the pytest plugin builds the same names), and
    optionally defect (faults to inject into the embedded server).
    """
    injected: list[str] = getattr(args, "defect", None) or []
    if injected and (args.profile is not None or args.host):
        raise UsageError("--defect applies to the embedded server only (not with --host/--profile)")
    if args.profile is not None:
        try:
            target = load_profile(args.profile)
        except (OSError, ValueError) as exc:
            raise UsageError(str(exc)) from exc
        if args.timeout is not None:
            target.timeout = args.timeout
        if getattr(args, "calibrate", False):
            target.calibrate = True
        yield target
        return
    if args.host:
        try:
            provisioner = make_provisioner(
                args.provision,
                seed_cmd=args.seed_cmd,
                clear_cmd=args.clear_cmd,
                delivery=delivery_options(args),
            )
            disposable = set(args.disposable)
            accounts = []
            for spec in args.account:
                account = parse_account(spec)
                accounts.append(Account(account.user, account.password, account.user in disposable))
            for spec in getattr(args, "apop_account", None) or []:
                account = parse_account(spec)
                accounts.append(
                    Account(account.user, account.password, account.user in disposable, True)
                )
        except ValueError as exc:
            raise UsageError(str(exc)) from exc
        if not accounts:
            raise UsageError("--host needs at least one --account USER:PASS")
        yield Target(
            host=args.host,
            port=args.port or 110,
            accounts=accounts,
            provisioner=provisioner,
            timeout=args.timeout or 10.0,
            calibrate=bool(getattr(args, "calibrate", False)),
            tls_port=getattr(args, "tls_port", None),
            tls_ca=getattr(args, "tls_ca", None),
            tls_insecure=bool(getattr(args, "tls_insecure", False)),
            tls_servername=getattr(args, "tls_servername", None),
        )
        return
    from conformance.server import defects

    bad = defects.unknown(injected)
    if bad:
        raise UsageError(f"unknown defect {', '.join(bad)}; known:\n{defects.listing()}")
    # With TLS (STLS and an implicit-TLS port, certificates made for this
    # run), so that every suite has a conforming target.
    with EmbeddedServer(
        extra_args=[a for name in injected for a in ("--defect", name)], tls=True
    ) as server:
        yield embedded_target(server, args.timeout or 10.0)


def delivery_options(args: argparse.Namespace) -> DeliveryOptions:
    """The deliverer's settings from the flags (the pytest plugin has none: the defaults)."""
    auth_user = auth_password = None
    spec = getattr(args, "deliver_auth", None)
    if spec:
        account = parse_account(spec)
        auth_user, auth_password = account.user, account.password
    sender = getattr(args, "deliver_from", None)
    return DeliveryOptions(
        tls=getattr(args, "deliver_tls", None) or "none",
        tls_ca=getattr(args, "tls_ca", None),
        tls_insecure=bool(getattr(args, "tls_insecure", False)),
        recipient=getattr(args, "recipient", None) or "{user}",
        sender=sender or DeliveryOptions.sender,
        auth_user=auth_user,
        auth_password=auth_password,
        wait=getattr(args, "deliver_wait", None) or DEFAULT_WAIT,
    )


def embedded_target(server: EmbeddedServer, timeout: float) -> Target:
    """The Target of a running embedded server: its accounts disposable, its CA trusted."""
    return Target(
        host=server.host,
        port=server.port,
        accounts=[Account(a.user, a.password, True, a.apop) for a in server.accounts],
        provisioner=make_provisioner(f"maildir:{server.maildir_template}"),
        timeout=timeout,
        tls_port=server.tls_port,
        tls_ca=str(server.ca_pem) if server.ca_pem is not None else None,
        tls_servername=server.server_hostname if server.tls else None,
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
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        # ValueError covers bad JSON, bad UTF-8, an unknown schema or outcome;
        # the others a document of the wrong shape.
        raise UsageError(f"cannot read results file {path}: {exc!r}") from exc


def finish_run(
    run: RunResult,
    report_dir: Path,
    *,
    verbose: bool,
    baseline: RunResult | None = None,
    baseline_path: Path | None = None,
) -> int:
    """Write the reports, print the results (and the changes from a baseline); the exit code."""
    write_reports(run, report_dir)
    print(render_console(run, verbose=verbose, color=sys.stdout.isatty()))
    print(f"reports written to {report_dir}/", file=sys.stderr)
    if baseline is not None:
        # Against a baseline, a regression decides: a real server has known
        # fails, and CI must fail only when something that worked breaks.
        changes = diff_runs(baseline, run)
        print(f"against baseline {baseline_path}:")
        print(render_diff(changes, "text"), end="")
        return EXIT_FAIL if is_regression(changes) else EXIT_OK
    return EXIT_FAIL if run.failed() else EXIT_OK
