"""What changed between two runs, scenario by scenario, and whether it regressed.

Both sides are :class:`~conformance.results.RunResult` objects, normally read
from two ``results.json`` files: a baseline (the last good run, a release)
and a new run.  Scenarios are matched by id.  Every scenario whose outcome
changed lands in exactly one list of :class:`RunDiff`:

* ``added`` / ``removed``: the id is only in the new / only in the base run;
* ``newly_failing``: it did not fail the run before and does now;
* ``newly_passing``: it failed the run before and does not now;
* ``changed``: any other change (pass → unsupported, fail → error, ...).

"Fails the run" is :func:`~conformance.outcomes.fails_run` under the *new*
run's ``--strict``, for both sides, so that switching ``--strict`` on does
not by itself make unchanged results look different.

A *regression* (:func:`is_regression`) is narrower than "newly failing": a
``pass`` or ``waived`` result that became ``fail``, ``error`` or
``nondeterministic``.  A scenario that was unsupported and now fails, or a
new scenario that fails, is shown but does not regress a baseline: the
baseline never claimed it worked.  A scenario of the baseline that the new
run did not run at all regresses it too, unless removals are allowed: a CI
job whose selection shrank must not pass green.  A different tool version
or suite digest is said at the top.

Passive findings are not compared: they are keyed by the scenario where they
were first seen, which moves with the selection and the run order.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from conformance.outcomes import Outcome, fails_run
from conformance.report.escape import visible
from conformance.report.summary import cell
from conformance.results import RunResult

# (scenario id, outcome in the base run or None, outcome in the new run or None)
Change = tuple[str, Outcome | None, Outcome | None]

REGRESSED_FROM = frozenset({Outcome.PASS, Outcome.WAIVED})
REGRESSED_TO = frozenset({Outcome.FAIL, Outcome.ERROR, Outcome.NONDETERMINISTIC})

FORMATS = ("text", "markdown", "json")

# Category names in report order, with their headings.
_CATEGORIES = [
    ("newly_failing", "newly failing"),
    ("newly_passing", "newly passing"),
    ("changed", "changed"),
    ("added", "added"),
    ("removed", "removed"),
]


@dataclass
class RunDiff:
    newly_failing: list[Change] = field(default_factory=list)
    newly_passing: list[Change] = field(default_factory=list)
    changed: list[Change] = field(default_factory=list)
    added: list[Change] = field(default_factory=list)
    removed: list[Change] = field(default_factory=list)
    # Whether scenarios missing from the new run are accepted (--allow-removed).
    allow_removed: bool = False
    # How the two runs differ besides their results: tool version, suite digest.
    provenance: list[str] = field(default_factory=list)

    def category(self, name: str) -> list[Change]:
        changes: list[Change] = getattr(self, name)
        return changes

    def is_empty(self) -> bool:
        return not any(self.category(name) for name, _ in _CATEGORIES)


def diff_runs(base: RunResult, new: RunResult, *, allow_removed: bool = False) -> RunDiff:
    """The scenario-by-scenario differences from ``base`` to ``new``, each list sorted by id."""
    old = {s.id: s.outcome for s in base.scenarios}
    now = {s.id: s.outcome for s in new.scenarios}
    diff = RunDiff(allow_removed=allow_removed, provenance=_provenance(base, new))
    for sid in sorted(old.keys() | now.keys()):
        before, after = old.get(sid), now.get(sid)
        if before == after:
            continue
        change: Change = (sid, before, after)
        if before is None:
            diff.added.append(change)
        elif after is None:
            diff.removed.append(change)
        else:
            failed_before = fails_run(before, new.strict)
            failed_after = fails_run(after, new.strict)
            if failed_after and not failed_before:
                diff.newly_failing.append(change)
            elif failed_before and not failed_after:
                diff.newly_passing.append(change)
            else:
                diff.changed.append(change)
    return diff


def _provenance(base: RunResult, new: RunResult) -> list[str]:
    out = []
    if base.tool_version != new.tool_version:
        out.append(f"tool version differs: {base.tool_version} -> {new.tool_version}")
    if base.suite_sha256 != new.suite_sha256:
        before = base.suite_sha256[:16] or "not recorded"
        after = new.suite_sha256[:16] or "not recorded"
        out.append(f"suite sha256 differs: {before} -> {after}")
    return out


def regressions(diff: RunDiff) -> list[Change]:
    """The changes that are regressions: pass or waived became fail, error or
    nondeterministic; and, unless allowed, a scenario the new run left out."""
    found = [c for c in diff.newly_failing if c[1] in REGRESSED_FROM and c[2] in REGRESSED_TO]
    if not diff.allow_removed:
        found += diff.removed
    return found


def is_regression(diff: RunDiff) -> bool:
    """Whether any scenario regressed (see :func:`regressions`)."""
    return bool(regressions(diff))


def _word(outcome: Outcome | None) -> str:
    return outcome.value if outcome is not None else "-"


def _headline(diff: RunDiff) -> str:
    if diff.is_empty():
        return "no outcome changed"
    parts = [
        f"{len(diff.category(name))} {title}" for name, title in _CATEGORIES if diff.category(name)
    ]
    n = len(regressions(diff))
    verdict = f"REGRESSION ({n} scenario{'s' if n != 1 else ''})" if n else "no regression"
    if diff.removed and not diff.allow_removed:
        verdict += (
            f": {len(diff.removed)} of the baseline's scenarios did not run "
            "(--allow-removed if that was meant)"
        )
    return f"{', '.join(parts)}; {verdict}"


def _render_text(diff: RunDiff) -> str:
    out = [f"note: {line}" for line in diff.provenance]
    out.append(f"diff: {_headline(diff)}")
    regressed = set(regressions(diff))
    for name, title in _CATEGORIES:
        changes = diff.category(name)
        if not changes:
            continue
        out.append(f"{title} ({len(changes)}):")
        for change in changes:
            sid, before, after = change
            mark = "  REGRESSION" if change in regressed else ""
            out.append(f"  {visible(sid)}  {_word(before)} -> {_word(after)}{mark}")
    return "\n".join(out) + "\n"


def _render_markdown(diff: RunDiff) -> str:
    out = [f"### pop3-conformance diff: {cell(_headline(diff))}"]
    out += [f"> {cell(line)}" for line in diff.provenance]
    regressed = set(regressions(diff))
    for name, title in _CATEGORIES:
        changes = diff.category(name)
        if not changes:
            continue
        out += ["", f"**{title}** ({len(changes)})", ""]
        out += ["| scenario | before | after | regression |", "|---|---|---|---|"]
        for change in changes:
            sid, before, after = change
            mark = "yes" if change in regressed else ""
            out.append(f"| {cell(sid)} | {_word(before)} | {_word(after)} | {mark} |")
    return "\n".join(out) + "\n"


def _as_json(diff: RunDiff) -> dict[str, Any]:
    def entry(change: Change) -> dict[str, Any]:
        sid, before, after = change
        return {
            "id": sid,
            "old": before.value if before is not None else None,
            "new": after.value if after is not None else None,
        }

    doc: dict[str, Any] = {"regression": is_regression(diff), "provenance": diff.provenance}
    doc["regressions"] = [entry(c) for c in regressions(diff)]
    for name, _ in _CATEGORIES:
        doc[name] = [entry(c) for c in diff.category(name)]
    return doc


def render_diff(diff: RunDiff, fmt: str) -> str:
    """``diff`` as ``text``, ``markdown`` or ``json``; ValueError for any other format."""
    if fmt == "text":
        return _render_text(diff)
    if fmt == "markdown":
        return _render_markdown(diff)
    if fmt == "json":
        return json.dumps(_as_json(diff), ensure_ascii=False, indent=1, sort_keys=True) + "\n"
    raise ValueError(f"unknown diff format {fmt!r} (one of {', '.join(FORMATS)})")
