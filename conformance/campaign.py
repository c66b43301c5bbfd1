"""A whole run: probe the server, select scenarios, run them over the account
pool (in parallel when asked), fold passive findings, and build the
:class:`RunResult` that every report is rendered from.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from conformance import __version__
from conformance.exits import EXIT_INTERRUPTED, EXIT_UNREACHABLE
from conformance.health import Health, TargetDown
from conformance.mailbox_access import prepare_provisioner
from conformance.outcomes import Outcome
from conformance.pop3 import Finding
from conformance.preflight import check_accounts
from conformance.probe import ServerProfile, probe_target
from conformance.results import PassiveFinding, RunResult, ScenarioResult
from conformance.runner import ScenarioRun
from conformance.scenario.steps import Scenario
from conformance.secrets import Secrets, for_accounts, scrub_finding
from conformance.target import Account, AccountPool, Target, secrets_of
from conformance.verdicts import broken

# How long a scenario may wait for free accounts in the pool.
LEASE_TIMEOUT = 600.0


def default_suite_dirs() -> list[Path]:
    """The scenario files shipped with the package (or the repo's suites/ in a checkout)."""
    shipped = resources.files("conformance") / "suites"
    if shipped.is_dir():
        return [Path(str(shipped))]
    return [Path(__file__).resolve().parent.parent / "suites"]


SLOW_TAG = "slow"


def select(
    scenarios: Sequence[Scenario], patterns: Sequence[str], *, slow: bool = False
) -> list[Scenario]:
    """Scenarios matching any pattern: an id glob, a tag, or a requirement-ID prefix.

    ``RFC1939-5`` selects every scenario citing a requirement of section 5
    (and its commands, ``RFC1939-5.DELE-2``); ``locking`` selects a tag;
    ``core.drop.*`` an id glob.  No pattern selects everything.  Scenarios
    tagged ``slow`` (the 10-minute autologout timer) are left out unless
    ``slow`` is true or the ``slow`` tag is asked for by name.
    """
    if not slow and SLOW_TAG not in patterns:
        scenarios = [s for s in scenarios if SLOW_TAG not in s.tags]
    if not patterns:
        return list(scenarios)

    def hit(s: Scenario, pattern: str) -> bool:
        if fnmatch.fnmatchcase(s.id, pattern) or pattern in s.tags:
            return True
        for req in s.requirements:
            if req == pattern or req.startswith(pattern + ".") or req.startswith(pattern + "-"):
                return True
        return False

    return [s for s in scenarios if any(hit(s, p) for p in patterns)]


@dataclass
class PassiveCollector:
    """Wire-grammar findings, one entry per (requirement, code) for the whole run."""

    # A finding quotes what the server sent, which may echo a secret.
    secrets: Secrets = field(default_factory=Secrets)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _seen: dict[tuple[str, str], PassiveFinding] = field(default_factory=dict)

    def add(self, finding: Finding, scenario: str) -> None:
        key = (finding.requirement, finding.code)
        with self._lock:
            entry = self._seen.get(key)
            if entry is None:
                self._seen[key] = PassiveFinding(
                    finding.requirement, finding.code, finding.detail, scenario
                )
            else:
                entry.count += 1

    def results(self, profile: ServerProfile) -> list[PassiveFinding]:
        out = []
        for (req, code), entry in sorted(self._seen.items()):
            entry.outcome = finding_outcome(req, code, profile)
            out.append(scrub_finding(entry, self.secrets))
        return out


def finding_outcome(requirement: str, code: str, profile: ServerProfile) -> Outcome:
    """The grade of a wire-grammar finding on this server."""
    if code == "bad-response-code" and not profile.advertises("RESP-CODES"):
        # RFC 2449 section 8: codes are only promised where RESP-CODES is advertised.
        return Outcome.INFO
    return broken(requirement)


def run_leased(
    scenario: Scenario,
    target: Target,
    profile: ServerProfile,
    pool: AccountPool,
    passive: PassiveCollector,
    health: Health | None = None,
) -> ScenarioResult:
    """Run one scenario on accounts leased from the pool (the campaign's and the plugin's unit).

    Raises TargetDown when the target stopped answering.
    """
    apop = scenario.login == "apop"
    eligible = [a for a in target.accounts if a.apop == apop]
    wanted = min(scenario.accounts, len(eligible))
    shared = health if health is not None else Health()

    def run(accounts: Sequence[Account]) -> ScenarioResult:
        return ScenarioRun(
            scenario,
            target,
            profile,
            accounts,
            on_finding=passive.add,
            timeout=target.timeout,
            health=shared,
            secrets=passive.secrets,
        ).execute()

    if wanted == 0:
        # The runner reports the scenario unsupported: no account of its kind.
        return run([])
    with pool.lease(wanted, LEASE_TIMEOUT, where=lambda a: a.apop == apop) as accounts:
        return run(accounts)


@dataclass
class RunOptions:
    strict: bool = False
    jobs: int = 1
    selection: list[str] = field(default_factory=list)
    # Log in once with every account before the first scenario (preflight.py).
    preflight: bool = True
    # SHA-256 of the scenario files (scenario/digest.py), carried into the results.
    suite_sha256: str = ""


class CampaignStopped(Exception):
    """The run ended early; ``partial`` holds what was judged before."""

    def __init__(self, message: str, partial: RunResult, exit_code: int) -> None:
        super().__init__(message)
        self.partial = partial
        self.exit_code = exit_code


def run_campaign(
    scenarios: Sequence[Scenario],
    target: Target,
    options: RunOptions,
    progress: Callable[[ScenarioResult], None] | None = None,
    journal: Callable[[RunResult], None] | None = None,
) -> RunResult:
    """Run the scenarios against the target.

    Raises ConnectError if the server or its deliverer cannot be reached,
    PreflightError if an account is refused and ProvisionError if the
    provisioner refuses the accounts (a recipient rejected, a mailbox that
    cannot be read), before any scenario runs; CampaignStopped (with the
    partial result) when the target stops answering during the run or the run
    is interrupted.  ``journal`` gets the results so far after every scenario
    (it decides when to write them).
    """
    started_wall = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    started = time.monotonic()
    profile = probe_target(target)
    secrets = for_accounts(target.accounts, secrets_of(target))
    notes = []
    if options.preflight:
        for note in check_accounts(target, profile, secrets):
            print(f"pop3-conformance: preflight: {note}", file=sys.stderr)
            notes.append(f"preflight: {note}")
    # After the preflight: a wrong password is the account's, not the provisioner's.
    prepare_provisioner(target, profile)
    at_once = min(options.jobs, len(target.accounts)) if target.accounts else 1
    if options.jobs > at_once:
        notes.append(
            f"--jobs {options.jobs}, but {len(target.accounts)} account(s): at most {at_once} "
            "scenario(s) ran at once (each leases its own accounts); give more accounts"
        )
    pool = AccountPool(target.accounts)
    passive = PassiveCollector(secrets)
    health = Health()
    progress_lock = threading.Lock()
    results: list[ScenarioResult] = []

    stop = threading.Event()

    def one(scenario: Scenario) -> None:
        if health.down or stop.is_set():
            return  # the target is down, or the run interrupted: not started, not run
        result = run_leased(scenario, target, profile, pool, passive, health)
        with progress_lock:
            results.append(result)
            if progress is not None:
                progress(result)
        if journal is not None:
            journal(partial())

    def partial() -> RunResult:
        order = {s.id: i for i, s in enumerate(scenarios)}
        with progress_lock:
            done = sorted(results, key=lambda r: order.get(r.id, 0))
        return RunResult(
            tool_version=__version__,
            started=started_wall,
            duration_s=time.monotonic() - started,
            target={**target.describe(), **profile.describe()},
            scenarios=done,
            passive=passive.results(profile),
            strict=options.strict,
            selection=list(options.selection),
            notes=list(notes),
            suite_sha256=options.suite_sha256,
        )

    executor = ThreadPoolExecutor(max_workers=options.jobs) if options.jobs > 1 else None
    try:
        if executor is None:
            for s in scenarios:
                one(s)
        else:
            list(executor.map(one, scenarios))
    except TargetDown as exc:
        stop.set()
        raise CampaignStopped(
            f"the target stopped answering: {exc}", _finish(executor, partial), EXIT_UNREACHABLE
        ) from exc
    except KeyboardInterrupt as exc:
        stop.set()
        raise CampaignStopped("interrupted", _finish(executor, partial), EXIT_INTERRUPTED) from exc
    _finish(executor, partial)
    return partial()


def _finish(executor: ThreadPoolExecutor | None, partial: Callable[[], RunResult]) -> RunResult:
    """Let the scenarios in flight end (bounded by their deadlines), start no other."""
    if executor is not None:
        executor.shutdown(wait=True, cancel_futures=True)
    return partial()
