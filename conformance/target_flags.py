"""The target's command-line options, defined once for every subcommand and the
pytest plugin, and the Target they describe.

Each option is a row of :data:`TARGET_OPTIONS`; :func:`add_target_options`
adds them to an argparse parser and :func:`add_plugin_options` to pytest's,
with a ``pop3-`` prefix.  A flag given beside ``--profile`` overrides the
profile's value, and the run says so on stderr (docs/profiles.md).

Passwords need not be on the command line, where ``ps`` shows them:
``--account USER`` asks for the password on a terminal, ``--account-file``
reads ``USER:PASS`` lines, and a profile may name an environment variable.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from conformance import arguments
from conformance.exits import UsageError as UsageError
from conformance.pop3 import Limits
from conformance.profile import load_profile
from conformance.provision import DeliveryOptions, make_provisioner
from conformance.provision.options import DEFAULT_WAIT, TLS_MODES
from conformance.target import Account, Target, parse_account
from conformance.target_accounts import accounts_from_flags


@dataclass(frozen=True)
class Option:
    flag: str  # "--host"
    help: str
    type: Callable[[str], Any] | None = None
    action: str | None = None
    metavar: str | None = None
    # A list for repeatable options; None means "not given".
    repeatable: bool = False
    default: Any = None

    @property
    def dest(self) -> str:
        return self.flag.removeprefix("--").replace("-", "_")

    def kwargs(self) -> dict[str, Any]:
        out: dict[str, Any] = {"help": self.help}
        if self.action:
            out["action"] = self.action
        elif self.repeatable:
            out["action"] = "append"
        if self.repeatable:
            out["default"] = []
        elif self.action != "store_true":
            out["default"] = self.default
        if self.type is not None:
            out["type"] = self.type
        if self.metavar:
            out["metavar"] = self.metavar
        return out


def _choice(choices: Sequence[str]) -> Callable[[str], str]:
    def check(text: str) -> str:
        if text not in choices:
            raise argparse.ArgumentTypeError(f"{text!r}: one of {', '.join(choices)}")
        return text

    return check


TARGET_OPTIONS: tuple[Option, ...] = (
    Option("--host", "server host (default: the embedded reference server)", arguments.host),
    Option("--port", "server port (default 110)", arguments.port),
    Option(
        "--account",
        "an account, USER:PASS split at the first colon, or USER alone to be asked for "
        "the password on a terminal (repeatable)",
        metavar="USER[:PASS]",
        repeatable=True,
    ),
    Option(
        "--apop-account",
        "an account reached with APOP, not USER/PASS (repeatable)",
        metavar="USER[:SECRET]",
        repeatable=True,
    ),
    Option(
        "--account-file",
        "accounts from a file: one USER:PASS per line ('apop USER:SECRET' for APOP; "
        "# starts a comment), so that no password is on the command line",
        Path,
        metavar="FILE",
    ),
    Option(
        "--disposable",
        "declare USER's mail disposable (destructive scenarios may run) (repeatable)",
        metavar="USER",
        repeatable=True,
    ),
    Option(
        "--provision",
        "lmtp:HOST:PORT, lmtp:/SOCKET, smtp:HOST:PORT, imap:HOST:PORT, existing, "
        "existing:DELIVERER, maildir:DIR/{user}, mbox:PATH/{user}, exec, or none (default)",
        metavar="SPEC",
    ),
    Option("--seed-cmd", "exec provisioner: command template with {user} and {file}"),
    Option("--clear-cmd", "exec provisioner: command template with {user}"),
    Option(
        "--deliver-tls",
        "lmtp, smtp, imap: STARTTLS, or implicit TLS (smtp, imap); default none",
        _choice(TLS_MODES),
        metavar="|".join(TLS_MODES),
    ),
    Option(
        "--deliver-auth",
        "smtp (or lmtp): SMTP AUTH credentials, split at the first colon",
        metavar="USER:PASS",
    ),
    Option(
        "--recipient",
        "lmtp, smtp: an account's envelope recipient, e.g. '{user}@example.org' (default {user})",
        metavar="TEMPLATE",
    ),
    Option("--deliver-from", "lmtp, smtp: the envelope sender", metavar="ADDRESS"),
    Option(
        "--deliver-wait",
        f"seconds a delivered message may take to show in POP3 (default {DEFAULT_WAIT:g})",
        arguments.seconds,
        metavar="S",
    ),
    Option("--profile", "a TOML target profile (docs/profiles.md); flags override it", Path),
    Option("--timeout", "seconds to wait for each response (default 10)", arguments.seconds),
    Option(
        "--max-line",
        "longest line read from the server (default 1M); longer is a finding",
        arguments.octets,
        metavar="OCTETS",
    ),
    Option(
        "--max-response",
        "longest multi-line answer read (default 256M); longer is a finding",
        arguments.octets,
        metavar="OCTETS",
    ),
    Option("--tls-port", "implicit-TLS port (RFC 8314), e.g. 995", arguments.port),
    Option("--tls-ca", "CA bundle (PEM) to verify the server certificate"),
    Option(
        "--tls-insecure",
        "do not verify the server certificate (explicitly insecure; default: verify)",
        action="store_true",
    ),
    Option("--tls-servername", "name the certificate must carry (default: --host)"),
    Option(
        "--calibrate",
        "before each scenario, learn the seeded messages as the server returns them "
        "(for servers that rewrite stored mail: mbox quoting, added headers)",
        action="store_true",
    ),
)


def add_target_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("target (default: the embedded reference server)")
    for option in TARGET_OPTIONS:
        g.add_argument(option.flag, **option.kwargs())


def add_plugin_options(group: Any) -> None:
    """The same options for pytest (``--pop3-host`` ...); ``group`` is a pytest OptionGroup."""
    for option in TARGET_OPTIONS:
        kwargs = option.kwargs()
        kwargs["dest"] = "pop3_" + option.dest
        group.addoption("--pop3-" + option.flag.removeprefix("--"), **kwargs)


def namespace_from_plugin(getoption: Callable[[str], Any]) -> argparse.Namespace:
    """The argparse Namespace ``target_from`` reads, from pytest's options."""
    return argparse.Namespace(**{o.dest: getoption("pop3_" + o.dest) for o in TARGET_OPTIONS})


