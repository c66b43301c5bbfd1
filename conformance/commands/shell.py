"""``pop3-conformance shell``: a telnet-like session that judges every answer as you type.

Same target flags as ``run`` (or ``--defect`` for the embedded server).  It
reads the greeting and CAPA once, learns or seeds the first two accounts'
mailboxes (``--mailbox``), opens session A and then sends each line typed
as a command, printing the answer and the harness's judgement of it.
``--record FILE.pop3`` writes the session as a scenario file.

Exit codes: 0 every answer was right, 1 one was wrong, 2 a usage error (or,
non-interactively, a line the shell could not carry out), 3 the target is
unreachable.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from conformance.cli_common import (
    EXIT_UNREACHABLE,
    UsageError,
    add_defect_option,
    add_target_options,
    target_from,
)
from conformance.messages import CORPORA
from conformance.probe import ServerProfile, probe_target
from conformance.secrets import for_accounts
from conformance.shell.app import Shell
from conformance.shell.credentials import Placeholders
from conformance.shell.editor import ScriptInput, TerminalInput
from conformance.shell.mailbox import CHOICES, Mailboxes, default_mode, know_mailboxes
from conformance.shell.recorder import Recorder
from conformance.shell.render import Renderer
from conformance.shell.sessions import Sessions
from conformance.target import Target, secrets_of
from conformance.transcript import Transcript
from conformance.transport import ConnectError

NAME = "shell"
HELP = "a telnet-like POP3 session that judges every answer as you type (and records it)"


RECORD_HELP = "write the session as a scenario file that 'run --suites FILE' replays"
MAILBOX_HELP = (
    "seed this corpus into the first two accounts (default with a provisioner: standard), "
    "'learn' them read-only (default otherwise), or 'none'"
)
HISTORY_HELP = "keep the line history in FILE (a line with a secret is never kept)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--record", type=Path, metavar="FILE.pop3", help=RECORD_HELP)
    parser.add_argument("--mailbox", choices=CHOICES, help=MAILBOX_HELP)
    parser.add_argument("--history", type=Path, metavar="FILE", help=HISTORY_HELP)
    add_defect_option(parser, "a shell on")
    add_target_options(parser)


def run(args: argparse.Namespace) -> int:
    embedded = args.host is None and args.profile is None
    with target_from(args) as target:
        mode = args.mailbox or default_mode(target)
        if mode in CORPORA and not target.provisioner.available:
            raise UsageError(f"--mailbox {mode} needs --provision: {target.provisioner.reason}")
        try:
            profile = probe_target(target)
        except ConnectError as exc:
            print(f"target unreachable: {exc}", file=sys.stderr)
            return EXIT_UNREACHABLE
        secrets = for_accounts(target.accounts, secrets_of(target))
        transcript = Transcript(secrets)
        mailboxes = know_mailboxes(target, profile, mode, transcript)
        sessions = Sessions(target, profile, mailboxes, transcript)
        color = sys.stdout.isatty() and "NO_COLOR" not in os.environ
        render = Renderer(color=color, secrets=secrets)
        described = "the embedded reference server" if embedded else f"{target.host}:{target.port}"
        recorder = None
        if args.record is not None:
            placeholders = Placeholders(target.accounts)
            recorder = Recorder(args.record, placeholders, described, mailboxes.seeded)
        # Line editing needs a terminal on both sides; otherwise lines are read as they come.
        if sys.stdin.isatty() and sys.stdout.isatty():
            source: TerminalInput | ScriptInput = TerminalInput(
                lambda: sessions.get().state if sessions.current else None,
                lambda: list(sessions.by_name),
                args.history,
            )
        else:
            source = ScriptInput()
        shell = Shell(sessions, render, target.accounts, recorder, source.interactive)
        _introduce(render, target, described, profile, mailboxes, args.defect)
        try:
            shell.open("A", "shell:0")
        except ConnectError as exc:
            print(f"target unreachable: {exc}", file=sys.stderr)
            return EXIT_UNREACHABLE
        while (line := source.read(shell.prompt())) is not None:
            if not shell.handle(line):
                break
        return shell.finish()


def _introduce(
    render: Renderer,
    target: Target,
    described: str,
    profile: ServerProfile,
    mailboxes: Mailboxes,
    defects: list[str],
) -> None:
    injected = f" with {', '.join(defects)} injected" if defects else ""
    where = (
        f" at {target.host}:{target.port}" if described != f"{target.host}:{target.port}" else ""
    )
    render.note(f"pop3-conformance shell: {described}{where}{injected}")
    names = [("{user}", "{password}"), ("{user2}", "{password2}")]
    known = [f"{a.user} as {u} {p}" for a, (u, p) in zip(target.accounts, names, strict=False)]
    render.note("accounts: " + ", ".join(known))
    capa = " ".join(sorted(profile.capabilities)) if profile.has_capa else "no CAPA"
    render.note(f"server: {profile.greeting} [{capa}]")
    for note in mailboxes.notes:
        render.note(note)
    render.note("type POP3 commands; ':help' lists the meta-commands and the commands by state")
