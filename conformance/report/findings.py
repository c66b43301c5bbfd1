"""Fails that share one root cause, counted once.

One server defect shows up in every scenario that meets it: Mailutils's
extra line after TOP's headers failed six scenarios, three of which test
something else.  A finding is one (requirement, command, wrong answer)
with the scenarios it touched; the summary, the certificate and the matrix
count findings, and the HTML report opens with them.

"The same wrong answer" ignores numbers and digests (message numbers,
sizes, offsets differ from one scenario to the next) and, for a body that
differs, where it differs: the defect is the same.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from conformance.outcomes import Outcome
from conformance.results import CheckResult, RunResult

# What makes a root cause worth a finding: what breaks a rule.
COUNTED = (Outcome.FAIL, Outcome.NON_STRICT, Outcome.NONDETERMINISTIC)
_NUMBERS = re.compile(r"\b[0-9a-f]{8,}\b|\d+")
_CONTENT = re.compile(r"first difference at octet.*", re.DOTALL)


@dataclass
class Finding:
    requirement: str
    level: str
    quote: str
    outcome: Outcome
    command: str  # the keyword whose answer was wrong ("" when not about one answer)
    expected: str
    actual: str  # as first seen
    scenarios: list[str] = field(default_factory=list)
    wheres: list[str] = field(default_factory=list)
    passive: bool = False

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.requirement, self.command, signature(self.actual))


def signature(actual: str) -> str:
    """An answer with what varies between scenarios (numbers, digests, offsets) left out."""
    return _NUMBERS.sub("#", _CONTENT.sub("content differs", actual))


def _keyword(check: CheckResult) -> str:
    return check.command.split(" ", 1)[0].upper() if check.command else ""


def root_causes(run: RunResult) -> list[Finding]:
    """The distinct findings of ``run``, the ones touching the most scenarios first."""
    found: dict[tuple[str, str, str], Finding] = {}
    for scenario in run.scenarios:
        for check in scenario.checks:
            if check.outcome not in COUNTED:
                continue
            candidate = Finding(
                check.requirement,
                check.level,
                check.quote,
                check.outcome,
                _keyword(check),
                check.expected,
                check.actual,
            )
            finding = found.setdefault(candidate.key, candidate)
            if scenario.id not in finding.scenarios:
                finding.scenarios.append(scenario.id)
            finding.wheres.append(check.where)
    for passive in run.passive:
        if passive.outcome not in COUNTED:
            continue
        finding = Finding(
            passive.requirement,
            "",
            "",
            passive.outcome,
            passive.code,
            "",
            passive.detail,
            passive=True,
        )
        finding = found.setdefault(finding.key, finding)
        if passive.scenario not in finding.scenarios:
            finding.scenarios.append(passive.scenario)
    return sorted(found.values(), key=lambda f: (-len(f.scenarios), f.requirement, f.command))


def count_line(run: RunResult) -> str:
    """ "3 distinct findings (7 checks in 5 scenarios, 1 passive)", for headlines."""
    findings = root_causes(run)
    checks = sum(len(f.wheres) for f in findings if not f.passive)
    scenarios = {s for f in findings for s in f.scenarios if not f.passive}
    passive = sum(f.passive for f in findings)
    word = "finding" if len(findings) == 1 else "findings"
    tail = f", {passive} passive" if passive else ""
    return (
        f"{len(findings)} distinct {word} ({checks} check{'s' * (checks != 1)} "
        f"in {len(scenarios)} scenario{'s' * (len(scenarios) != 1)}{tail})"
    )
