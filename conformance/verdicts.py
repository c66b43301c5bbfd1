"""Where a verdict is graded: an answer against the alternatives a scenario accepts.

An ``S:`` step lists the behaviours it knows, each with a grade (Autobahn's
idea: several legal behaviours can all pass).  The first alternative that
matches decides; when none matches, the check takes the grade that breaking
its requirement carries (MUST: fail, SHOULD: non-strict, MAY: info).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass

from conformance.catalog import requirement as catalog_requirement
from conformance.model import Discrepancy
from conformance.outcomes import Level, Outcome
from conformance.pop3 import Response
from conformance.pop3.spec import VALIDITY_REQUIREMENTS
from conformance.results import CheckResult
from conformance.scenario.steps import Alternative, Condition

GRADES: dict[str, Outcome] = {
    "pass": Outcome.PASS,
    "fail": Outcome.FAIL,
    "non-strict": Outcome.NON_STRICT,
    "info": Outcome.INFO,
}


@dataclass
class Match:
    alternative: Alternative | None  # None: nothing matched
    discrepancies: list[Discrepancy]  # what the model found wrong (for "model")


def describe_alternative(alt: Alternative, words: list[str], model: str | None = None) -> str:
    """How an alternative reads in Expected."""
    if alt.form == "status":
        parts = [alt.status or ""]
        if alt.code:
            parts.append(f"[{alt.code}]")
        parts += words
        return " ".join(parts)
    if alt.form == "regex":
        return f"a status line matching /{alt.pattern}/"
    if alt.form == "model":
        return model or "the answer the mailbox model computes"
    if alt.form == "closed":
        return "the server closes the connection"
    if alt.form == "timeout":
        return "no answer before the deadline"
    return "any answer"


def matches(
    alt: Alternative,
    response: Response,
    words: list[str],
    model_discrepancies: Callable[[], list[Discrepancy]],
) -> tuple[bool, list[Discrepancy]]:
    """Whether ``response`` is the behaviour ``alt`` describes."""
    if alt.form == "any":
        return True, []
    if alt.form == "closed":
        return response.kind == "closed", []
    if alt.form == "timeout":
        return response.kind == "timeout", []
    if alt.form == "regex" and response.kind == "continuation":
        # A SASL "+ challenge" line (RFC 5034) is judged by its text like any line.
        assert alt.pattern is not None
        line = response.status_line.rstrip(b"\r\n").decode("latin-1")
        return re.search(alt.pattern, line) is not None, []
    if response.kind not in ("status", "multi"):
        # A close or a timeout where an answer was due matches no status form.
        if alt.form == "model":
            return False, model_discrepancies()
        return False, []
    if alt.form == "model":
        # A deviation the catalog tolerates still matches (graded info below).
        found = model_discrepancies()
        return all(d.tolerated for d in found), found
    if alt.form == "regex":
        assert alt.pattern is not None
        line = response.status_line.rstrip(b"\r\n").decode("latin-1")
        return re.search(alt.pattern, line) is not None, []
    if response.status != alt.status:
        return False, []
    if alt.code is not None and (response.code_text or "").upper() != alt.code.upper():
        return False, []
    if words:
        got = response.text.split()
        if got[: len(words)] != words:
            return False, []
    return True, []


def condition_holds(
    condition: Condition | None, capabilities: frozenset[str], labels: set[str]
) -> bool:
    if condition is None:
        return True
    if condition.kind == "capa":
        held = condition.name.upper() in capabilities
    else:
        held = condition.name in labels
    return held != condition.negate


def about_validity(requirement: str, keyword: str) -> bool:
    """Whether ``requirement`` is a rule about where and how ``keyword`` may be
    used: a validity rule, or one of the command's own (RFC1939-7.USER-1)."""
    if requirement in VALIDITY_REQUIREMENTS:
        return True
    return bool(keyword) and f".{keyword.upper()}-" in requirement


