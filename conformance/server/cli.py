"""Command line of the reference server: ``python -m conformance.server``.

Once it listens it prints ``listening on HOST:PORT``, so that a parent process
(see :mod:`conformance.server.embedded`) learns the port it got; with
``--implicit-tls-port`` the line ``implicit TLS listening on HOST:PORT`` comes
just before it.  SIGTERM and SIGINT stop it cleanly (sessions end without UPDATE).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import ssl
import sys

from conformance.server import behaviours, defects
from conformance.server.app import Pop3Server
from conformance.server.channel import server_context
from conformance.server.config import DEFAULT_AUTOLOGOUT, USER_PLACEHOLDER, ServerConfig

log = logging.getLogger(__name__)

LISTENING = "listening on "
IMPLICIT_TLS_LISTENING = "implicit TLS listening on "


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=0, help="TCP port (default 0: any free port)")
    parser.add_argument(
        "--maildir",
        metavar="TEMPLATE",
        help=f"path of each account's maildir, containing {USER_PLACEHOLDER}",
    )
    parser.add_argument(
        "--account",
        action="append",
        default=[],
        metavar="USER:PASS",
        help="an account (repeatable); split at the first colon",
    )
    parser.add_argument(
        "--apop-account",
        action="append",
        default=[],
        metavar="USER:SECRET",
        help="an account reached with APOP only, not USER/PASS (RFC 1939 section 13)",
    )
    parser.add_argument(
        "--autologout",
        type=float,
        default=DEFAULT_AUTOLOGOUT,
        metavar="SECONDS",
        help="close a session after this long without a command (default %(default)s)",
    )
    parser.add_argument(
        "--login-delay",
        type=int,
        default=0,
        metavar="SECONDS",
        help="advertise LOGIN-DELAY SECONDS (RFC 2449 section 6.5) and refuse a login to a "
        "maildrop sooner than that after the last one",
    )
    parser.add_argument(
        "--login-delay-unenforced",
        action="store_true",
        help="advertise --login-delay but accept every login (a SHOULD broken)",
    )
    parser.add_argument(
        "--tls-cert",
        metavar="PEM",
        help="certificate chain (PEM): enables STLS (RFC 2595); needs --tls-key",
    )
    parser.add_argument("--tls-key", metavar="PEM", help="private key (PEM) of --tls-cert")
    parser.add_argument(
        "--implicit-tls-port",
        type=int,
        metavar="PORT",
        help="also listen here with TLS from the first octet (RFC 8314; 0: any free port)",
    )
    parser.add_argument(
        "--refuse-plaintext-auth",
        action="store_true",
        help="refuse every login (USER, APOP, AUTH) until TLS is active (RFC 2595 section 2.2)",
    )
    parser.add_argument(
        "--defect",
        action="append",
        default=[],
        metavar="NAME",
        help="inject a known fault, to show that the harness catches it (repeatable)",
    )
    parser.add_argument(
        "--behave",
        action="append",
        default=[],
        metavar="NAME",
        help="adopt a behaviour the RFCs permit (repeatable; --list-behaviours lists them)",
    )
    parser.add_argument(
        "--list-behaviours",
        action="store_true",
        help="list the permitted behaviours --behave can adopt, with the sentence permitting each",
    )
    parser.add_argument(
        "--list-defects",
        action="store_true",
        help="list the faults --defect can inject (name, requirement broken, summary) and exit",
    )
    parser.add_argument(
        "--log-level",
        default="WARNING",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="logging to stderr (passwords are never logged)",
    )


def _accounts(specs: list[str]) -> dict[str, str]:
    accounts: dict[str, str] = {}
    for spec in specs:
        user, colon, password = spec.partition(":")
        if not colon or not user:
            # Never echo the spec: it may hold a password.
            raise ValueError("--account takes USER:PASS")
        accounts[user] = password
    return accounts


def run(args: argparse.Namespace) -> int:
    if args.list_defects:
        print(defects.listing())
        return 0
    if args.list_behaviours:
        print(behaviours.listing())
        return 0
    odd = behaviours.unknown(args.behave)
    if odd:
        print(
            f"error: unknown behaviour {', '.join(odd)}; known:\n{behaviours.listing()}",
            file=sys.stderr,
        )
        return 2
    bad = defects.unknown(args.defect)
    if bad:
        print(
            f"error: unknown defect {', '.join(bad)}; known defects:\n{defects.listing()}",
            file=sys.stderr,
        )
        return 2
    if args.maildir is None:
        print("error: --maildir TEMPLATE is required", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=args.log_level, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s"
    )
    try:
        config = ServerConfig(
            maildir_template=args.maildir,
            accounts={**_accounts(args.account), **_accounts(args.apop_account)},
            apop_users=frozenset(_accounts(args.apop_account)),
            host=args.host,
            port=args.port,
            autologout=args.autologout,
            login_delay=args.login_delay,
            login_delay_enforced=not args.login_delay_unenforced,
            defects=frozenset(args.defect),
            behaviours=frozenset(args.behave),
            tls_cert=args.tls_cert,
            tls_key=args.tls_key,
            implicit_tls_port=args.implicit_tls_port,
            refuse_plaintext_auth=args.refuse_plaintext_auth,
        )
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if config.tls_cert is not None and config.tls_key is not None:
        try:  # a bad file is a usage error, not a listening failure
            server_context(config.tls_cert, config.tls_key)
        except (ssl.SSLError, OSError) as error:
            print(f"error: cannot use the TLS certificate or key: {error}", file=sys.stderr)
            return 2
    try:
        asyncio.run(_serve(config))
    except OSError as error:
        print(f"error: cannot listen on {config.host}:{config.port}: {error}", file=sys.stderr)
        return 1
    return 0


async def _serve(config: ServerConfig) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with Pop3Server(config) as server:
        implicit = server.implicit_tls_address
        if implicit is not None:
            print(f"{IMPLICIT_TLS_LISTENING}{implicit[0]}:{implicit[1]}", flush=True)
        host, port = server.address
        print(f"{LISTENING}{host}:{port}", flush=True)
        await stop.wait()
        log.info("stopping")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m conformance.server",
        description="The reference POP3 server of pop3-conformance "
        "(RFC 1939, 2449, 2595, 3206, 5034, 6856, 8314).",
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))
