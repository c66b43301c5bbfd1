"""The graded outcome vocabulary and requirement levels.

Autobahn|Testsuite grades each case instead of a bare pass/fail; we do the
same so that several legal behaviours can all pass and a broken SHOULD is
told apart from a broken MUST.
"""

from __future__ import annotations

import enum


class Outcome(enum.Enum):
    PASS = "pass"
    FAIL = "fail"  # the server broke a quoted MUST-level (or implied) requirement
    NON_STRICT = "non-strict"  # a SHOULD was broken
    INFO = "info"  # recorded behaviour, never a verdict
    UNSUPPORTED = "unsupported"  # an optional feature is absent, or the target cannot do it
    WAIVED = "waived"  # a fail or non-strict that a waiver covers, with its reason
    ERROR = "error"  # the harness or the environment failed, not the server
    NONDETERMINISTIC = "nondeterministic"  # the server answered differently on replay

    @property
    def severity(self) -> int:
        """Order used to fold several checks into one scenario outcome (worst wins)."""
        return _SEVERITY[self]


# A proven breach outranks what could not be judged: a scenario with both a
# fail and an error is headed by the fail, so the headline never blames the
# harness for what the server broke (the error is still listed, and still
# fails the run).
_SEVERITY = {
    Outcome.PASS: 0,
    Outcome.INFO: 1,
    Outcome.UNSUPPORTED: 2,
    Outcome.WAIVED: 3,
    Outcome.NON_STRICT: 4,
    Outcome.ERROR: 5,
    Outcome.NONDETERMINISTIC: 6,
    Outcome.FAIL: 7,
}


def worst(outcomes: list[Outcome]) -> Outcome:
    """The most severe outcome of a list (PASS for an empty list)."""
    return max(outcomes, key=lambda o: o.severity, default=Outcome.PASS)


def fails_run(outcome: Outcome, strict: bool = False) -> bool:
    """Whether an outcome makes the whole run fail (style.md, Conventions)."""
    if outcome in (Outcome.FAIL, Outcome.ERROR, Outcome.NONDETERMINISTIC):
        return True
    return strict and outcome is Outcome.NON_STRICT


class Level(enum.Enum):
    MUST = "MUST"
    SHOULD = "SHOULD"
    MAY = "MAY"
    INFO = "info"

    @classmethod
    def parse(cls, text: str) -> Level:
        """Map a catalog level ("MUST (pre-2119)", "implied", "should", ...) to a grading level.

        Implied requirements (grammar, "Possible Responses", "will") are graded
        like MUST: RFC 1939 predates RFC 2119 and states most rules that way.
        Lower-case "should" grades like SHOULD, lower-case "may" like MAY.
        """
        t = text.strip()
        low = t.lower()
        if low.startswith("info") or "informational" in low:
            return cls.INFO
        if t.startswith("MUST") or low.startswith("implied") or t.startswith("must"):
            return cls.MUST
        if "SHOULD" in t or low.startswith("should") or "RECOMMENDED" in t or "advisory" in low:
            return cls.SHOULD
        if "MAY" in t or low.startswith("may") or "OPTIONAL" in t:
            return cls.MAY
        return cls.MUST

    def outcome_when_broken(self) -> Outcome:
        """What breaking a requirement of this level grades as."""
        if self is Level.MUST:
            return Outcome.FAIL
        if self is Level.SHOULD:
            return Outcome.NON_STRICT
        return Outcome.INFO