def grade_check(
    *,
    req_id: str,
    alternatives: tuple[Alternative, ...],
    response: Response,
    expanded_words: list[list[str]],
    model_discrepancies: Callable[[], list[Discrepancy]],
    capabilities: frozenset[str],
    labels: set[str],
    where: str,
    model_requirement: str | None = None,
    model_expected: str | None = None,
    keyword: str = "",
) -> tuple[CheckResult, Alternative | None]:
    """Grade one answer; returns the check and the alternative that matched.

    A ``model`` alternative checks the requirement the model cites for the
    command (RETR: RFC1939-5.RETR-1 ...), not the scenario's ``check`` line:
    the model knows which rule each answer is bound by.
    """
    found: list[Discrepancy] = []
    applicable = [
        (alt, words)
        for alt, words in zip(alternatives, expanded_words, strict=True)
        if condition_holds(alt.condition, capabilities, labels)
    ]
    # What a reader should take as "the right answer": the passing behaviours;
    # the tolerated ones (info, non-strict) are named as such, never beside them.
    right = [describe_alternative(a, w, model_expected) for a, w in applicable if a.grade == "pass"]
    expected = [
        describe_alternative(a, w, model_expected)
        for a, w in applicable
        if a.grade in ("pass", "info", "non-strict")
    ]
    for alt, words in applicable:
        ok, discrepancies = matches(alt, response, words, model_discrepancies)
        found = found or discrepancies
        if ok and alt.form == "model" and discrepancies:
            first = discrepancies[0]
            return (
                make_check(
                    first.requirement,
                    discrepancy_outcome(first),
                    first.expected,
                    first.actual,
                    where,
                    "tolerated: the catalog lets a server do this, so it is recorded",
                ),
                alt,
            )
        if ok:
            outcome = GRADES[alt.grade]
            shown = describe_alternative(alt, words, model_expected)
            note = alt.note or f"matched: {shown}"
            checked = model_requirement if alt.form == "model" and model_requirement else req_id
            wanted = " or ".join(right) or "(no answer passes)"
            if alt.grade != "pass":
                wanted += f"; {shown} is graded {alt.grade}"
            return _check(checked, outcome, wanted, response, where, note), alt
    # Nothing matched: the most precise requirement is the model's, if it found
    # one.  Where no alternative was "model", the model still says whether the
    # command itself was invalid there (TOP 1 x answered +OK, in a scenario
    # about response codes): that breaks its own rule, graded where the other
    # scenarios meeting the same defect grade it; one root cause, one
    # requirement.  A wrong count or content is left to the scenario's own
    # requirement: it is usually what the scenario provoked (STAT after an
    # RSET that did nothing is about RSET).
    # But a scenario whose own requirement is about this command's validity
    # (USER-1: USER only in AUTHORIZATION) is graded against it; and an answer
    # that is no status line at all is the passive finding's (not-a-status),
    # not a second finding here.
    if not found and response.ok and not about_validity(req_id, keyword):
        found = [d for d in model_discrepancies() if d.requirement in VALIDITY_REQUIREMENTS]
    if found:
        first = next((d for d in found if not d.tolerated), found[0])
        level = _level(first.requirement)
        detail = "; ".join(f"{d.requirement}: expected {d.expected}, got {d.actual}" for d in found)
        return (
            CheckResult(
                requirement=first.requirement,
                level=level.value,
                quote=_quote(first.requirement),
                outcome=level.outcome_when_broken(),
                expected=first.expected,
                actual=first.actual,
                where=where,
                note=detail,
            ),
            None,
        )
    level = _level(req_id)
    return (
        _check(
            req_id,
            level.outcome_when_broken(),
            " or ".join(expected) or "(no alternative applies)",
            response,
            where,
            "no accepted behaviour matched",
        ),
        None,
    )


def _level(req_id: str) -> Level:
    return _graded_as(req_id)[0]


def _quote(req_id: str) -> str:
    return _graded_as(req_id)[2]


@functools.lru_cache(maxsize=1024)
def _graded_as(req_id: str) -> tuple[Level, str, str]:
    """The level a requirement is graded at, its value and its quote (MUST and no
    quote for an ID the catalog lacks): looked up once, for every check made."""
    try:
        found = catalog_requirement(req_id)
    except KeyError:
        return Level.MUST, Level.MUST.value, ""
    return found.grade, found.grade.value, found.text


def _check(
    req_id: str, outcome: Outcome, expected: str, response: Response, where: str, note: str
) -> CheckResult:
    return make_check(req_id, outcome, expected, response.describe(), where, note)


def make_check(
    req_id: str, outcome: Outcome, expected: str, actual: str, where: str, note: str = ""
) -> CheckResult:
    """A check graded by the runner itself (login, snapshots, closes)."""
    _, level, quote = _graded_as(req_id)
    return CheckResult(
        requirement=req_id,
        level=level,
        quote=quote,
        outcome=outcome,
        expected=expected,
        actual=actual,
        where=where,
        note=note,
    )


def broken(req_id: str) -> Outcome:
    """The grade for breaking ``req_id`` (by its level)."""
    return _level(req_id).outcome_when_broken()


def discrepancy_outcome(found: Discrepancy) -> Outcome:
    """A model discrepancy's grade: info where the catalog tolerates it, else by its level."""
    return Outcome.INFO if found.tolerated else broken(found.requirement)