# -- the target ----------------------------------------------------------------------


def delivery_options(args: argparse.Namespace) -> DeliveryOptions:
    """The deliverer's settings from the flags (their defaults where not given)."""
    auth_user = auth_password = None
    spec = getattr(args, "deliver_auth", None)
    if spec:
        try:
            account = parse_account(spec)
        except ValueError as exc:
            raise UsageError(f"--deliver-auth: {exc}") from exc
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


def _provisioner(args: argparse.Namespace, spec: str) -> Any:
    try:
        return make_provisioner(
            spec,
            seed_cmd=args.seed_cmd,
            clear_cmd=args.clear_cmd,
            delivery=delivery_options(args),
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from exc


def _limits(args: argparse.Namespace, base: Limits) -> Limits:
    line = getattr(args, "max_line", None)
    response = getattr(args, "max_response", None)
    return replace(
        base,
        max_line=line if line is not None else base.max_line,
        max_response=response if response is not None else base.max_response,
    )


def _overrides(args: argparse.Namespace, target: Target, say: Callable[[str], None]) -> Target:
    """Flags given beside a profile win over it; each one is said on stderr."""
    changes: dict[str, Any] = {}
    for dest in ("host", "port", "timeout", "tls_port", "tls_ca", "tls_servername"):
        value = getattr(args, dest, None)
        if value is not None:
            changes[dest] = value
    for dest in ("calibrate", "tls_insecure"):
        if getattr(args, dest, False):
            changes[dest] = True
    provision = getattr(args, "provision", None)
    if provision is not None:
        changes["provisioner"] = _provisioner(args, provision)
    accounts = accounts_from_flags(args)
    if accounts:
        changes["accounts"] = accounts
    for dest, value in changes.items():
        shown = f"{len(value)} account(s)" if dest == "accounts" else value
        if dest == "provisioner":
            shown = provision
        say(f"--{dest.replace('_', '-')} overrides the profile: {shown}")
    return replace(target, **changes)


def check_profile(args: argparse.Namespace) -> None:
    """Read and validate ``--profile`` without starting anything (UsageError if bad)."""
    if getattr(args, "profile", None) is None:
        return
    try:
        load_profile(args.profile)
    except (OSError, ValueError) as exc:
        raise UsageError(str(exc)) from exc


@contextlib.contextmanager
def target_from(
    args: argparse.Namespace, say: Callable[[str], None] | None = None
) -> Iterator[Target]:
    """The target the flags describe (over a profile, if one is given), or a started
    embedded server.  ``args`` has the dests of TARGET_OPTIONS, and optionally
    ``defect`` (faults to inject into the embedded server)."""
    tell = say or (lambda text: print(f"pop3-conformance: {text}", file=sys.stderr))
    injected: list[str] = getattr(args, "defect", None) or []
    adopted: list[str] = getattr(args, "behave", None) or []
    if (injected or adopted) and (args.profile is not None or args.host):
        raise UsageError(
            "--defect and --behave apply to the embedded server only (not with --host/--profile)"
        )
    if args.profile is not None:
        try:
            target = load_profile(args.profile)
        except (OSError, ValueError) as exc:
            raise UsageError(str(exc)) from exc
        target = _overrides(args, target, tell)
        target.limits = _limits(args, target.limits)
        yield target
        return
    if args.host is not None:
        provisioner = _provisioner(args, args.provision or "none")
        accounts = accounts_from_flags(args)
        if not accounts:
            raise UsageError("--host needs at least one --account USER:PASS (or --account-file)")
        target = Target(
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
        target.limits = _limits(args, target.limits)
        yield target
        return
    given = [o.flag for o in _EMBEDDED_REFUSES if getattr(args, o.dest, None)]
    if given:
        raise UsageError(f"{', '.join(given)} need --host or --profile (a server to judge)")
    yield from _embedded(args, injected, adopted)


# Options that only make sense with a server named by --host or --profile.
_EMBEDDED_REFUSES = tuple(
    o
    for o in TARGET_OPTIONS
    if o.flag
    in ("--port", "--account", "--apop-account", "--account-file", "--provision", "--tls-port")
)


def _embedded(
    args: argparse.Namespace, injected: Sequence[str], adopted: Sequence[str]
) -> Iterator[Target]:
    from conformance.server import behaviours, defects
    from conformance.server.embedded import EmbeddedServer

    bad = defects.unknown(list(injected))
    if bad:
        raise UsageError(f"unknown defect {', '.join(bad)}; known:\n{defects.listing()}")
    odd = behaviours.unknown(list(adopted))
    if odd:
        raise UsageError(f"unknown behaviour {', '.join(odd)}; known:\n{behaviours.listing()}")
    extra = [a for name in injected for a in ("--defect", name)]
    extra += [a for name in adopted for a in ("--behave", name)]
    # With TLS (STLS and an implicit-TLS port, certificates made for this
    # run), so that every suite has a conforming target.
    with EmbeddedServer(extra_args=extra, tls=True) as server:
        target = embedded_target(server, args.timeout or 10.0)
        target.limits = _limits(args, target.limits)
        yield target


def embedded_target(server: Any, timeout: float) -> Target:
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
