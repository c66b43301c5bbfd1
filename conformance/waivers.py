"""Waivers: known failures an operator accepts, each with its reason.

A waivers file is TOML, one ``[[waiver]]`` table per waiver::

    [[waiver]]
    scenario = "core.locking.*"          # an id glob ...
    reason = "Dovecot releases the lock after 2 s (mail_max_lock_timeout)"

    [[waiver]]
    requirement = "RFC1939-5.RSET-1"     # ... or a requirement ID (globs allowed)
    reason = "fixed in 2.4, not yet deployed"
    expires = 2027-01-01                 # optional: from this day on it no longer applies

A waiver turns a ``fail`` or ``non-strict`` result into ``waived``
(:data:`~conformance.outcomes.Outcome.WAIVED`); it never hides an ``error``
or a ``nondeterministic`` result, which say the run could not judge.

What a requirement waiver covers: every check and passive finding citing the
requirement, and the whole of every scenario that lists it.  The second part
is needed because a scenario written to test a rule often fails on a check of
a neighbouring rule: when RSET is ignored, the mailbox model reports the
wrong STAT answer (RFC1939-5.STAT-3) that follows, not RSET-1 itself.

A waiver that waived nothing is *stale* (the server was fixed, or the glob is
misspelt) and is reported as such; an expired waiver is reported and not
applied.  Every error in the file is a :class:`WaiverError` naming the file
and the line of the waiver.
"""

from __future__ import annotations

import copy
import datetime as dt
import fnmatch
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conformance.outcomes import Outcome, worst
from conformance.results import CheckResult, RunResult

WAIVABLE = frozenset({Outcome.FAIL, Outcome.NON_STRICT})
_KEYS = {"scenario", "requirement", "reason", "expires"}
_WAIVER_HEADER = re.compile(r"^\s*\[\[\s*waiver\s*\]\]")


class WaiverError(ValueError):
    """A waivers file that cannot be used; the message starts with ``file:line:``."""


@dataclass(frozen=True)
class Waiver:
    reason: str
    scenario: str | None = None  # an id glob
    requirement: str | None = None  # a requirement ID or glob
    expires: dt.date | None = None
    where: str = ""  # "file:line" of its [[waiver]] header

    @property
    def subject(self) -> str:
        """What it names, as written: ``scenario core.locking.*``."""
        if self.scenario is not None:
            return f"scenario {self.scenario}"
        return f"requirement {self.requirement}"

    def expired(self, today: dt.date) -> bool:
        return self.expires is not None and today >= self.expires

    def covers_scenario(self, scenario_id: str, requirements: list[str]) -> bool:
        if self.scenario is not None:
            return fnmatch.fnmatchcase(scenario_id, self.scenario)
        return any(self.covers_requirement(r) for r in requirements)

    def covers_requirement(self, requirement: str) -> bool:
        return self.requirement is not None and fnmatch.fnmatchcase(requirement, self.requirement)


@dataclass
class WaiverUse:
    """What one waiver did in a run."""

    waiver: Waiver
    status: str  # "applied", "stale" or "expired"
    scenarios: list[str] = field(default_factory=list)  # scenario ids it waived (in part)
    requirements: list[str] = field(default_factory=list)  # requirement ids of waived checks

    def to_dict(self) -> dict[str, Any]:
        w = self.waiver
        return {
            "scenario": w.scenario,
            "requirement": w.requirement,
            "reason": w.reason,
            "expires": w.expires.isoformat() if w.expires else None,
            "where": w.where,
            "status": self.status,
            "waived_scenarios": self.scenarios,
            "waived_requirements": self.requirements,
        }


# -- reading ----------------------------------------------------------------------------


def load_waivers(path: Path) -> list[Waiver]:
    """Read a waivers file; :class:`WaiverError` (``file:line: what``) when it is malformed."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise WaiverError(f"{path}:1: cannot read the waivers file: {exc}") from exc
    return parse_waivers(text, str(path))


def parse_waivers(text: str, name: str) -> list[Waiver]:
    """Parse the text of a waivers file; ``name`` is used in error messages."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib says "(at line N, column M)"; lift the line to the front.
        found = re.search(r"at line (\d+)", str(exc))
        raise WaiverError(f"{name}:{found[1] if found else 1}: not valid TOML: {exc}") from exc
    # tomllib keeps no positions: the n-th [[waiver]] header is the n-th table.
    header_lines = [
        i for i, line in enumerate(text.split("\n"), start=1) if _WAIVER_HEADER.match(line)
    ]
    unknown = sorted(set(data) - {"waiver"})
    if unknown:
        raise WaiverError(f"{name}:1: unknown top-level key {unknown[0]!r}; only [[waiver]] tables")
    raw = data.get("waiver", [])
    if not isinstance(raw, list) or not all(isinstance(w, dict) for w in raw):
        raise WaiverError(f"{name}:1: waivers are written as [[waiver]] tables")
    waivers = []
    for i, table in enumerate(raw):
        line = header_lines[i] if i < len(header_lines) else 1
        waivers.append(_waiver(table, f"{name}:{line}", i + 1))
    return waivers


