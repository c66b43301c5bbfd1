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
from typing import Any, NamedTuple, NoReturn

from conformance.catalog import section_of
from conformance.health import Health, TargetDown
from conformance.model import Discrepancy, Expectation, SessionModel
from conformance.outcomes import Outcome, worst
from conformance.pop3 import Answer, Finding, Response, State, capability_findings
from conformance.probe import ServerProfile
from conformance.results import CheckResult, ScenarioResult
from conformance.runner import checks
from conformance.runner.closes import CloseLog
from conformance.runner.mailboxes import Mailboxes
from conformance.scenario import steps as st
from conformance.secrets import Secrets, for_accounts, scrub_result
from conformance.target import Account, Target, secrets_of
from conformance.transcript import Transcript
from conformance.transport import Session


class Abort(Exception):
    """Stop the scenario here; the outcome is already recorded as a check."""


class Unseedable(Exception):
    """The mail system refused a message of the scenario's corpus for what it is
    (RFC 5321 lets it refuse a line over 1000 octets): the setup cannot give
    the scenario its mailbox, and the scenario is ``unsupported``, saying so."""


class Unjudged(Exception):
    """The rest of the scenario cannot be judged: a session it needs is gone or
    untrustworthy through the server's doing (closed, reset, timed out, half
    read).  What the server broke is already graded; the rest is reported
    with this reason, never as the harness's error."""


@dataclass
class Slot:
    """One named session of the scenario: the connection, its model, its account."""

    session: Session
    model: SessionModel | None
    account: int  # 1-based index into the leased accounts
    greeting: str = ""
    logged_in: bool = False  # reached TRANSACTION at some point
    # The last whole answer (not a close or a timeout): what a close that
    # follows it is judged against (RFC 1939 section 4 lets a server close
    # after an -ERR in AUTHORIZATION).
    answered: Answer | None = None


