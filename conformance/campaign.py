"""A whole run: probe the server, select scenarios, run them over the account
pool (in parallel when asked), fold passive findings, and build the
:class:`RunResult` that every report is rendered from.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from conformance import __version__
from conformance.mailbox_access import prepare_target
from conformance.outcomes import Outcome
from conformance.pop3 import Finding
from conformance.probe import ServerProfile
from conformance.results import PassiveFinding, RunResult, ScenarioResult
from conformance.runner import ScenarioRun
from conformance.scenario.steps import Scenario
from conformance.target import AccountPool, Target
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
            outcome = broken(req)
            if code == "bad-response-code" and not profile.advertises("RESP-CODES"):
                # RFC 2449 section 8: codes are only promised where RESP-CODES is advertised.
                outcome = Outcome.INFO
            entry.outcome = outcome
            out.append(entry)
        return out


def run_leased(
    scenario: Scenario,
    target: Target,
    profile: ServerProfile,
    pool: AccountPool,
    passive: PassiveCollector,
) -> ScenarioResult:
    """Run one scenario on accounts leased from the pool (the campaign's and the plugin's unit)."""
    apop = scenario.login == "apop"
    eligible = [a for a in target.accounts if a.apop == apop]
    wanted = min(scenario.accounts, len(eligible))
    if wanted == 0:
        # The runner reports the scenario unsupported: no account of its kind.
        return ScenarioRun(
            scenario, target, profile, [], on_finding=passive.add, timeout=target.timeout
        ).execute()
    with pool.lease(wanted, LEASE_TIMEOUT, where=lambda a: a.apop == apop) as accounts:
        return ScenarioRun(
            scenario, target, profile, accounts, on_finding=passive.add, timeout=target.timeout
        ).execute()


@dataclass
class RunOptions:
    strict: bool = False
    jobs: int = 1
    selection: list[str] = field(default_factory=list)


def run_campaign(
    scenarios: Sequence[Scenario],
    target: Target,
    options: RunOptions,
    progress: Callable[[ScenarioResult], None] | None = None,
) -> RunResult:
    """Run the scenarios against the target.

    Raises ConnectError if the server or its deliverer cannot be reached, and
    ProvisionError if the provisioner refuses the accounts (a recipient
    rejected, a mailbox that cannot be read), before any scenario runs.
    """
    started_wall = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    started = time.monotonic()
    profile = prepare_target(target)
    pool = AccountPool(target.accounts)
    passive = PassiveCollector()
    progress_lock = threading.Lock()

    def one(scenario: Scenario) -> ScenarioResult:
        result = run_leased(scenario, target, profile, pool, passive)
        if progress is not None:
            with progress_lock:
                progress(result)
        return result

    if options.jobs <= 1:
        results = [one(s) for s in scenarios]
    else:
        with ThreadPoolExecutor(max_workers=options.jobs) as executor:
            results = list(executor.map(one, scenarios))
    return RunResult(
        tool_version=__version__,
        started=started_wall,
        duration_s=time.monotonic() - started,
        target={**target.describe(), **profile.describe()},
        scenarios=results,
        passive=passive.results(profile),
        strict=options.strict,
        selection=list(options.selection),
    )
