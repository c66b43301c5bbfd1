"""What limited a run, in one line each: every report shows the same lines.

"Unsupported because the server lacks a feature" and "not run because the
harness was not told how" are different things to a reader: the second comes
with the flag that would let the scenarios run.  Run-level notes (what the
account pool allowed, what the preflight saw) follow.
"""

from __future__ import annotations

from conformance.outcomes import Outcome
from conformance.results import RunResult

# The flag that lets a scenario run, and how to say it.
SETUP_FIXES: dict[str, str] = {
    "--provision": "give a provisioner (--provision: lmtp, smtp, imap, maildir, mbox, exec)",
    "--tls-port": "declare the implicit-TLS port (--tls-port)",
    "--apop-account": "declare an APOP account (--apop-account USER:SECRET)",
    "--account": "give more accounts (--account)",
    "--disposable": "declare the accounts disposable (--disposable USER)",
    # --provision existing: what the accounts hold is what limits the run.
    "mailbox": "put more mail, of more shapes, into the accounts (existing judges what is there)",
}


def _count(n: int) -> str:
    return f"{n} scenario" if n == 1 else f"{n} scenarios"


def run_notes(run: RunResult) -> list[str]:
    """The lines that say what limited ``run`` (empty when nothing did)."""
    lines = []
    for flag, n in run.setup_limits():
        fix = SETUP_FIXES.get(flag, flag)
        lines.append(f"{_count(n)} not run because of the setup: {fix} to run them")
    by_server = sum(1 for s in run.scenarios if s.outcome is Outcome.UNSUPPORTED and not s.setup)
    if by_server:
        lines.append(
            f"{_count(by_server)} unsupported because the server does not offer what they need"
        )
    return lines + list(run.notes)
