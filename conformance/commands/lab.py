"""``pop3-conformance lab``: the real POP3 servers of the lab, and runs against them.

``lab list`` shows each lab server and whether this machine can start it (and
why not).  ``lab run NAME`` starts a fresh instance in a temporary folder,
runs the suites against it with all four accounts disposable and provisioned
through the server's own tools (the ``exec`` provisioner with the instance's
seed and clear commands), writes the usual reports plus the server's own logs
(``server-logs/``), and stops the instance whatever happens.  ``--via lmtp``
or ``--via imap`` provisions through the mail system instead (the instance
opens its LMTP or IMAP listener on loopback; Dovecot has both, Cyrus LMTP):
the harness then never touches the server's files.

Exit codes of ``lab run`` are those of ``run``: 0 no fail or error, 1 a fail,
error or nondeterministic result (non-strict too under --strict) or a
regression against --baseline, 2 usage, 3 the server cannot be started here
or cannot be reached, 4 nothing selected; 130 after Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

from conformance import __version__, arguments
from conformance.campaign import RunOptions, default_suite_dirs, run_campaign, select
from conformance.cli_common import (
    EXIT_NOTHING,
    EXIT_OK,
    EXIT_UNREACHABLE,
    UsageError,
    add_suite_options,
    finish_run,
    interruptible,
    read_run,
)
from conformance.lab import LAB_SERVERS, LabError, LabInstance, LabServer
from conformance.provision import make_provisioner
from conformance.results import RunResult, ScenarioResult
from conformance.scenario.loader import load_all
from conformance.scenario.steps import Scenario
from conformance.secrets import Secrets, for_accounts
from conformance.target import Account, Target, secrets_of
from conformance.transport import ConnectError

NAME = "lab"
HELP = "list the real POP3 servers of the lab, or run the suites against one of them"

# Dovecot answers a login to a locked maildrop only after ~10 s, and Courier
# sleeps ~5 s after a failed login: the usual 10 s would cut both short.
DEFAULT_TIMEOUT = 20.0
# Seconds a lab server may take to start listening.
START_TIMEOUT = 30.0
EXIT_INTERRUPTED = 130  # as a shell reports a command ended by SIGINT


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="lab_command", required=True, metavar="{list,run}")
    sub.add_parser("list", help="each lab server, and whether this machine can start it")
    run = sub.add_parser(
        "run", help="start a fresh instance of a lab server and run the suites against it"
    )
    run.add_argument("server", metavar="NAME", help=f"one of: {', '.join(LAB_SERVERS)}")
    add_suite_options(run)
    run.add_argument("--report-dir", type=Path, help="default: reports/<timestamp>-NAME/")
    run.add_argument("--strict", action="store_true", help="non-strict results fail the run")
    run.add_argument(
        "--jobs", type=arguments.positive_int, default=1, help="scenarios run at once (up to 4)"
    )
    run.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="S",
        help=f"seconds to wait for each response (default {DEFAULT_TIMEOUT:g})",
    )
    run.add_argument(
        "--baseline",
        type=Path,
        metavar="RESULTS",
        help="a results.json of an earlier run: print the changes, exit 1 on a regression",
    )
    run.add_argument(
        "--via",
        choices=("exec", "lmtp", "imap"),
        default="exec",
        help="how mail gets in: the server's own tools (default), or through its LMTP or "
        "IMAP listener, with no file-system access",
    )
    run.add_argument("-v", "--verbose", action="store_true", help="transcripts of every scenario")


def run(args: argparse.Namespace) -> int:
    if args.lab_command == "list":
        print(render_listing(LAB_SERVERS.values()), end="")
        return EXIT_OK
    return run_lab(args)


def render_listing(servers: Iterable[LabServer]) -> str:
    """One line per server: name, whether it can start here, and why not."""
    lines = []
    for server in servers:
        ok, reason = server.available()
        lines.append(f"{server.name:<12} {'yes' if ok else 'no':<4} {reason}".rstrip())
    return "".join(line + "\n" for line in lines)


# The listeners each way in needs the instance to open.
VIA_LISTENERS: dict[str, tuple[str, ...]] = {
    "exec": (),
    "lmtp": ("lmtp",),
    "imap": ("imap",),
    "existing": (),
    "existing+lmtp": ("lmtp",),
}


def lab_target(instance: LabInstance, timeout: float, via: str = "exec") -> Target:
    """The harness's view of a running instance.

    ``exec``: every account disposable, provisioned with the instance's own
    seed and clear commands.  ``lmtp`` and ``imap``: the same accounts, all
    declared disposable, provisioned through the listener.  ``existing``: the
    mail as it is, read-only (no account disposable); ``existing+lmtp``: with
    the accounts disposable and LMTP to put back what scenarios remove.  The
    instance's APOP mailboxes are declared as such; where the server has TLS,
    its implicit-TLS port and the CA its certificate is verified with.
    """
    listeners = instance.listeners
    if via == "exec":
        provisioner = make_provisioner(
            "exec", seed_cmd=instance.seed_cmd(), clear_cmd=instance.clear_cmd()
        )
    elif via in ("lmtp", "imap"):
        provisioner = make_provisioner(f"{via}:{instance.host}:{listeners[via]}")
    elif via == "existing":
        provisioner = make_provisioner("existing")
    elif via == "existing+lmtp":
        provisioner = make_provisioner(f"existing:lmtp:{instance.host}:{listeners['lmtp']}")
    else:
        raise ValueError(f"unknown way in {via!r}; known: {', '.join(VIA_LISTENERS)}")
    disposable = via != "existing"
    return Target(
        host=instance.host,
        port=instance.port,
        accounts=[Account(user, password, disposable) for user, password in instance.accounts]
        + [Account(user, secret, disposable, apop=True) for user, secret in instance.apop_accounts],
        provisioner=provisioner,
        timeout=timeout,
        # Real storage rewrites mail (mbox quoting, added headers): content is
        # judged against what the server itself returned.
        calibrate=True,
        # Verified, never --tls-insecure: the lab's own CA issued the certificate.
        tls_port=instance.tls_port,
        tls_ca=None if instance.tls_ca is None else str(instance.tls_ca),
        tls_servername=instance.tls_servername,
    )


def judge(
    server: LabServer,
    scenarios: Sequence[Scenario],
    *,
    options: RunOptions | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    progress: Callable[[ScenarioResult], None] | None = None,
    logs_to: Path | None = None,
    on_start: Callable[[LabInstance], None] | None = None,
    via: str = "exec",
    listeners: Sequence[str] = (),
) -> RunResult:
    """Start a fresh instance of ``server``, run ``scenarios`` against it, stop it.

    ``options`` default to four scenarios at once.  ``via`` says how mail gets
    in (:func:`lab_target`); the instance opens the listeners it needs, and
    ``listeners`` more (``on_start`` may use them).  The server's own logs are
    copied to ``logs_to`` (also when the run fails).  Raises LabError when the
    server cannot start, ConnectError when it cannot be reached.  ``lab run``,
    the baselines and their tests all run a lab server through this.
    """
    wanted = tuple(dict.fromkeys((*VIA_LISTENERS[via], *listeners)))
    with _started(server, wanted) as instance:
        if on_start is not None:
            on_start(instance)
        target = lab_target(instance, timeout, via)
        try:
            return run_campaign(scenarios, target, options or RunOptions(jobs=4), progress=progress)
        finally:
            if logs_to is not None:
                _copy_logs(instance, logs_to, for_accounts(target.accounts, secrets_of(target)))


def run_lab(args: argparse.Namespace) -> int:
    server = LAB_SERVERS.get(args.server)
    if server is None:
        raise UsageError(f"unknown lab server {args.server!r}; known: {', '.join(LAB_SERVERS)}")
    if args.timeout <= 0:
        raise UsageError("--timeout must be a positive number of seconds")
    scenarios = _scenarios(args.suites or default_suite_dirs(), args.select, args.slow)
    if not scenarios:
        print("nothing selected: no scenario matches", file=sys.stderr)
        return EXIT_NOTHING
    # Read the baseline first: a bad path must not cost a whole run.
    baseline = read_run(args.baseline) if args.baseline is not None else None
    ok, reason = server.available(VIA_LISTENERS[args.via])
    if not ok:
        print(f"lab server {server.name} cannot start here: {reason}", file=sys.stderr)
        return EXIT_UNREACHABLE
    report_dir: Path = args.report_dir or _default_report_dir(server.name)

    def announce(instance: LabInstance) -> None:
        print(
            f"pop3-conformance {__version__}: {len(scenarios)} scenarios against "
            f"{server.name} at {instance.host}:{instance.port} "
            f"(started in {instance.start_seconds:.1f} s)",
            file=sys.stderr,
        )

    try:
        with interruptible():
            result = judge(
                server,
                scenarios,
                options=RunOptions(strict=args.strict, jobs=args.jobs, selection=args.select),
                timeout=args.timeout,
                progress=_progress_line,
                # The logs live in the instance's temporary folder: keep them
                # with the reports, where a failed login is first looked into.
                logs_to=report_dir / "server-logs",
                on_start=announce,
                via=args.via,
            )
    except ConnectError as exc:
        print(f"target unreachable: {exc}", file=sys.stderr)
        return EXIT_UNREACHABLE
    except LabError as exc:
        print(f"lab server {server.name}: {exc}", file=sys.stderr)
        return EXIT_UNREACHABLE
    except KeyboardInterrupt:
        print(f"interrupted; the {server.name} instance was stopped", file=sys.stderr)
        return EXIT_INTERRUPTED
    return finish_run(
        result, report_dir, verbose=args.verbose, baseline=baseline, baseline_path=args.baseline
    )


@contextlib.contextmanager
def _started(server: LabServer, listeners: Sequence[str] = ()) -> Iterator[LabInstance]:
    """A fresh instance in a temporary folder, stopped (and the folder removed) on the way out."""
    with tempfile.TemporaryDirectory(prefix=f"pop3lab-{server.name}-") as tmp:
        instance = server.start(Path(tmp) / server.name, timeout=START_TIMEOUT, listeners=listeners)
        try:
            yield instance
        finally:
            instance.stop()


def _scenarios(dirs: list[Path], patterns: list[str], slow: bool) -> list[Scenario]:
    scenarios, errors = load_all(list(dirs))
    if errors:
        raise UsageError("\n".join(str(e) for e in errors))
    return select(scenarios, patterns, slow=slow)


def _default_report_dir(server: str) -> Path:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    return Path("reports") / f"{stamp}-{server}"


def _copy_logs(instance: LabInstance, dest: Path, secrets: Secrets) -> None:
    """The server's logs, scrubbed of every secret (a server may log what it was sent)."""
    logs = instance.root / "log"
    # Best effort: a missing log must not hide the run's own outcome.
    with contextlib.suppress(OSError):
        if not logs.is_dir():
            return
        for path in sorted(p for p in logs.rglob("*") if p.is_file()):
            out = dest / path.relative_to(logs)
            out.parent.mkdir(parents=True, exist_ok=True)
            text = path.read_bytes().decode("utf-8", errors="surrogateescape")
            out.write_bytes(secrets.scrub(text).encode("utf-8", errors="surrogateescape"))


def _progress_line(result: ScenarioResult) -> None:
    print(f"  {result.outcome.value:<16} {result.id}", file=sys.stderr, flush=True)
