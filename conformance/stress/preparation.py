"""Before the load: what the server offers, how each account logs in, whether the
server locks a maildrop, and what each mailbox holds.

The result is :class:`Facts`, plain data that a master sends to its workers,
and the first :class:`~conformance.stress.reading.Reading` of every mailbox,
the ledger's starting point.  Mailboxes are seeded with marked messages
where the target has a provisioner; otherwise their content is learned.
"""

from __future__ import annotations

import dataclasses
import secrets as random_source
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from conformance.login import LoginError, login_lines, send_login
from conformance.mailbox_access import prepare_target
from conformance.probe import ServerProfile
from conformance.provision import ProvisionError
from conformance.secrets import Secrets
from conformance.stress import marked
from conformance.stress.options import DELIVERING, MARKING, StressOptions
from conformance.stress.reading import Reader, ReadError, Reading
from conformance.target import Account, Target
from conformance.target_flags import UsageError
from conformance.transcript import Transcript
from conformance.transport import ConnectError, Session

# Seconds the second login of the lock probe may take: a server that makes it
# wait for the lock (Dovecot waits about 12 s) locks exclusively.
PROBE_WAIT = 2.0
# Messages per mailbox: seeded at the start, and about what deliveries keep.
MAILBOX_SIZE = 6


class NothingToRun(Exception):
    """Every task of the mix is left out (each for the reason given): exit 4."""


