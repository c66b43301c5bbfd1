"""Scenarios against mailboxes judged as they are (``--provision existing``).

How a scenario that declares a corpus is judged against an existing mailbox
(the rule lives here, once; suites/README.md says it in prose):

- ``mailbox: none`` runs as everywhere: it needs no known content.
- ``mailbox: standard`` and ``small`` need known messages, and most need
  nothing more: they run against the learned messages when the mailbox holds
  at least one, and at least as many as the highest message number the
  scenario names (``RETR 5`` needs five).  A scenario that relies on a shape
  of its corpus (``shapes:``, see :mod:`conformance.shapes`) runs only where
  the learned messages have that shape; the shapes only the corpus has keep
  it ``unsupported``.
- ``mailbox: empty`` runs only on a mailbox that is empty; ``mailbox: utf8``
  relies on the corpus's message with raw UTF-8 header fields and never runs.
- A destructive scenario (or one that delivers mail) runs only on an account
  declared disposable, with a deliverer to put back what it removed.

Every reason names the account, so that an empty mailbox shows as what limits
the run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conformance.drift import seeded_names
from conformance.messages import Message
from conformance.model import Maildrop
from conformance.provision import ExistingMail, ProvisionError
from conformance.runner import checks
from conformance.scenario.uses import delivers, highest_message
from conformance.shapes import unmet
from conformance.target import Target

if TYPE_CHECKING:
    from conformance.runner.run import ScenarioRun


def existing_of(target: Target) -> ExistingMail | None:
    provisioner = target.provisioner
    return provisioner if isinstance(provisioner, ExistingMail) else None


def changes_mail(run: ScenarioRun) -> str:
    """How the scenario may leave the mailbox changed ("" if it cannot)."""
    if run.scenario.destructive:
        return "removes mail (destructive)"
    if delivers(run.scenario):
        return "delivers mail"
    if run.profile.expire_zero:
        return "may remove what it reads (the server advertises EXPIRE 0)"
    return ""


def unfit_reason(run: ScenarioRun, existing: ExistingMail) -> str:
    """Why the scenario cannot be judged on the leased accounts as they are ("" if it can)."""
    s = run.scenario
    change = changes_mail(run)
    for account in run.accounts[: s.accounts]:
        if change:
            if existing.deliverer is None:
                return (
                    f"{change}, and --provision existing has no deliverer to put the mailbox "
                    "back (existing:lmtp:HOST:PORT, existing:smtp:..., existing:imap:...)"
                )
            if not account.disposable:
                return (
                    f"{change}, and account {account.user!r} is not declared disposable: "
                    "the mail is left alone"
                )
        if s.mailbox == "none":
            continue
        learned = existing.learned(account.user)
        if learned is None:
            return f"account {account.user!r}'s mailbox could not be learned"
        reason = _content_reason(run, account.user, learned)
        if reason:
            return reason
    return ""


def _content_reason(run: ScenarioRun, user: str, learned: list[Message]) -> str:
    s = run.scenario
    holds = f"account {user!r} holds {len(learned)} messages"
    if s.mailbox == "empty":
        return "" if not learned else f"needs an empty mailbox, and {holds}"
    if s.mailbox == "utf8":
        return (
            "relies on the utf8 corpus (a message with raw UTF-8 header fields), "
            "which an existing mailbox does not hold"
        )
    if not learned:
        return f"needs known messages, and the mailbox of account {user!r} is empty"
    named = highest_message(s)
    if named > len(learned):
        return f"names message {named}, and {holds}"
    missing = unmet(s.shapes, learned, named)
    if missing:
        return (
            "relies on "
            + "; ".join(m.meaning for m in missing)
            + f", and the {len(learned)} messages account {user!r} holds do not provide it"
        )
    return ""


def learn(run: ScenarioRun, existing: ExistingMail) -> None:
    """The model of each leased mailbox: the messages there now (learned again if they changed)."""
    from conformance.runner.run import Abort

    everything = []
    for index, account in enumerate(run.accounts[: run.scenario.accounts], start=1):
        try:
            messages = existing.current(account.user)
        except ProvisionError as exc:
            run.checks.append(
                checks.harness_error(
                    run.requirement,
                    "the mailbox is learned before the scenario",
                    str(exc),
                    run.scenario.file,
                )
            )
            raise Abort from exc
        run.mailboxes.maildrops[index] = Maildrop(messages, server_fields=True)
        everything += messages
    run.mailboxes.seeded = seeded_names(m.data for m in everything)


def put_back(run: ScenarioRun, existing: ExistingMail) -> None:
    """After a scenario that removed or added mail: the mailbox as it was learned."""
    if not changes_mail(run):
        return
    for index, account in enumerate(run.accounts[: run.scenario.accounts], start=1):
        try:
            existing.restore(account.user, run.mailboxes.delivered.get(index, []))
        except ProvisionError as exc:
            run.checks.append(
                checks.harness_error(
                    run.requirement,
                    "the mail the scenario removed is put back",
                    str(exc),
                    run.scenario.file,
                )
            )