def _waiver(table: dict[str, Any], where: str, number: int) -> Waiver:
    def error(what: str) -> WaiverError:
        return WaiverError(f"{where}: waiver #{number}: {what}")

    unknown = sorted(set(table) - _KEYS)
    if unknown:
        raise error(f"unknown key {unknown[0]!r}; known: {', '.join(sorted(_KEYS))}")
    if ("scenario" in table) == ("requirement" in table):
        raise error('needs exactly one of scenario = "GLOB" and requirement = "ID"')
    subject_key = "scenario" if "scenario" in table else "requirement"
    subject = table[subject_key]
    if not isinstance(subject, str) or not subject.strip():
        raise error(f"{subject_key} must be a non-empty string")
    reason = table.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise error('needs reason = "..." (a non-empty string: why the failure is accepted)')
    expires = table.get("expires")
    if expires is not None:
        expires = _date(expires)
        if expires is None:
            raise error("expires must be a date such as 2027-01-01")
    return Waiver(
        reason=reason.strip(),
        scenario=subject.strip() if subject_key == "scenario" else None,
        requirement=subject.strip() if subject_key == "requirement" else None,
        expires=expires,
        where=where,
    )


def _date(value: object) -> dt.date | None:
    # A TOML local date is a datetime.date; a datetime is a date too, but a
    # time of day on an expiry is a mistake worth reporting.
    if isinstance(value, dt.datetime):
        return None
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return None
    return None


# -- applying ---------------------------------------------------------------------------


def apply_waivers(
    run: RunResult, waivers: list[Waiver], today: dt.date | None = None
) -> tuple[RunResult, list[WaiverUse]]:
    """A copy of ``run`` with the waived results graded ``waived``, and what each waiver did.

    Waivers are tried in file order; the first that covers a result gives it
    its reason.  ``today`` (default: the UTC date) decides expiry.
    """
    day = today or dt.datetime.now(dt.UTC).date()
    out = copy.deepcopy(run)
    uses = [WaiverUse(w, "expired" if w.expired(day) else "stale") for w in waivers]
    live = [u for u in uses if u.status != "expired"]

    def mark(use: WaiverUse, scenario: str, requirement: str) -> None:
        use.status = "applied"
        if scenario not in use.scenarios:
            use.scenarios.append(scenario)
        if requirement not in use.requirements:
            use.requirements.append(requirement)

    for s in out.scenarios:
        whole = next((u for u in live if u.waiver.covers_scenario(s.id, s.requirements)), None)
        reasons: list[str] = []
        for c in s.checks:
            if c.outcome not in WAIVABLE:
                continue
            use = whole or next(
                (u for u in live if u.waiver.covers_requirement(c.requirement)), None
            )
            if use is not None:
                _waive_check(c, use.waiver)
                mark(use, s.id, c.requirement)
                if use.waiver.reason not in reasons:
                    reasons.append(use.waiver.reason)
        if s.outcome in WAIVABLE and s.checks:
            # A runner scenario's outcome is the worst of its checks.
            s.outcome = worst([c.outcome for c in s.checks])
            if s.outcome is Outcome.WAIVED:
                s.reason = "waived: " + "; ".join(reasons)
            elif reasons:
                # The old reason may quote a check that is now waived.
                bad = next(c for c in s.checks if c.outcome is s.outcome)
                s.reason = f"{bad.requirement}: {bad.note or bad.actual}".splitlines()[0]
    for p in out.passive:
        if p.outcome not in WAIVABLE:
            continue
        use = next((u for u in live if u.waiver.covers_requirement(p.requirement)), None)
        if use is not None:
            p.outcome = Outcome.WAIVED
            mark(use, f"passive: {p.code}", p.requirement)
    for use in uses:
        use.scenarios.sort()
        use.requirements.sort()
    return out, uses


def _waive_check(check: CheckResult, waiver: Waiver) -> None:
    # The original grade stays readable in the note: a waived MUST is still a
    # broken MUST, only an accepted one.
    check.note = f"waived ({check.outcome.value}; {waiver.subject}): {waiver.reason}" + (
        f"; {check.note}" if check.note else ""
    )
    check.outcome = Outcome.WAIVED
