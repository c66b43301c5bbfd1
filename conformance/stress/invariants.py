"""The invariants a load run checks, and their verdicts graded like scenario checks.

Each invariant becomes one result in ``results.json`` (``stress.*``), with a
check per requirement it cites: a pass when nothing broke it, otherwise up to
:data:`SHOWN` breaches per requirement with Expected / Actual, the count of
the rest, and the transcripts of the sessions involved.  The grade of a
breach is the requirement's (a MUST gives ``fail``, a SHOULD ``non-strict``):
a server's fault is never an ``error``, which is kept for what the harness or
the environment could not do (a delivery the provisioner failed).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from conformance.catalog import requirement, section_of
from conformance.outcomes import Outcome, worst
from conformance.results import CheckResult, ScenarioResult, TranscriptEntry
from conformance.secrets import Secrets, scrub_result
from conformance.stress.ledger import Ledger
from conformance.stress.observations import Violation

SHOWN: Final = 3  # breaches shown per requirement; the others are counted


@dataclass(frozen=True)
class Invariant:
    key: str
    id: str
    title: str
    requirements: tuple[str, ...]
    description: str
    expectation: str


INVARIANTS: Final[dict[str, Invariant]] = {
    i.key: i
    for i in (
        Invariant(
            "accounting",
            "stress.mailbox.accounted",
            "No message is lost or duplicated",
            ("RFC1939-6.QUIT-1", "RFC1939-6.QUIT-2"),
            "Every message seeded before the run or delivered while sessions ran is looked "
            "for in a last reading of each mailbox, against the QUITs that removed messages.",
            "Exactly the messages no UPDATE removed are there, each once; those a QUIT "
            "answered +OK for with them marked are gone.",
        ),
        Invariant(
            "deletion",
            "stress.mailbox.deletion-at-update",
            "Messages are removed only at UPDATE",
            ("RFC1939-6-2", "RFC1939-5.RSET-1"),
            "Sessions mark messages and then RSET, or end by FIN or RST without QUIT.",
            "A message marked and then unmarked, or marked in a session that never reached "
            "UPDATE, is still there at the end.",
        ),
        Invariant(
            "unique-ids",
            "stress.uidl.stable-unique",
            "Unique-ids are stable and unique",
            ("RFC1939-7.UIDL-4", "RFC1939-7.UIDL-5", "RFC1939-7.UIDL-6"),
            "Every session that reads a message notes which unique-id named it; all "
            "sessions' notes are merged.",
            "A unique-id names one message, never another one later; a message keeps its "
            "unique-id in every session.",
        ),
        Invariant(
            "lock",
            "stress.lock.one-view",
            "A maildrop is open in two sessions only where each keeps its own view",
            ("RFC1939-4-2",),
            "Sessions log in to shared mailboxes, two of them at the same instant, while "
            "others mark, remove and deliver messages.",
            "Where the server refuses a second login to a maildrop in use, never two "
            "sessions in TRANSACTION at once; where it lets both in, each session's "
            "messages, sizes and unique-ids stay as at its login until its UPDATE.",
        ),
        Invariant(
            "answers",
            "stress.answers.own-command",
            "Every answer is the answer to its own command",
            ("RFC1939-5-1",),
            "Every answer is checked against its command: the message number it names, "
            "the grammar of its status line, the mailbox its message was made for.",
            "No answer that belongs to another command or another session.",
        ),
        Invariant(
            "responsive",
            "stress.server.responsive",
            "The server stays responsive",
            ("RFC1939-5-1", "RFC1939-3-2"),
            "Every connection must be greeted and every command answered before the "
            "deadline (a login may wait for a lock as long as --lock-wait).",
            "A greeting and an answer every time, in time.",
        ),
    )
}


def grade(
    ledger: Ledger,
    secrets: Secrets,
    duration_s: float,
    unjudged: dict[str, str] | None = None,
) -> list[ScenarioResult]:
    """One result per invariant, in :data:`INVARIANTS` order, scrubbed of secrets."""
    left = unjudged or {}
    out = []
    for invariant in INVARIANTS.values():
        breaches = [v for v in ledger.violations if v.invariant == invariant.key]
        result = _result(invariant, breaches, duration_s, left.get(invariant.key, ""))
        if invariant.key == "accounting" and ledger.delivery_errors:
            result.checks.append(_delivery_errors(ledger.delivery_errors))
            result.outcome = worst([c.outcome for c in result.checks])
        out.append(scrub_result(result, secrets))
    return out


def _result(
    invariant: Invariant, breaches: list[Violation], duration_s: float, unjudged: str
) -> ScenarioResult:
    result = ScenarioResult(
        id=invariant.id,
        title=invariant.title,
        file="stress",
        section=section_of(invariant.requirements[0]),
        requirements=list(invariant.requirements),
        tags=["stress"],
        outcome=Outcome.PASS,
        description=invariant.description,
        expectation=invariant.expectation,
        duration_ms=duration_s * 1000.0,
        unjudged=unjudged,
    )
    if unjudged and not breaches:
        result.outcome = Outcome.UNSUPPORTED
        result.reason = unjudged
        return result
    for req in invariant.requirements:
        mine = [v for v in breaches if v.requirement == req]
        if mine:
            result.checks += _breaches(req, mine, result.transcript)
    if not result.checks:
        result.checks = [_held(req, invariant) for req in invariant.requirements]
    result.outcome = worst([c.outcome for c in result.checks])
    if breaches:
        result.reason = f"{len(breaches)} breach(es) of: {invariant.title.lower()}"
    return result


def _breaches(
    req: str, breaches: Sequence[Violation], transcript: list[TranscriptEntry]
) -> list[CheckResult]:
    known = requirement(req)
    checks = []
    for index, violation in enumerate(breaches[:SHOWN]):
        number = sum(1 for e in transcript if e.session == "--") + 1
        where = f"t={violation.t:.2f} s" if violation.t else "the reading at the end"
        more = f"{len(breaches)} breaches in all" if index == 0 and len(breaches) > 1 else ""
        note = "; ".join(n for n in (violation.note, more, f"evidence #{number}") if n)
        checks.append(
            CheckResult(
                requirement=req,
                level=known.grade.value,
                quote=known.text,
                outcome=known.grade.outcome_when_broken(),
                expected=violation.expected,
                actual=violation.actual,
                where=where,
                note=note,
            )
        )
        transcript.append(
            TranscriptEntry(violation.t * 1000.0, "--", "*", f"evidence #{number}: {req}")
        )
        transcript += violation.transcript
    return checks


def _held(req: str, invariant: Invariant) -> CheckResult:
    known = requirement(req)
    return CheckResult(
        requirement=req,
        level=known.grade.value,
        quote=known.text,
        outcome=Outcome.PASS,
        expected=invariant.expectation,
        actual="held throughout the run",
    )


def _delivery_errors(errors: list[str]) -> CheckResult:
    return CheckResult(
        requirement="RFC1939-6.QUIT-1",
        level="info",
        quote="",
        outcome=Outcome.ERROR,
        expected="every delivery through the provisioner succeeds",
        actual=f"{len(errors)} deliveries failed; the first: {errors[0]}",
        note="the provisioner (the environment, not the server) failed: those messages "
        "could not be accounted for",
    )


def harness_errors(
    exceptions: list[dict[str, object]], requests: int, duration_s: float
) -> ScenarioResult | None:
    """Exceptions raised in the harness's own task code, or a load that sent nothing:
    an ``error``, never the server's (a run that did nothing must not pass)."""
    if not exceptions and requests:
        return None
    count = sum(int(str(x["count"])) for x in exceptions)
    reason = (
        f"{count} exception(s) in the harness's own tasks; the first: "
        + str(exceptions[0]["message"])
        if exceptions
        else "the load made no request at all: nothing was judged"
    )
    return ScenarioResult(
        id="stress.harness",
        title="The load ran without a fault of the harness",
        file="stress",
        section="harness",
        requirements=[],
        tags=["stress"],
        outcome=Outcome.ERROR,
        reason=reason,
        duration_ms=duration_s * 1000.0,
    )
