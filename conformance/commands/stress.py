"""``pop3-conformance stress``: load on Locust, with the mailbox invariants checked.

The same target, account and provisioner flags as ``run``, plus the load's.
Every value is checked here, before anything starts (exit 2).  Locust
monkey-patches the standard library with gevent when it is imported, which
must happen before anything else is imported: so the command runs itself
again as ``python -m conformance.stress`` (same process, same arguments),
which patches first; nothing of Locust is imported by this module.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from conformance import arguments
from conformance.cli_common import UsageError, add_defect_option, add_target_options
from conformance.stress.options import DEFAULT_MASTER_PORT, TASKS, mix, options_from, run_time

NAME = "stress"
HELP = "many sessions at once (Locust), with the mailbox invariants checked under load"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    load = parser.add_argument_group("load (Locust's units)")
    load.add_argument(
        "--users", type=arguments.positive_int, default=10, metavar="N", help="users (default 10)"
    )
    load.add_argument(
        "--spawn-rate",
        type=arguments.per_second,
        metavar="R",
        help="users started per second (default: all of them within a second)",
    )
    load.add_argument(
        "--run-time",
        type=run_time,
        default=30.0,
        metavar="T",
        help="how long the load lasts: 90, 90s, 5m, 1h30m (default 30s)",
    )
    load.add_argument(
        "--mix",
        type=mix,
        metavar="TASK=W,...",
        help="task weights; the tasks (default weight): "
        + ", ".join(f"{name} ({w})" for name, (w, _) in TASKS.items()),
    )
    load.add_argument(
        "--lock-wait",
        type=arguments.seconds,
        default=30.0,
        metavar="S",
        help="how long a login may wait while its mailbox is in use (default 30)",
    )
    spread = parser.add_argument_group("processes and machines")
    spread.add_argument(
        "--workers",
        type=arguments.positive_int,
        metavar="N",
        help="a Locust master and N worker processes on this machine",
    )
    spread.add_argument(
        "--master", action="store_true", help="be the master of workers on other machines"
    )
    spread.add_argument(
        "--worker", action="store_true", help="be a worker of the --master at --master-host"
    )
    spread.add_argument(
        "--master-host", type=arguments.host, metavar="H", help="with --worker: the master's host"
    )
    spread.add_argument(
        "--master-port",
        type=arguments.port,
        default=DEFAULT_MASTER_PORT,
        metavar="P",
        help=f"the master's port (default {DEFAULT_MASTER_PORT})",
    )
    spread.add_argument(
        "--master-bind-host",
        default="*",
        metavar="H",
        help="the interface the master listens on (default: all)",
    )
    spread.add_argument(
        "--expect-workers",
        type=arguments.positive_int,
        metavar="N",
        help="with --master: start once N workers are connected (default 1)",
    )
    parser.add_argument("--report-dir", type=Path, help="default: reports/stress-<timestamp>/")
    parser.add_argument("-v", "--verbose", action="store_true", help="transcripts of every result")
    add_defect_option(parser, "stress")
    add_target_options(parser)


def _patched() -> bool:
    monkey = sys.modules.get("gevent.monkey")
    return monkey is not None and bool(monkey.is_module_patched("socket"))


def run(args: argparse.Namespace) -> int:
    options = options_from(args)
    if not _patched():
        argv = getattr(args, "argv", None)
        if argv is None or argv != sys.argv[1:]:
            # Called from inside another program (a test): replacing that
            # process, or patching it with gevent, is not ours to do.
            raise UsageError("stress runs as a command: pop3-conformance stress ...")
        # The same process, patched before anything else is imported.
        os.execv(sys.executable, [sys.executable, "-m", "conformance.stress", *argv[1:]])
    from conformance.stress.command import stress

    return stress(args, options)
