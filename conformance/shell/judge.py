"""The judgement of one answer: what the harness says right after the server spoke.

Three sources, each graded against the requirement it names (by the
catalog's level: a broken MUST is ``fail``, a SHOULD ``non-strict``, a MAY
``info``):

- the passive grammar findings the reader saw in the answer (bare LF,
  lower-case status, a broken multi-line framing, stray bytes after it);
- the mailbox model, once the mailbox is known: what a conforming server
  answers to this line in this state, and how this answer differs;
- the greeting, and the close that must follow a QUIT.

A server's fault is ``fail``, ``non-strict`` or ``info``, never ``error``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from conformance.campaign import finding_outcome
from conformance.model import Expectation, SessionModel
from conformance.outcomes import Outcome
from conformance.pop3 import GREETING, Answer, ClientConnection, Response
from conformance.probe import ServerProfile
from conformance.results import CheckResult
from conformance.runner import checks
from conformance.verdicts import discrepancy_outcome, make_check

WRONG = (Outcome.FAIL, Outcome.NON_STRICT)


@dataclass
class Judgement:
    """One answer and every check made of it."""

    answer: Answer
    checks: list[CheckResult] = field(default_factory=list)
    # What the model said a conforming server answers (None: no model).
    expectation: Expectation | None = None
    # What happened to the session besides the answer (a close, TLS), in words.
    notes: list[str] = field(default_factory=list)

    @property
    def wrong(self) -> list[CheckResult]:
        """The checks that a conforming server would have passed."""
        return [c for c in self.checks if c.outcome in WRONG]

    @property
    def right(self) -> bool:
        return not self.wrong


def grammar_checks(
    response: Response, connection: ClientConnection, profile: ServerProfile, where: str
) -> list[CheckResult]:
    """The passive findings of one answer, graded as a run grades them."""
    found = list(response.findings)
    stray = connection.stray_finding(response)
    if stray is not None:
        found.append(stray)
    return [
        make_check(
            f.requirement,
            finding_outcome(f.requirement, f.code, profile),
            "",
            f.detail,
            where,
            f.code,
        )
        for f in found
    ]


def model_checks(
    model: SessionModel, answer: Answer, where: str
) -> tuple[list[CheckResult], Expectation]:
    """What the model expected of this answer, and each way the answer differs."""
    line = answer.command.line
    expectation = model.expect(line, answer.before)
    found = model.check(line, answer.response, expectation, answer.before)
    if not found:
        passed = make_check(
            expectation.requirement,
            Outcome.PASS,
            expectation.describe(),
            answer.response.describe(),
            where,
        )
        return [passed], expectation
    graded = [
        make_check(d.requirement, discrepancy_outcome(d), d.expected, d.actual, where)
        for d in found
    ]
    return graded, expectation


def judge(
    answer: Answer,
    model: SessionModel | None,
    connection: ClientConnection,
    profile: ServerProfile,
    where: str,
) -> Judgement:
    """Every check of one answer (the model is not applied here: the caller does that)."""
    judgement = Judgement(answer)
    judgement.checks += grammar_checks(answer.response, connection, profile, where)
    if answer.command.keyword == GREETING:
        judgement.checks.append(checks.greeting(answer.response, where))
    elif model is not None:
        found, judgement.expectation = model_checks(model, answer, where)
        judgement.checks += found
    return judgement


def closed_after_quit(judgement: Judgement, closed: bool, where: str) -> None:
    """RFC 1939 section 6: after the +OK to QUIT the server closes the connection."""
    judgement.checks.append(checks.closed_after_quit(closed, where))
