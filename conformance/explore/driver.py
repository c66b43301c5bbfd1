"""One exploration from start to verdict: search, shrink, emit, replay, grade.

hypothesis drives :class:`~conformance.explore.machine.ExploreMachine` with a
fixed seed, ``deadline=None`` (a live server has no business being timed by
hypothesis) and no example database (a run is repeated with ``--seed``, not
with a hidden folder).  The search stops at the example count or when the
wall-clock budget is spent, whichever comes first; shrinking a failure has a
budget of its own.  The minimal failing sequence is written as a scenario
file and replayed once: a failure that does not come back is
``nondeterministic``, and so is one that hypothesis itself saw pass and fail
(``Flaky``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, Verbosity, settings
from hypothesis.errors import Flaky
from hypothesis.stateful import run_state_machine_as_test

from conformance import __version__
from conformance.campaign import PassiveCollector
from conformance.catalog import section_of
from conformance.explore.emit import DEFAULT_DIR, Emitted, scenario_text, write_scenario
from conformance.explore.machine import Context, Exhausted, ExploreMachine, Failure, ModelMismatch
from conformance.explore.replay import nondeterministic, replay, reproduced
from conformance.mailbox_access import Pop3Access
from conformance.outcomes import Outcome
from conformance.probe import ServerProfile, probe
from conformance.results import RunResult, ScenarioResult
from conformance.secrets import for_accounts, scrub_result
from conformance.target import Account, Target, secrets_of
from conformance.verdicts import make_check

# The requirement an exploration as a whole is filed under: "the client may
# now issue any of the following POP3 commands repeatedly" (RFC 1939 section 5).
EXPLORE_REQUIREMENT = "RFC1939-5-1"


class ExploreError(Exception):
    """The target cannot be explored (no disposable account, no known content)."""


@dataclass
class ExploreOptions:
    budget_s: float = 60.0
    examples: int = 200
    seed: int | None = None  # None: a fresh random seed (printed, so the run can be repeated)
    steps: int = 25  # rules per example at most (hypothesis stateful_step_count)
    shrink_budget_s: float = 120.0
    mailbox: str = "standard"
    strict: bool = False
    emit_dir: Path = DEFAULT_DIR


@dataclass
class Exploration:
    """What one exploration found, and the figures of the search."""

    seed: int
    result: ScenarioResult
    run: RunResult
    examples: int
    commands: int
    search_s: float  # wall-clock seconds of search and shrinking (not the replay)
    failure: Failure | None = None
    emitted: Emitted | None = None
    replayed: ScenarioResult | None = None
    notes: list[str] = field(default_factory=list)
    found_after_s: float | None = None  # search seconds until the first failing example

    @property
    def found(self) -> bool:
        return self.failure is not None

    @property
    def commands_per_s(self) -> float:
        return self.commands / self.search_s if self.search_s > 0 else 0.0


def new_seed() -> int:
    return secrets.randbelow(2**32)


def hypothesis_settings(options: ExploreOptions, base: settings | None = None) -> settings:
    """``base`` (a profile) with what a live exploration must have."""
    return settings(
        base,
        max_examples=max(1, options.examples),
        stateful_step_count=max(1, options.steps),
        deadline=None,
        database=None,
        # No explain phase: it re-runs examples against the server for a
        # report we write ourselves.
        phases=(Phase.generate, Phase.shrink),
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
        print_blob=False,
        verbosity=Verbosity.quiet,
    )


@contextlib.contextmanager
def fewer_collections(threshold: int = 50_000) -> Iterator[None]:
    """Run the cyclic garbage collector less often, for the search only.

    hypothesis allocates many short-lived objects at every step: at the
    default threshold (700) the collector ran about 1,300 times in a 20 s
    exploration, 3% of its time; at 50,000, about 20 times.
    """
    saved = gc.get_threshold()
    gc.set_threshold(threshold, *saved[1:])
    try:
        yield
    finally:
        gc.set_threshold(*saved)


def explorable_account(target: Target) -> Account:
    """The first account whose mail may be deleted; exploration deletes mail."""
    if not target.provisioner.available:
        raise ExploreError(
            "exploring needs known mailbox content: give a provisioner (--provision) "
            f"({target.provisioner.reason})"
        )
    if target.provisioner.kind == "existing":
        # Random sequences of DELE and QUIT would wear a real mailbox down.
        raise ExploreError(
            "exploring seeds a corpus before each example: --provision existing never does"
        )
    for account in target.accounts:
        if target.is_disposable(account):
            return account
    raise ExploreError("exploring deletes mail: declare an account --disposable")


def explore(
    target: Target,
    options: ExploreOptions,
    *,
    base: settings | None = None,
    notify: Callable[[str], None] = lambda message: None,
) -> Exploration:
    """Explore ``target``; raises ConnectError if unreachable, ExploreError if not explorable."""
    account = explorable_account(target)
    seed = options.seed if options.seed is not None else new_seed()
    started_wall = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    started = time.monotonic()
    profile = probe(target.host, target.port, target.timeout, target.connect_timeout)
    target.provisioner.prepare(Pop3Access(target, profile))
    passive = PassiveCollector(for_accounts(target.accounts, secrets_of(target)))
    context = Context(
        target,
        profile,
        account,
        seed=seed,
        mailbox=options.mailbox,
        strict=options.strict,
        budget_s=options.budget_s,
        shrink_budget_s=options.shrink_budget_s,
        on_finding=passive.add,
        notify=notify,
    )

    def factory() -> ExploreMachine:
        return ExploreMachine(context)

    # hypothesis reads the seed of a state machine from this attribute (what
    # @seed sets); it overrides derandomize, so a profile cannot change it.
    factory._hypothesis_internal_use_seed = seed  # type: ignore[attr-defined]
    flaky = False
    flaky_detail = ""
    try:
        # A factory is what hypothesis calls to make each machine; its typing
        # (untyped in older releases, class-only in newer ones) is not kept.
        run_machine: Any = run_state_machine_as_test
        with fewer_collections():
            run_machine(factory, settings=hypothesis_settings(options, base))
    except Exhausted:
        pass  # the budget ended the search; what was found is in the context
    except Flaky as exc:
        # Stopping an example in the middle (the budget) looks to hypothesis
        # like an example that drew less than before: that is not the server.
        if not stopped_by_budget(exc):
            flaky = True
            flaky_detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    except ModelMismatch:
        pass  # the minimal failure, recorded in the context too
    search_s = time.monotonic() - started

    exploration = _grade(context, options, profile, account, seed, flaky, passive)
    # The results boundary: failing checks and transcripts quote the server.
    exploration.result = scrub_result(exploration.result, passive.secrets)
    exploration.search_s = search_s
    if flaky_detail:
        exploration.notes.append(passive.secrets.scrub(f"hypothesis: {flaky_detail}"))
    if context.first_failure_at is not None:
        exploration.found_after_s = context.first_failure_at - context.started
    exploration.run = RunResult(
        tool_version=__version__,
        started=started_wall,
        duration_s=time.monotonic() - started,
        target={**target.describe(), **profile.describe()},
        scenarios=[exploration.result],
        passive=passive.results(profile),
        strict=options.strict,
    )
    return exploration


def _grade(
    context: Context,
    options: ExploreOptions,
    profile: ServerProfile,
    account: Account,
    seed: int,
    flaky: bool,
    passive: PassiveCollector,
) -> Exploration:
    failure = context.minimal
    base = _base_result(seed)
    exploration = Exploration(
        seed, base, _empty_run(), context.examples, context.commands, 0.0, failure
    )
    if failure is None:
        base.outcome = Outcome.PASS
        base.checks = [
            make_check(
                EXPLORE_REQUIREMENT,
                Outcome.PASS,
                "every answer matches the mailbox model",
                f"{context.examples} examples, {context.commands} commands: nothing failed",
                f"explore --seed {seed}",
            )
        ]
        return exploration

    target = context.target
    first = failure.checks[0]
    text = scenario_text(
        seed=seed,
        lines=failure.lines,
        requirements=failure.requirements,
        mailbox=options.mailbox,
        pipelined=failure.pipelined,
        found_against=f"{target.host}:{target.port}",
        summary=f"{first.requirement} {first.outcome.value}",
        timeout_s=context.step_timeout_s,
    )
    emitted = write_scenario(text, options.emit_dir)
    exploration.emitted = emitted
    replayed = replay(emitted.scenario, target, profile, account, passive.add)
    exploration.replayed = replayed
    base.file = str(emitted.path)
    base.requirements = failure.requirements
    base.section = section_of(failure.requirements[0])
    base.description = (
        f"A sequence of {len(failure.lines)} scenario lines, shrunk from "
        f"{context.examples} examples, written to {emitted.path}."
    )
    if flaky or not reproduced(replayed, options.strict):
        why = (
            "hypothesis saw this sequence both pass and fail"
            if flaky
            else "the same sequence passed when its scenario file was replayed"
        )
        base.outcome = Outcome.NONDETERMINISTIC
        base.reason = f"{first.requirement}: {why}"
        base.checks = nondeterministic(failure.checks, why)
        base.transcript = failure.transcript
        exploration.notes.append(why)
        return exploration
    base.outcome = replayed.outcome
    base.reason = replayed.reason
    base.checks = replayed.checks
    base.transcript = replayed.transcript
    return exploration


def stopped_by_budget(exc: BaseException) -> bool:
    """Whether ``exc`` was raised while hypothesis handled an :class:`Exhausted`."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, Exhausted):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _base_result(seed: int) -> ScenarioResult:
    return ScenarioResult(
        id=f"explore.{seed}",
        title=f"model-based exploration, seed {seed}",
        file="",
        section=section_of(EXPLORE_REQUIREMENT),
        requirements=[EXPLORE_REQUIREMENT],
        tags=["explore"],
        outcome=Outcome.PASS,
        description="Random command sequences on one seeded mailbox, each answer judged "
        "by the mailbox model.",
        expectation="Every answer matches the model: status, totals, listings, "
        "content (SHA-256) and unique-ids stable across sessions.",
    )


def _empty_run() -> RunResult:
    return RunResult(tool_version=__version__, started="", duration_s=0.0, target={}, scenarios=[])
