"""A short Markdown summary for CI job summaries and pull-request comments.

It says the verdict, the counts by outcome and, in one table, what failed:
only the results that fail the run (fail, error, nondeterministic, and
non-strict under ``--strict``) and the failing passive findings.  The full
story of each failure lives in the console, JUnit and HTML reports; a comment
that has to be scrolled is not read, so the table stops at
:data:`MAX_ROWS` rows.

Cell text comes from the server and may hold anything: it goes through
:func:`~conformance.report.escape.visible` (controls, CR and LF spelled out)
and then :func:`cell`, which backslash-escapes the characters Markdown would
act on, so a ``|`` in a response cannot split a row and a ``<b>`` cannot
become markup.
"""

from __future__ import annotations

import re
from pathlib import Path

from conformance.outcomes import Outcome, fails_run
from conformance.report.escape import visible
from conformance.report.files import write_atomically
from conformance.report.notes import run_notes
from conformance.results import PassiveFinding, RunResult, ScenarioResult

MAX_ROWS = 50
MAX_CELL = 120  # characters of Actual shown; the rest is in the other reports

# CommonMark lets any ASCII punctuation be backslash-escaped; these are the
# ones that can start markup, links, code, HTML or (in GFM) split a table cell.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|&~])")

# Outcomes in the order the counts table lists them.
_COUNT_ORDER = [
    Outcome.PASS,
    Outcome.FAIL,
    Outcome.NON_STRICT,
    Outcome.INFO,
    Outcome.UNSUPPORTED,
    Outcome.WAIVED,
    Outcome.ERROR,
    Outcome.NONDETERMINISTIC,
]


def cell(text: str, limit: int | None = None) -> str:
    """``text`` as one Markdown table cell: visible, escaped, optionally shortened."""
    shown = visible(text)
    if limit is not None and len(shown) > limit:
        shown = shown[: limit - 1] + "…"
    return _MARKDOWN_SPECIAL.sub(r"\\\1", shown)


def verdict(run: RunResult) -> str:
    """PASS, FAIL, or EMPTY for a run that checked nothing (never a pass: h2spec's lesson)."""
    if run.failed():
        return "FAIL"
    return "PASS" if run.scenarios else "EMPTY"


def _scenario_row(scenario: ScenarioResult) -> str:
    failing = scenario.failing_checks()
    if failing:
        first = failing[0]
        requirement, level, actual = first.requirement, first.level, first.actual
        if len(failing) > 1:
            actual = f"{actual} (+{len(failing) - 1} more checks)"
    else:
        # An error or a replay mismatch usually has no check, only a reason.
        requirement = ", ".join(scenario.requirements)
        level, actual = "", scenario.reason
    return (
        f"| {cell(scenario.id)} | {scenario.outcome.value} | {cell(requirement)} "
        f"| {cell(level)} | {cell(actual, MAX_CELL)} |"
    )


def _passive_row(finding: PassiveFinding) -> str:
    times = "once" if finding.count == 1 else f"{finding.count} times"
    actual = f"{finding.code}: {finding.detail} (first seen in {finding.scenario}, {times})"
    return (
        f"| passive | {finding.outcome.value} | {cell(finding.requirement)} "
        f"| | {cell(actual, MAX_CELL)} |"
    )


def failure_rows(run: RunResult) -> list[str]:
    """One table row per scenario or passive finding that fails the run, in run order."""
    rows = [_scenario_row(s) for s in run.scenarios if fails_run(s.outcome, run.strict)]
    rows += [_passive_row(p) for p in run.passive if fails_run(p.outcome, run.strict)]
    return rows


def render_summary(run: RunResult) -> str:
    """The Markdown summary of ``run``."""
    target = f"{run.target.get('host', '?')}:{run.target.get('port', '?')}"
    strict = ", strict" if run.strict else ""
    out = [
        f"## pop3-conformance: {verdict(run)}",
        "",
        f"{len(run.scenarios)} scenario{'' if len(run.scenarios) == 1 else 's'} "
        f"against `{cell(target)}` "
        f"(pop3-conformance {cell(run.tool_version)}{strict})",
        "",
        "| outcome | scenarios |",
        "|---|---:|",
    ]
    counts = run.counts()
    out += [f"| {o.value} | {counts[o.value]} |" for o in _COUNT_ORDER if counts[o.value]]
    if run.passive:
        out.append(f"| passive findings | {len(run.passive)} |")
    limits = run_notes(run)
    if limits:
        out += ["", "### What limited this run", "", *(f"- {cell(line)}" for line in limits)]

    rows = failure_rows(run)
    if rows:
        out += [
            "",
            f"### Failures ({len(rows)})",
            "",
            "| scenario | outcome | requirement | level | actual |",
            "|---|---|---|---|---|",
            *rows[:MAX_ROWS],
        ]
        if len(rows) > MAX_ROWS:
            out += ["", f"…and {len(rows) - MAX_ROWS} more (see results.json)."]
    return "\n".join(out) + "\n"


def write_summary(run: RunResult, path: Path) -> None:
    """Write the Markdown summary of ``run`` to ``path`` atomically."""
    write_atomically(path, render_summary(run))
