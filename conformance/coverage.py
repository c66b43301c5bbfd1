"""Which requirements the suites cover, and why the rest cannot be judged black-box.

A requirement is *covered* when a scenario cites it (in its ``requirements``
header or a ``check`` line) or a passive check on every exchange names it.
It is *untestable* when a file in ``data/untestable/`` (one per RFC) gives the written reason why
a client on the wire cannot judge it (a client-side rule, a server's
configuration, an operator's duty).  Everything else is *testable*, and a
testable requirement without a scenario is a gap that the coverage test names.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources

from conformance.catalog import Requirement, load_catalog
from conformance.pop3 import CAPA_FINDINGS, FINDING_REQUIREMENTS
from conformance.scenario.steps import Check, Scenario, Step, When

# The passive checks of every exchange (codec findings) and the greeting check
# that every 'open' makes (runner): they cover these without a scenario of their own.
PASSIVE_SOURCES: dict[str, str] = {
    **{req: f"passive: {code}" for code, req in sorted(FINDING_REQUIREMENTS.items())},
    **{req: f"passive: {code}" for code, req in sorted(CAPA_FINDINGS.items())},
    "RFC1939-3-2": "passive: greeting",
}


def load_untestable() -> dict[str, str]:
    """Requirement ID -> the reason no black-box scenario can judge it.

    Each file holds one table, ``[untestable]``, of ``"ID" = "reason"``.
    """
    folder = resources.files("conformance.data").joinpath("untestable")
    reasons: dict[str, str] = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            table = tomllib.loads(entry.read_text("utf-8")).get("untestable", {})
            reasons.update({str(k): str(v) for k, v in table.items()})
    return reasons


def _checks(steps: Iterable[Step]) -> Iterable[str]:
    for step in steps:
        if isinstance(step, Check):
            yield step.requirement
        elif isinstance(step, When):
            yield from _checks(step.body)


def citations(scenarios: Sequence[Scenario]) -> dict[str, list[str]]:
    """Requirement ID -> the ids of the scenarios that cite it, sorted."""
    cited: dict[str, set[str]] = {}
    for scenario in scenarios:
        for req in [*scenario.requirements, *_checks(scenario.steps)]:
            cited.setdefault(req, set()).add(scenario.id)
    return {req: sorted(ids) for req, ids in cited.items()}


@dataclass
class RfcCoverage:
    rfc: str
    total: int = 0
    covered: int = 0
    untestable: int = 0
    gaps: list[str] = field(default_factory=list)  # testable, not covered

    @property
    def testable(self) -> int:
        return self.total - self.untestable


@dataclass
class Coverage:
    by_requirement: dict[str, list[str]]  # ID -> scenario ids and passive sources
    untestable: dict[str, str]
    per_rfc: list[RfcCoverage]
    unknown: dict[str, list[str]]  # cited IDs missing from the catalog -> citing scenarios

    def status(self, req_id: str) -> str:
        if self.by_requirement.get(req_id):
            return "covered"
        return "untestable" if req_id in self.untestable else "gap"

    def gaps(self, levels: Iterable[str] = ("MUST", "SHOULD")) -> list[Requirement]:
        wanted = set(levels)
        return [
            r
            for r in load_catalog().values()
            if r.grade.value in wanted and self.status(r.id) == "gap"
        ]


def measure(scenarios: Sequence[Scenario]) -> Coverage:
    catalog = load_catalog()
    cited = citations(scenarios)
    untestable = load_untestable()
    by_req: dict[str, list[str]] = {}
    for req_id in catalog:
        sources = list(cited.get(req_id, []))
        if req_id in PASSIVE_SOURCES:
            sources.append(PASSIVE_SOURCES[req_id])
        by_req[req_id] = sources
    per: dict[str, RfcCoverage] = {}
    for req in catalog.values():
        row = per.setdefault(req.rfc, RfcCoverage(req.rfc))
        row.total += 1
        if by_req[req.id]:
            row.covered += 1
        elif req.id in untestable:
            row.untestable += 1
        else:
            row.gaps.append(req.id)
    unknown = {req: ids for req, ids in cited.items() if req not in catalog}
    return Coverage(by_req, untestable, [per[k] for k in sorted(per)], unknown)
