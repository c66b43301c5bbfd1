"""Seeding the leased mailboxes, learning them again, delivering into them, and snapshots."""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, NoReturn

from conformance.calibration import CalibrationError, calibrate, recalibrate
from conformance.drift import same_but_server_fields, seeded_names
from conformance.messages import corpus
from conformance.model import Maildrop
from conformance.pop3 import Response, parse_scan_line, parse_stat, parse_uid_line
from conformance.provision import ProvisionError, Refused
from conformance.runner import checks, deliveries
from conformance.runner.existing import existing_of, learn, put_back
from conformance.scenario import steps as st
from conformance.transport import ConnectError

if TYPE_CHECKING:
    from conformance.runner.run import ScenarioRun, Slot


def provision(run: ScenarioRun) -> None:
    """Seed each leased account with the scenario's corpus (and learn it, with calibration).

    Against mailboxes judged as they are, the model is what each holds now.
    """
    scenario = run.scenario
    if scenario.mailbox == "none":
        return
    existing = existing_of(run.target)
    if existing is not None:
        learn(run, existing)
        return
    messages = corpus(scenario.mailbox)
    run.mailboxes.seeded = _field_names(scenario.mailbox)
    for index, account in enumerate(run.accounts[: scenario.accounts], start=1):
        try:
            run.target.provisioner.seed(account.user, messages)
        except Refused as exc:
            from conformance.runner.run import Unseedable

            raise Unseedable(
                f"needs the {scenario.mailbox} corpus, and the {run.target.provisioner.kind} "
                f"provisioner's mail system refused it: {exc}"
            ) from exc
        except ProvisionError as exc:
            _cannot(run, "the mailbox is seeded before the scenario", str(exc))
        maildrop = Maildrop(messages, server_fields=run.target.calibrate)
        run.mailboxes.maildrops[index] = maildrop
        if run.target.calibrate:
            try:
                calibrate(run.target, account, maildrop, run.profile, run.transcript)
            except (CalibrationError, ConnectError) as exc:
                _cannot(
                    run,
                    "the seeded messages can be read back before the scenario",
                    f"calibration failed: {exc}",
                )


@functools.cache
def _field_names(name: str) -> frozenset[bytes]:
    # A corpus is the same every time (an exploration seeds it per example).
    return seeded_names(m.data for m in corpus(name))


def _cannot(run: ScenarioRun, expected: str, actual: str) -> NoReturn:
    """The mailbox could not be made ready: the harness's error, and the scenario ends."""
    from conformance.runner.run import Abort

    run.checks.append(checks.harness_error(run.requirement, expected, actual, run.scenario.file))
    raise Abort


def after_scenario(run: ScenarioRun) -> None:
    """Once every session has ended: every delivery has ended, and an existing
    mailbox is put back as it was learned."""
    deliveries.settle_all(run)
    existing = existing_of(run.target)
    if existing is not None:
        put_back(run, existing)


def deliver(run: ScenarioRun, step: st.Deliver) -> None:
    """The deliver step (runner/deliveries.py); awaited at once if no session holds the mailbox."""
    delivery = deliveries.deliver(run, step)
    if delivery is not None:
        # Every session counts as a holder here, the one named in the step too.
        relearn(run, delivery.account, None, step)


def relearn(run: ScenarioRun, index: int, name: str | None, step: st.Step) -> None:
    """Before session ``name`` logs in: await mail delivered meanwhile, and learn
    header fields the server added since a session ended.

    Only while no other session of this scenario holds the mailbox (a read
    needs the lock), and learning only with calibration on.
    """
    boxes = run.mailboxes
    maildrop = boxes.maildrops.get(index)
    if maildrop is None or deliveries.holders(run, index, but=name):
        return
    account = run.accounts[index - 1]
    if index in boxes.pending:
        boxes.pending.discard(index)
        deliveries.await_delivered(run, index, step)
    if not run.target.calibrate or index not in boxes.dirty:
        return
    fresh = deliveries.unread(run, index)
    learned = recalibrate(
        run.target,
        account,
        maildrop,
        run.profile,
        run.transcript,
        boxes.seeded,
        frozenset(fresh),
    )
    if learned is not None:
        boxes.dirty.discard(index)
        deliveries.read(run, index)


