"""A run folded by requirement instead of by scenario.

The certification report and the matrix both ask "how did the server do on
RFC1939-5.RSET-1?", so the fold is written once, here.

A requirement's outcome is the worst over the checks and passive findings
that cite it.  A requirement that a scenario lists but no check cites (the
mailbox model cites the precise rule only when it finds a difference; a
scenario that is unsupported makes no checks at all) takes the worst outcome
of the scenarios that list it, and says so (``source == "scenarios"``), except
a scenario's fail or non-strict: those belong to the requirements its checks
cite.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from conformance.catalog import load_catalog
from conformance.outcomes import Outcome, worst
from conformance.results import CheckResult, RunResult

_RFC = re.compile(r"^RFC(\d+)")


@dataclass
class RequirementResult:
    id: str
    rfc: str  # "RFC1939"; the ID itself when it has no RFC number
    level: str  # the catalog's level text ("MUST (pre-2119)", "implied", ...)
    grade: str  # how breaking it grades: MUST, SHOULD, MAY or info
    text: str  # the quoted sentence
    outcome: Outcome
    source: str  # "checks" or "scenarios" (see the module doc)
    scenarios: list[str] = field(default_factory=list)  # ids, sorted
    checks: int = 0  # how many checks cite it
    worst_in: list[str] = field(default_factory=list)  # ids where ``outcome`` was seen, sorted

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "rfc": self.rfc,
            "level": self.level,
            "grade": self.grade,
            "text": self.text,
            "outcome": self.outcome.value,
            "source": self.source,
            "scenarios": self.scenarios,
            "checks": self.checks,
            "worst_in": self.worst_in,
        }


@dataclass(frozen=True)
class Failure:
    """One ``fail`` of a run: which requirement, where, and why in one line."""

    requirement: str
    scenario: str  # a scenario id, or "passive: CODE" for a passive finding
    reason: str


def rfc_of(req_id: str) -> str:
    known = load_catalog().get(req_id)
    if known is not None:
        return f"RFC{known.rfc}"
    match = _RFC.match(req_id)
    return match[0] if match else req_id


def order_key(req_id: str) -> tuple[int, int, str]:
    """Catalog order for known IDs (the RFC's own order), then unknown IDs by name."""
    index = _catalog_index().get(req_id)
    if index is not None:
        return (0, index, "")
    return (1, 0, req_id)


def _catalog_index() -> dict[str, int]:
    return {rid: i for i, rid in enumerate(load_catalog())}


def requirement_results(run: RunResult) -> list[RequirementResult]:
    """Every requirement the run cites, in catalog order, with its folded outcome."""
    # requirement -> [(outcome, where)]: from checks and passive findings, and
    # from the scenarios that list it (used only when nothing cites it).
    judged: dict[str, list[tuple[Outcome, str]]] = {}
    listed: dict[str, list[tuple[Outcome, str]]] = {}
    scenarios: dict[str, set[str]] = {}
    levels: dict[str, str] = {}
    counts: dict[str, int] = {}
    for s in run.scenarios:
        for req in s.requirements:
            # A scenario's fail or non-strict belongs to the requirements its
            # checks cite, never to one it merely lists: a FAIL in a matrix
            # cell must mean that requirement was broken.
            if s.outcome not in (Outcome.FAIL, Outcome.NON_STRICT):
                listed.setdefault(req, []).append((s.outcome, s.id))
            scenarios.setdefault(req, set()).add(s.id)
        for c in s.checks:
            judged.setdefault(c.requirement, []).append((c.outcome, s.id))
            scenarios.setdefault(c.requirement, set()).add(s.id)
            levels.setdefault(c.requirement, c.level)
            counts[c.requirement] = counts.get(c.requirement, 0) + 1
    for p in run.passive:
        judged.setdefault(p.requirement, []).append((p.outcome, p.scenario))
        scenarios.setdefault(p.requirement, set()).add(p.scenario)
    catalog = load_catalog()
    out = []
    for req in sorted(judged.keys() | listed.keys(), key=order_key):
        known = catalog.get(req)
        source = "checks" if req in judged else "scenarios"
        seen = judged[req] if req in judged else listed[req]
        outcome = worst([o for o, _ in seen])
        out.append(
            RequirementResult(
                id=req,
                rfc=rfc_of(req),
                level=known.level if known else levels.get(req, "MUST"),
                grade=known.grade.value if known else levels.get(req, "MUST"),
                text=known.text if known else "",
                outcome=outcome,
                source=source,
                scenarios=sorted(scenarios.get(req, set())),
                checks=counts.get(req, 0),
                worst_in=sorted({where for o, where in seen if o is outcome}),
            )
        )
    return out


def one_line(check: CheckResult) -> str:
    """Why a check failed, on one line: what came and what was expected."""
    if check.expected:
        text = f"got {check.actual or '(nothing)'}; expected {check.expected}"
    else:
        text = check.note or check.actual
    return text.splitlines()[0] if text else ""


def failures(run: RunResult) -> list[Failure]:
    """Every ``fail`` check and passive finding, in requirement order, duplicates merged."""
    found: set[Failure] = set()
    for s in run.scenarios:
        for c in s.checks:
            if c.outcome is Outcome.FAIL:
                found.add(Failure(c.requirement, s.id, one_line(c)))
    for p in run.passive:
        if p.outcome is Outcome.FAIL:
            found.add(Failure(p.requirement, f"passive: {p.code}", p.detail.splitlines()[0]))
    return sorted(found, key=lambda f: (order_key(f.requirement), f.scenario, f.reason))
