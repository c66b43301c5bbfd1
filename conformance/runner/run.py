"""Carries one scenario's steps out against the target and grades them.

A :class:`ScenarioRun` owns the scenario's sessions (one :class:`Slot` each:
the connection, its mailbox model, the leased account), the maildrops of the
leased accounts and the list of checks.  Steps are dispatched through a table
keyed by step type to the handler modules beside this one; grading an ``S:``
line lives in :mod:`conformance.verdicts`, and the checks the runner grades
itself in :mod:`conformance.runner.checks`.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn

from conformance.catalog import section_of
from conformance.model import Discrepancy, SessionModel
from conformance.outcomes import Outcome, worst
from conformance.pop3 import Answer, Finding, Response, State
from conformance.probe import ServerProfile
from conformance.results import CheckResult, ScenarioResult
from conformance.runner import checks
from conformance.runner.closes import CloseLog
from conformance.runner.mailboxes import Mailboxes
from conformance.scenario import steps as st
from conformance.target import Account, Target, secrets_of
from conformance.transcript import Transcript
from conformance.transport import Session


class Abort(Exception):
    """Stop the scenario here; the outcome is already recorded as a check."""


@dataclass
class Slot:
    """One named session of the scenario: the connection, its model, its account."""

    session: Session
    model: SessionModel | None
    account: int  # 1-based index into the leased accounts
    greeting: str = ""
    logged_in: bool = False  # reached TRANSACTION at some point


@dataclass
class LastAnswer:
    session: str
    line: str
    response: Response
    discrepancies: list[Discrepancy]
    # The requirement the model cites for this command ("S: model" checks it).
    model_requirement: str | None = None
    model_expected: str | None = None


@dataclass
class ScenarioRun:
    scenario: st.Scenario
    target: Target
    profile: ServerProfile
    accounts: Sequence[Account]
    on_finding: Callable[[Finding, str], None] = lambda f, s: None
    timeout: float = 10.0
    # -- state of the run ---------------------------------------------------
    transcript: Transcript = field(init=False)
    checks: list[CheckResult] = field(default_factory=list)
    slots: dict[str, Slot] = field(default_factory=dict)
    mailboxes: Mailboxes = field(init=False)
    snapshots: dict[str, Any] = field(default_factory=dict)
    labels: set[str] = field(default_factory=set)
    current: str | None = None
    requirement: str = ""
    last: LastAnswer | None = None
    # The answer the last S: block judged: what 'body' steps inspect.
    judged: LastAnswer | None = None
    closes: CloseLog = field(default_factory=CloseLog)
    # session name -> the account (1-based) it last used, kept after it ended
    accounts_of: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.transcript = Transcript(secrets_of(self.target))
        self.mailboxes = Mailboxes()
        self.requirement = self.scenario.requirements[0]
        if self.scenario.timeout is not None:
            self.timeout = self.scenario.timeout

    # -- entry point --------------------------------------------------------
    def execute(self) -> ScenarioResult:
        from conformance.runner.mailbox_steps import after_scenario, provision
        from conformance.runner.needs import unsupported_reason
        from conformance.runner.session_steps import teardown

        started = time.monotonic()
        reason = unsupported_reason(self)
        if reason:
            return self.result(Outcome.UNSUPPORTED, reason, started)
        try:
            provision(self)
            self.perform_steps(self.scenario.steps)
        except Abort:
            pass
        except Exception as exc:  # the harness must never crash on a bad server
            self.checks.append(
                checks.harness_error(
                    self.requirement,
                    "the scenario runs to its end",
                    f"harness error: {exc.__class__.__name__}: {exc}",
                    self.scenario.file,
                    traceback.format_exc(limit=4),
                )
            )
        finally:
            teardown(self)
        after_scenario(self)
        if not self.checks:
            self.checks.append(
                checks.harness_error(
                    self.requirement,
                    "at least one check",
                    "none made",
                    self.scenario.file,
                    "a scenario that checks nothing is a defect",
                )
            )
        return self.result(worst([c.outcome for c in self.checks]), "", started)

    def result(self, outcome: Outcome, reason: str, started: float) -> ScenarioResult:
        s = self.scenario
        if not reason and outcome is not Outcome.PASS:
            bad = [c for c in self.checks if c.outcome is outcome]
            if bad:
                detail = bad[0].note or bad[0].actual
                # Model discrepancies already start with their requirement ID.
                if not detail.startswith(bad[0].requirement):
                    detail = f"{bad[0].requirement}: {detail}"
                reason = detail.splitlines()[0] if detail else bad[0].requirement
        return ScenarioResult(
            id=s.id,
            title=s.title,
            file=s.file,
            section=section_of(s.requirements[0]),
            requirements=list(s.requirements),
            tags=list(s.tags),
            outcome=outcome,
            reason=reason,
            description=s.description,
            expectation=s.expectation,
            checks=self.checks,
            transcript=self.transcript.entries,
            duration_ms=(time.monotonic() - started) * 1000.0,
            close=self.closes.judge(),
        )

    # -- dispatch -----------------------------------------------------------
    def perform_steps(self, steps: Sequence[st.Step]) -> None:
        from conformance.runner.handlers import HANDLERS

        for step in steps:
            HANDLERS[type(step)](self, step)

    # -- what every handler uses -------------------------------------------------
    def name(self, session: str | None, step: st.Step) -> str:
        name = session or self.current
        if name is None:
            self.error(step, "no session is open")
        return name

    def slot(self, session: str | None, step: st.Step) -> Slot:
        """The connected session named (or the current one), which becomes current."""
        name = self.name(session, step)
        found = self.slots.get(name)
        if found is None or not found.session.connected:
            self.error(step, f"session {name} is not connected")
        self.current = name
        return found

    def error(self, step: st.Step, message: str) -> NoReturn:
        """The scenario cannot go on for a reason of the harness's own: an error check."""
        self.checks.append(checks.harness_error(self.requirement, "", message, str(step.where)))
        raise Abort

    def command(self, slot: Slot, line: str) -> Response:
        """Send a command, read its answer, and keep the model in step."""
        answer = slot.session.exchange(line)
        self.after_answer(slot, answer)
        return answer.response

    def after_answer(self, slot: Slot, answer: Answer) -> None:
        session, response, line = slot.session, answer.response, answer.command.line
        self.passive(slot, response)
        model = slot.model
        discrepancies: list[Discrepancy] = []
        model_requirement = model_expected = None
        if model is not None:
            expectation = model.expect(line, answer.before)
            model_requirement, model_expected = expectation.requirement, expectation.describe()
            discrepancies = model.check(line, response, expectation, answer.before)
            model.apply(answer)
        if answer.after is State.TRANSACTION:
            slot.logged_in = True
        self.closes.saw(session.label, answer)
        self.last = LastAnswer(
            session.label, line, response, discrepancies, model_requirement, model_expected
        )

    def passive(self, slot: Slot, response: Response) -> None:
        for found in response.findings:
            self.on_finding(found, self.scenario.id)
        # RFC 1939 section 3: the next response starts right after the
        # terminator.  Only a multi-line response is judged: after a single
        # -ERR a server may say goodbye and close (section 4), and pipelined
        # raw input legitimately has answers queued behind.
        connection = slot.session.connection
        stray = connection.stray_data()
        if (
            stray
            and response.kind == "multi"
            and not connection.awaiting
            and not connection.unfinished_line
        ):
            self.on_finding(
                Finding(
                    "stray-data", "RFC1939-3-8", f"bytes after a complete response: {stray[:40]!r}"
                ),
                self.scenario.id,
            )