@dataclass
class Snap:
    """A maildrop as one session saw it: what "unchanged" compares."""

    count: int
    size: int
    uids: list[str] | None
    hashes: list[str]
    contents: list[bytes]
    # The connection it was taken on: inside one session nothing may change,
    # not even header fields a server adds to stored mail between sessions.
    taken_on: object = None

    def describe(self) -> str:
        uids = "n/a" if self.uids is None else ",".join(self.uids)
        return f"{self.count} messages, {self.size} octets, UIDLs [{uids}], SHA-256 " + ",".join(
            h[:12] for h in self.hashes
        )


def take_snapshot(run: ScenarioRun, slot: Slot, step: st.Step, judged: str | None = None) -> Snap:
    """STAT, LIST, UIDL and every RETR; a refusal is graded against ``judged``
    (the requirement in force for ``unchanged``) or else the command's own."""
    from conformance.runner.run import Abort

    def reject(req: str, expected: str, resp: Response) -> NoReturn:
        run.checks.append(checks.snapshot_refused(judged or req, expected, resp, str(step.where)))
        raise Abort

    def need(resp: Response, req: str, what: str) -> Response:
        if not resp.ok:
            reject(req, f"+OK to {what}", resp)
        return resp

    stat = need(run.command(slot, "STAT"), "RFC1939-5.STAT-1", "STAT")
    totals = parse_stat(stat.text)
    if totals is None:
        reject("RFC1939-5.STAT-1", "+OK nn mm", stat)
    count, size = totals
    listing = need(run.command(slot, "LIST"), "RFC1939-5.LIST-2", "LIST")
    numbers = []
    for line in listing.lines:
        # A malformed scan listing is the server's fault, not the harness's.
        scan = parse_scan_line(line)
        if scan is None:
            reject("RFC1939-5.LIST-4", "scan listings 'n size'", listing)
        numbers.append(scan[0])
    uids: list[str] | None = None
    if not run.profile.has_capa or run.profile.advertises("UIDL"):
        uidl = run.command(slot, "UIDL")
        if uidl.ok:
            parsed = [parse_uid_line(line) for line in uidl.lines]
            uids = sorted(p.uid.decode("latin-1") for p in parsed if p is not None)
    hashes, contents = [], []
    for n in numbers:
        retr = need(run.command(slot, f"RETR {n}"), "RFC1939-5.RETR-1", f"RETR {n}")
        contents.append(retr.payload)
        hashes.append(retr.payload_sha256 or hashlib.sha256(retr.payload).hexdigest())
    run.last = None
    return Snap(count, size, uids, hashes, contents, slot.session)


def snapshot(run: ScenarioRun, step: st.Snapshot) -> None:
    run.snapshots[step.name] = take_snapshot(run, run.slot(step.session, step), step)


def unchanged(run: ScenarioRun, step: st.Unchanged) -> None:
    slot = run.slot(step.session, step)
    before: Snap = run.snapshots[step.since]
    after = take_snapshot(run, slot, step, judged=run.requirement)
    differences = []
    if before.count != after.count:
        differences.append(f"count {before.count} -> {after.count}")
    if before.uids is not None and after.uids is not None and before.uids != after.uids:
        lost = sorted(set(before.uids) - set(after.uids))
        differences.append(f"UIDLs missing: {', '.join(lost) or 'none'}; set changed")
    if before.hashes != after.hashes:
        # Header fields the server adds to stored mail (Status, X-UIDL)
        # leave a message the same message between sessions; only other
        # changes count.  Inside one session every change counts.
        pairs = zip(before.contents, after.contents, strict=False)
        seeded = run.mailboxes.seeded if before.taken_on is not after.taken_on else frozenset()
        if before.count != after.count or not all(
            old == new or (seeded and same_but_server_fields(old, new, seeded))
            for old, new in pairs
        ):
            differences.append(
                "message contents (SHA-256) differ"
                + (" within one session" if before.taken_on is after.taken_on else "")
            )
    run.checks.append(
        checks.unchanged(
            run.requirement,
            step.since,
            before.describe(),
            differences,
            after.describe(),
            str(step.where),
        )
    )
