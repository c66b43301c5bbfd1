"""The state machine that explores a server: random command sequences, judged by the model.

One example is one scenario: the mailbox is seeded with known content, session
A logs in, and then the rules send commands (valid and invalid message
numbers), end the session in every way and log in again, try a second
concurrent login, or send pipelined batches.  After every rule the invariant
looks at the checks the runner graded: every answer must match the mailbox
model, which also covers the two other invariants of the issue, since RETR
and TOP answers are compared octet for octet with the seeded content (the
report gives the SHA-256) and every UIDL answer is compared with the
unique-ids learned earlier in the example, across sessions (RFC1939-7.UIDL-5).

Each rule writes scenario lines (:mod:`conformance.explore.fragments`) and runs
their parsed steps, so a failing example is already a scenario file.
"""

from __future__ import annotations

import itertools
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from conformance.explore import fragments
from conformance.explore.live import LiveRun
from conformance.outcomes import fails_run
from conformance.pop3 import COMMANDS, NUMBER_VARIANTS, CommandSpec, Finding, Shape, State
from conformance.pop3.spec import LINE_COUNT, MESSAGE_NUMBER, Grammar
from conformance.probe import ServerProfile
from conformance.results import CheckResult, TranscriptEntry
from conformance.scenario.steps import Scenario
from conformance.target import Account, Target

# Message-number arguments: 0 and anything above the mailbox's last message
# are invalid; 9 is past the end of every corpus (the standard one has 7).
# The argument rule's variants (a word, "1x", signs, leading zeros, numbers
# past 2^32 and 2^64) are drawn for every number, judged by the same model.
MAX_NUMBER = 9
_VARIANTS = tuple(text for text, _ in NUMBER_VARIANTS)
# The argument values, by the spec's argument grammar.  An argument whose
# grammar has none here (a user name, a language range) is never drawn.
ARGUMENTS: dict[Grammar, tuple[str, ...]] = {
    MESSAGE_NUMBER: (*(str(n) for n in range(MAX_NUMBER + 1)), *_VARIANTS),
    LINE_COUNT: ("0", "1", "3", "100", *_VARIANTS),
}


def lines_of(spec: CommandSpec) -> tuple[str, ...]:
    """Every well-formed use of ``spec`` with the values above (valid or invalid ones).

    Fewest arguments first, then in the order of the values: sampled_from
    shrinks towards the first item, so a minimal sequence prefers ``LIST``
    to ``LIST 1`` and small message numbers to the variants.
    """
    out: list[str] = []
    for count in range(spec.required, len(spec.args) + 1):
        args = spec.args[:count]
        if not all(a.grammar in ARGUMENTS for a in args):
            continue
        out += (
            " ".join((spec.keyword, *values))
            for values in itertools.product(*(ARGUMENTS[a.grammar] for a in args))
        )
    if not out:
        raise ValueError(f"{spec.keyword}: no argument values for its grammar")
    return tuple(out)


def evenly(*specs: CommandSpec) -> tuple[str, ...]:
    """The lines of ``specs``, each spec's repeated until every spec has as many.

    One ``sampled_from`` of them draws each spec as often as a ``one_of`` of
    the specs would, in a single choice.  The specs keep their order, so a
    minimal sequence still prefers the first spec and, within it, the first
    line.
    """
    return balanced(*(lines_of(spec) for spec in specs))


