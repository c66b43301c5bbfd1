"""What the shell knows of the mailboxes before the first session opens.

Three ways, chosen by ``--mailbox``:

- a corpus name (``standard``, ``small``, ...): the target's provisioner
  seeds it into the first two accounts, as a run does (a provisioned mailbox
  is disposable by definition); the default where a provisioner is available,
  so always for the embedded server;
- ``learn``: the harness reads each mailbox as it is, in read-only sessions
  (RETR every message, QUIT without a DELE, until two reads agree), the way
  calibration does; the default for a target without a provisioner;
- ``none``: nothing is known, and answers are judged by their grammar and
  the state machine alone.

The model follows the mailbox from then on: a QUIT that removes messages
removes them from the model too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from conformance.calibration import CalibrationError, learn
from conformance.messages import BENCHMARK_CORPORA, CORPORA, Message, corpus
from conformance.model import Maildrop
from conformance.probe import ServerProfile
from conformance.target import Target
from conformance.transcript import Transcript
from conformance.transport import ConnectError

LEARN, NONE = "learn", "none"
# The benchmark corpora (50 MB) are no mailbox to type commands at.
CHOICES = (*(c for c in CORPORA if c not in BENCHMARK_CORPORA), LEARN, NONE)
# Accounts a recording can name ({user} and {user2}): the ones the shell knows.
KNOWN_ACCOUNTS = 2


@dataclass
class Mailboxes:
    """The maildrop of each known account (1-based index), and how each came to be known."""

    mode: str
    maildrops: dict[int, Maildrop] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def seeded(self) -> str | None:
        """The corpus every known mailbox was seeded with (None: learned or unknown)."""
        return self.mode if self.mode in CORPORA else None


def default_mode(target: Target) -> str:
    return "standard" if target.provisioner.available else LEARN


def know_mailboxes(
    target: Target, profile: ServerProfile, mode: str, transcript: Transcript
) -> Mailboxes:
    """Seed or learn the first accounts' mailboxes, as ``mode`` says."""
    boxes = Mailboxes(mode)
    accounts = target.accounts[:KNOWN_ACCOUNTS]
    if mode == NONE:
        boxes.notes.append("mailboxes not known (--mailbox none): the model judges states only")
        return boxes
    for index, account in enumerate(accounts, start=1):
        if mode == LEARN:
            try:
                contents = learn(target, account, profile, transcript)
            except (CalibrationError, ConnectError) as exc:
                boxes.notes.append(f"mailbox of {account.user} not known: {exc}")
                continue
            messages = [Message(f"message {n}", data) for n, data in enumerate(contents, 1)]
            how = "learned read-only"
        else:
            messages = corpus(mode)
            target.provisioner.seed(account.user, messages)
            how = f"seeded with the {mode} corpus"
        boxes.maildrops[index] = Maildrop(messages)
        octets = sum(m.size for m in messages)
        boxes.notes.append(
            f"mailbox of {account.user}: {how}, {len(messages)} messages, {octets} octets"
        )
    return boxes