class InFlight(NamedTuple):
    """A command sent whose answer is still to be read."""

    slot: Slot
    before: State  # the state it is answered in
    expectation: Expectation | None  # the model's, worked out while the server works


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
    health: Health = field(default_factory=Health)
    # Shared by the scenarios of a run: what one computes (an APOP digest, a
    # SASL answer) is hidden in all of them.
    secrets: Secrets | None = None
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
    # Sessions the server ended (closed, reset, timed out), with why: a later
    # step on one of them cannot be judged, and that is not the harness's error.
    gone: dict[str, str] = field(default_factory=dict)
    unjudged: str = ""
    # For an unsupported scenario: the flag that would let it run ("" when the
    # server, not the harness's setup, is what it lacks).
    setup: str = ""
    # session name -> the account (1-based) it last used, kept after it ended
    accounts_of: dict[str, int] = field(default_factory=dict)
    # Accounts whose lock a session the harness dropped while logged in may
    # still hold: a server may release it a little after the drop (style.md).
    dropped_holders: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        if self.secrets is None:
            self.secrets = for_accounts(self.accounts, secrets_of(self.target))
        self.transcript = Transcript(self.secrets)
        self.mailboxes = Mailboxes()
        self.requirement = self.scenario.requirements[0]
        if self.scenario.timeout is not None:
            self.timeout = self.scenario.timeout

    # -- entry point --------------------------------------------------------
    def execute(self) -> ScenarioResult:
        from conformance.runner.mailbox_steps import after_scenario, provision
        from conformance.runner.needs import unsupported
        from conformance.runner.session_steps import teardown

        started = time.monotonic()
        cannot = unsupported(self)
        if cannot is not None:
            self.setup = cannot.setup
            return self.result(Outcome.UNSUPPORTED, cannot.reason, started)
        refused = ""
        try:
            provision(self)
            self.perform_steps(self.scenario.steps)
        except Abort:
            pass
        except Unseedable as exc:
            refused, self.setup = str(exc), "--provision"
        except Unjudged as stop:
            self.unjudged = str(stop)
        except TargetDown:
            raise  # the campaign stops: not this scenario's verdict
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
        if refused:
            return self.result(Outcome.UNSUPPORTED, refused, started)
        if not self.checks and self.unjudged:
            # Nothing was judged before the server made the rest unjudgeable.
            return self.result(Outcome.INFO, f"nothing could be judged: {self.unjudged}", started)
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
        assert self.secrets is not None
        result = ScenarioResult(
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
            unjudged=self.unjudged,
            setup=self.setup,
        )
        # The results boundary: whatever the server echoed, no field of any
        # report carries a secret from here on.
        return scrub_result(result, self.secrets)

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
        """The connected session named (or the current one), which becomes current.

        A session the server ended stops the scenario as unjudged from here
        on; a session the scenario never opened (or ended itself) is the
        scenario's error.
        """
        name = self.name(session, step)
        found = self.slots.get(name)
        if found is not None and found.session.connected:
            self.current = name
            return found
        death = found.session.connection.dead if found is not None else None
        if death is not None and death.by_server:
            self.gone[name] = f"session {name}: {death.detail}"
        if name in self.gone:
            raise Unjudged(f"from {step.where} on: {self.gone[name]}")
        self.error(step, f"session {name} is not connected")

    def error(self, step: st.Step, message: str) -> NoReturn:
        """The scenario cannot go on for a reason of the harness's own: an error check."""
        self.checks.append(checks.harness_error(self.requirement, "", message, str(step.where)))
        raise Abort

    def command(self, slot: Slot, line: str) -> Response:
        """Send a command, read its answer, and keep the model in step."""
        return self.receive(self.send_command(slot, line))

    def send_command(self, slot: Slot, line: str) -> InFlight:
        """Send a command whose answer :meth:`receive` reads, and nothing in between."""
        self.in_clear(slot)
        self.unsolicited(slot)
        before = slot.session.send(line)
        # What a conforming server answers depends on the line and the state
        # only: the model works it out while the server works on the line.
        model = slot.model
        expectation = None if model is None else model.expect(line, before)
        return InFlight(slot, before, expectation)

    def receive(self, sent: InFlight) -> Response:
        """Read the answer to a command :meth:`send_command` sent, and keep the model in step."""
        answer = sent.slot.session.read_answer()
        # The expectation was worked out for the state the line was sent in.
        expectation = sent.expectation if answer.before is sent.before else None
        self.after_answer(sent.slot, answer, expectation)
        return answer.response

    def in_clear(self, slot: Slot) -> None:
        """A step that would send in the clear after the server's +OK to STLS: the
        server handed the connection to TLS (RFC 2595 section 4), so the rest of
        this session cannot be judged; the answer to STLS was graded already."""
        if not slot.session.connection.tls_pending:
            return
        name = slot.session.label
        self.gone[name] = f"session {name}: after +OK to STLS the connection belongs to TLS"
        raise Unjudged(self.gone[name])

    def unsolicited(self, slot: Slot) -> None:
        """Bytes the server sent that no command asked for: its fault, and the end of
        this session (any answer read from now on could be one of them)."""
        connection = slot.session.connection
        if connection.awaiting or not connection.buffered_input:
            return
        stray = connection.take_stray()
        after_greeting = slot.answered is None
        requirement = "RFC1939-3-2" if after_greeting else "RFC1939-3-8"
        where = "after the greeting" if after_greeting else "after the last answer"
        split = None if slot.answered is None else checks.split_line(slot.answered.command.line)
        if split is not None:
            # One line answered twice: part of it was taken as a command of its own.
            requirement, where = checks.LINE_END, f"after the answer to a line with {split}"
        self.checks.append(checks.unsolicited(requirement, where, stray, self.scenario.file))
        detail = f"the server sent {len(stray)} octets {where} unasked"
        connection.die("unsolicited", detail, by_server=True)
        name = slot.session.label
        self.gone[name] = f"session {name}: {detail}"
        raise Unjudged(f"session {name}: the server sent data no command asked for")

    def after_answer(
        self, slot: Slot, answer: Answer, expectation: Expectation | None = None
    ) -> None:
        """Judge ``answer`` by the model and keep it in step; ``expectation`` is the
        model's for the line in the state it was answered in, if already known."""
        session, response, line = slot.session, answer.response, answer.command.line
        self.passive(slot, response, answer)
        death = session.connection.dead
        if death is not None and death.by_server:
            self.gone[session.label] = f"session {session.label}: {death.detail}"
        model = slot.model
        discrepancies: list[Discrepancy] = []
        model_requirement = model_expected = None
        if model is not None:
            if expectation is None:
                expectation = model.expect(line, answer.before)
            model_requirement, model_expected = expectation.requirement, expectation.describe()
            discrepancies = model.check(line, response, expectation, answer.before)
            model.apply(answer)
        if answer.after is State.TRANSACTION:
            slot.logged_in = True
        if response.answered:
            self.closes.saw(session.label, answer)
            slot.answered = answer
        self.last = LastAnswer(
            session.label, line, response, discrepancies, model_requirement, model_expected
        )

    def passive(self, slot: Slot, response: Response, answer: Answer | None = None) -> None:
        findings = list(response.findings)
        if answer is not None and answer.command.keyword == "CAPA" and response.kind == "multi":
            # Every CAPA line against its registration, in the state it was sent in.
            findings += capability_findings(response.lines, answer.before)
        for found in findings:
            self.on_finding(found, self.scenario.id)
        stray = slot.session.connection.stray_finding(response)
        if stray is not None:
            self.on_finding(stray, self.scenario.id)