def balanced(*groups: tuple[str, ...]) -> tuple[str, ...]:
    """``groups`` joined, each repeated until every group has as many lines."""
    width = math.lcm(*(len(g) for g in groups))
    return tuple(line for g in groups for line in g * (width // len(g)))


def command_lines(*specs: CommandSpec) -> st.SearchStrategy[str]:
    """One use of one of ``specs``, drawn in a single choice: an exploration draws
    tens of thousands, and nested strategies (a command, then a number, then a
    form) cost hypothesis a draw each."""
    return st.sampled_from(evenly(*specs))


def _transaction(effect: str) -> list[CommandSpec]:
    """The TRANSACTION commands of one effect, single-line answers first.

    ``marks`` change the deletion marks (DELE, RSET), ``retrievals`` carry a
    message (multi-line answers with an argument: RETR, TOP) and ``queries``
    are the rest but QUIT, which the machine uses to end a session.
    one_of and sampled_from shrink towards their first item, so a minimal
    sequence prefers STAT to LIST and RETR to TOP.
    """
    out = []
    for spec in COMMANDS.values():
        if State.TRANSACTION not in spec.states or spec.keyword == "QUIT":
            continue
        if spec.keyword in MARKS:
            kind = "marks"
        elif spec.shape is Shape.MULTI and spec.required:
            kind = "retrievals"
        else:
            kind = "queries"
        if kind == effect:
            out.append(spec)
    return sorted(out, key=lambda spec: (spec.shape is not Shape.SINGLE, spec.required))


MARKS = ("DELE", "RSET")
QUERY_SPECS = _transaction("queries")
RETRIEVAL_SPECS = _transaction("retrievals")
# Every keyword the rules below can send in TRANSACTION.
DRAWN_KEYWORDS: frozenset[str] = frozenset(
    s.keyword for s in (*QUERY_SPECS, *RETRIEVAL_SPECS, *_transaction("marks"))
)
# Commands of the TRANSACTION state, in groups that get a rule each (rules are
# drawn with equal weight: RSET and DELE need their own to come up often).
QUERIES: st.SearchStrategy[str] = command_lines(*QUERY_SPECS)
RETRIEVALS: st.SearchStrategy[str] = command_lines(*RETRIEVAL_SPECS)
DELETIONS: st.SearchStrategy[str] = command_lines(COMMANDS["DELE"])
# The commands of a pipelined batch: each of the four groups as often as the
# others, as a one_of of them would draw them, in a single choice per command.
COMMANDS_DRAWN: st.SearchStrategy[str] = st.sampled_from(
    balanced(evenly(*QUERY_SPECS), lines_of(COMMANDS["DELE"]), ("RSET",), evenly(*RETRIEVAL_SPECS))
)


class Exhausted(BaseException):
    """The wall-clock budget is spent: stop asking for examples.

    A ``BaseException`` so that hypothesis does not take it for a failure
    of the example (it would shrink it); it ends the whole search.
    """


class ModelMismatch(AssertionError):
    """An answer broke a requirement: hypothesis shrinks the example that produced it."""


@dataclass
class Failure:
    """One failing example: its scenario lines, the checks it failed, its wire transcript."""

    lines: list[str]
    checks: list[CheckResult]
    transcript: list[TranscriptEntry]
    pipelined: bool

    @property
    def requirements(self) -> list[str]:
        seen: list[str] = []
        for check in self.checks:
            if check.requirement not in seen:
                seen.append(check.requirement)
        return seen


@dataclass
class Context:
    """What every example of one exploration shares: the target, the budget, the findings."""

    target: Target
    profile: ServerProfile
    account: Account
    seed: int = 0
    mailbox: str = "standard"
    strict: bool = False
    budget_s: float = 60.0
    shrink_budget_s: float = 120.0
    started: float = field(default_factory=time.monotonic)
    examples: int = 0
    commands: int = 0
    failures: list[Failure] = field(default_factory=list)
    first_failure_at: float | None = None
    on_finding: Callable[[Finding, str], None] = lambda finding, scenario: None
    notify: Callable[[str], None] = lambda message: None

    def scenario(self) -> Scenario:
        """The scenario every example runs as (its header is the emitted file's too)."""
        return Scenario(
            id=f"explore.{self.seed}",
            title=f"exploration example, seed {self.seed}",
            file="explore",
            requirements=["RFC1939-5-1"],
            mailbox=self.mailbox,
            destructive=True,
            timeout=self.step_timeout_s,
        )

    @property
    def step_timeout_s(self) -> float:
        """The wait for every answer, during the exploration and in its replay alike.

        A slow answer is not a wrong one: a second login to a locked mailbox
        is answered by Dovecot only after about 10 s, so exploration waits as
        long as the locking scenarios do (fragments.LOCK_WAIT_S), or longer
        when the run's own timeout is longer.
        """
        return max(self.target.timeout, fragments.LOCK_WAIT_S)

    def next_example(self) -> None:
        """Count an example, or raise :class:`Exhausted` when the budget is spent.

        Until something fails the search budget applies; once a failure is
        being shrunk the shrink budget does, counted from the first failure.
        """
        now = time.monotonic()
        if self.first_failure_at is None:
            if now - self.started >= self.budget_s:
                raise Exhausted
        elif now - self.first_failure_at >= self.shrink_budget_s:
            raise Exhausted
        self.examples += 1

    def record(self, failure: Failure) -> None:
        if self.first_failure_at is None:
            self.first_failure_at = time.monotonic()
            first = failure.checks[0]
            self.notify(
                f"example {self.examples} failed ({first.requirement}, {first.outcome.value}); "
                "shrinking it"
            )
        self.failures.append(failure)

    @property
    def minimal(self) -> Failure | None:
        """The shortest failing example; among equals the latest (hypothesis's last word)."""
        best: Failure | None = None
        for failure in self.failures:
            if best is None or len(failure.lines) <= len(best.lines):
                best = failure
        return best

    @property
    def pipelining(self) -> bool:
        return self.profile.advertises("PIPELINING")


class ExploreMachine(RuleBasedStateMachine):
    """Session A on one seeded mailbox, driven by rules and judged by the model after each."""

    def __init__(self, context: Context) -> None:
        super().__init__()
        context.next_example()
        self.context = context
        self.lines: list[str] = []
        self.attempts = 0  # second logins so far (their labels must be unique)
        self.pipelined = False
        self.judged = 0  # checks of self.run already looked at by the invariant
        self.run = LiveRun(
            context.scenario(),
            context.target,
            context.profile,
            [context.account],
            on_finding=context.on_finding,
            timeout=context.target.timeout,
        )

    def _do(self, lines: Sequence[str]) -> None:
        # Parsed while the server may still be answering the last action;
        # that answer is then judged before anything else is sent, and a
        # failure ends the example with that action's lines only.
        steps = fragments.parse_fragment(lines)
        self._settle()
        self.every_answer_matches_the_model()
        self.lines += lines
        mark = self.run.transcript.mark()
        self.run.perform(steps)
        self.context.commands += self.run.transcript.client_lines_since(mark)

    def _settle(self) -> None:
        """Read and judge the answer the last action still owes; the lines sent
        meanwhile (a login tried again) are counted."""
        mark = self.run.transcript.mark()
        self.run.settle()
        self.context.commands += self.run.transcript.client_lines_since(mark)

    @initialize()
    def log_in(self) -> None:
        self.run.begin()
        self._do(fragments.login())

    @rule(line=QUERIES)
    def query(self, line: str) -> None:
        self._do(fragments.command(line))

    @rule(line=DELETIONS)
    def delete(self, line: str) -> None:
        self._do(fragments.command(line))

    @rule()
    def reset_marks(self) -> None:
        self._do(fragments.command("RSET"))

    @rule(line=RETRIEVALS)
    def retrieve(self, line: str) -> None:
        self._do(fragments.command(line))

    @rule(how=st.sampled_from(fragments.ENDINGS))
    def end_and_log_in_again(self, how: str) -> None:
        self._do(fragments.end_and_login(how))

    @rule()
    def second_login(self) -> None:
        self.attempts += 1
        self._do(fragments.second_login(self.attempts))

    @precondition(lambda self: self.context.pipelining)
    @rule(batch=st.lists(COMMANDS_DRAWN, min_size=2, max_size=fragments.MAX_BATCH))
    def pipelined_batch(self, batch: list[str]) -> None:
        self.pipelined = True
        self._do(fragments.pipelined(batch))

    @invariant()
    def every_answer_matches_the_model(self) -> None:
        new = self.run.checks[self.judged :]
        self.judged = len(self.run.checks)
        bad = [c for c in new if fails_run(c.outcome, self.context.strict)]
        if not bad:
            return
        self.context.record(
            Failure(
                list(self.lines),
                bad,
                list(self.run.transcript.entries),
                self.pipelined,
            )
        )
        first = bad[0]
        raise ModelMismatch(
            f"{first.requirement} ({first.outcome.value}): expected {first.expected}; "
            f"got {first.actual}"
        )

    def teardown(self) -> None:
        # An answer still owed to the last action is judged here: an example
        # may end with the command that breaks a requirement.  Hypothesis
        # calls teardown from a ``finally``: when the example is ending in an
        # exception of its own (a draw past the end of a shrunk example), a
        # failure raised here would replace it, so the answer is then only read.
        ending_normally = sys.exception() is None
        self._settle()
        try:
            if ending_normally:
                self.every_answer_matches_the_model()
        finally:
            self.run.finish()