@dataclass
class Facts:
    """What every process of a run must agree on (sent from the master to workers)."""

    run_id: str
    policy: str  # "exclusive": one session per maildrop; "shared": each has its own view
    methods: dict[str, list[str]]  # user -> the login methods that work
    disposable: list[str]  # users whose mail the run may remove and add to
    top: bool
    uidl: bool
    can_deliver: bool
    mix: dict[str, int]  # the weights that run (a task that cannot run has 0)
    skipped: dict[str, str] = field(default_factory=dict)  # task -> why it does not run
    lock_wait: float = 30.0
    mailbox_size: int = MAILBOX_SIZE
    greeting: str = ""
    started_wall: float = 0.0  # time.time() when the load started (set by the master)
    t0: float = 0.0  # this process's time.monotonic() at started_wall (never sent)

    def to_wire(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        del data["t0"]
        return data

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> Facts:
        facts = cls(**data)
        facts.start_at(facts.started_wall)
        return facts

    def start_at(self, wall: float) -> None:
        """The load started at ``wall`` (time.time()); times count from there."""
        self.started_wall = wall
        self.t0 = time.monotonic() - (time.time() - wall)


@dataclass
class Prepared:
    facts: Facts
    profile: ServerProfile
    readings: dict[str, Reading]  # user -> the mailbox as the load starts


def prepare(
    target: Target,
    options: StressOptions,
    secrets: Secrets,
    say: Callable[[str], None],
) -> Prepared:
    """Probe, learn the logins and the lock policy, seed or read every mailbox.

    ConnectError when the target cannot be reached; UsageError when no account
    can log in or seeding fails; NothingToRun when the mix has nothing left.
    """
    try:
        # Probe, then let a provisioner that goes through the mail system find its way in.
        profile = prepare_target(target)
    except ProvisionError as exc:
        raise UsageError(f"the provisioner cannot be used: {exc}") from exc
    top = profile.advertises("TOP") or not profile.has_capa
    uidl = profile.advertises("UIDL") or not profile.has_capa
    reader = Reader(target, profile, secrets, top, uidl, options.lock_wait)
    methods = {a.user: _working_methods(reader, a, profile, say) for a in target.accounts}
    usable = [a for a in target.accounts if methods[a.user]]
    if not usable:
        raise UsageError("no account could log in by any method the server offers")
    disposable = [a.user for a in usable if target.is_disposable(a)]
    provisioner = target.provisioner
    can_deliver = bool(disposable) and _delivers(provisioner)
    mix, skipped = _effective_mix(options.mix, bool(disposable), can_deliver)
    run_id = random_source.token_hex(4)
    facts = Facts(
        run_id=run_id,
        policy="exclusive",
        methods={a.user: methods[a.user] for a in usable},
        disposable=disposable,
        top=top,
        uidl=uidl,
        can_deliver=can_deliver,
        mix=mix,
        skipped=skipped,
        lock_wait=options.lock_wait,
        greeting=profile.greeting,
    )
    # "existing" learns the mail that is there instead (the first readings below).
    if provisioner.available and provisioner.kind != "existing":
        for user in disposable:
            say(f"seeding {user}'s mailbox with {MAILBOX_SIZE} marked messages")
            seed = [marked.message(run_id, user, f"seed{i}") for i in range(MAILBOX_SIZE)]
            try:
                provisioner.seed(user, seed)
            except ProvisionError as exc:
                raise UsageError(f"cannot seed {user}'s mailbox: {exc}") from exc
    facts.policy = lock_policy(reader, usable[0], methods[usable[0].user][0])
    readings = {}
    for account in usable:
        try:
            reading = reader.read(account, methods[account.user][0], label="R")
        except ReadError as exc:
            raise ConnectError(f"cannot read {account.user}'s mailbox: {exc}") from exc
        readings[account.user] = reading
        facts.top = facts.top and reading.top
    return Prepared(facts, profile, readings)


def _delivers(provisioner: object) -> bool:
    """Whether the provisioner can add one message (``deliver``) to a mailbox."""
    return callable(getattr(provisioner, "deliver", None)) and bool(
        getattr(provisioner, "can_deliver", True)
    )


def _effective_mix(
    mix: dict[str, int], disposable: bool, can_deliver: bool
) -> tuple[dict[str, int], dict[str, str]]:
    effective = dict(mix)
    skipped: dict[str, str] = {}
    for task, weight in mix.items():
        why = ""
        if task in MARKING and not disposable:
            why = "no account is disposable (give --disposable USER, or a provisioner)"
        elif task in DELIVERING and not can_deliver:
            why = "the provisioner cannot deliver a message (Provisioner.deliver)"
        if why and weight:
            effective[task] = 0
            skipped[task] = why
    if not any(effective.values()):
        raise NothingToRun(
            "no task of the mix can run: "
            + "; ".join(f"{task}: {why}" for task, why in skipped.items())
        )
    return effective, skipped


def _candidates(account: Account, profile: ServerProfile) -> list[str]:
    found = []
    if not account.apop and (not profile.has_capa or profile.advertises("USER")):
        found.append("user")
    if profile.timestamp is not None:
        found.append("apop")
    if profile.advertises("SASL=PLAIN"):
        found.append("sasl-plain")
    return found


def _working_methods(
    reader: Reader, account: Account, profile: ServerProfile, say: Callable[[str], None]
) -> list[str]:
    working = []
    for method in _candidates(account, profile):
        try:
            with reader.logged_in(account, method, Transcript(reader.secrets), "L", 0.0) as s:
                working.append(method)
                s.command("QUIT")
        except LoginError:
            continue
    if not working:
        say(f"{account.user}: no login method works ({', '.join(_candidates(account, profile))})")
    return working


def lock_policy(reader: Reader, account: Account, method: str) -> str:
    """Whether a second login to a maildrop in use is refused or delayed ("exclusive")
    or let in ("shared", where each session must then keep its own view)."""
    second = Session.to(reader.target, "B", Transcript(reader.secrets))
    try:
        with reader.logged_in(account, method, Transcript(reader.secrets), "A", 0.0) as first:
            greeting = second.connect()
            lines = login_lines(account, method, greeting.status_text(), reader.secrets)
            answer = send_login(
                lines, second.command, lambda last: second.command(last, PROBE_WAIT)
            )
            first.command("QUIT")
        return "shared" if answer.ok else "exclusive"
    except LoginError:
        return "exclusive"
    finally:
        second.reset()
