"""``report.html``: one self-contained page a person reads in a browser.

Layout (after Autobahn|Testsuite's and h2spec's reports): a header with the
verdict and the counts by outcome, filters (outcome, level, tag), the
scenarios grouped by RFC section in natural order, and for each scenario its
description, expectation, the requirement sentences with Expected / Actual,
and the whole wire transcript with relative timestamps, each session in its
own colour.  Failing scenarios are open, the others folded.

The page fetches nothing: CSS and JavaScript are inline, so it can be mailed,
archived as a CI artifact or opened from disk.  The template
(``templates/report.html.j2``) is rendered with autoescaping on, and every
text from a result first goes through
:func:`~conformance.report.escape.visible`, so neither markup nor control
characters from a server reach the page as such.  This module only shapes the
data; all markup is in the template.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from conformance.outcomes import Outcome, fails_run
from conformance.report.escape import visible, visible_lines
from conformance.report.files import write_atomically
from conformance.report.findings import Finding, count_line, root_causes
from conformance.report.notes import run_notes
from conformance.report.summary import verdict
from conformance.report.templating import ENV
from conformance.report.text import group_by_section
from conformance.results import CheckResult, PassiveFinding, RunResult, ScenarioResult

SESSION_COLOURS = 6  # CSS classes session-0 .. session-5, reused in turn

# Outcomes in the order the header and the filters list them.
OUTCOME_ORDER = [
    Outcome.FAIL,
    Outcome.ERROR,
    Outcome.NONDETERMINISTIC,
    Outcome.NON_STRICT,
    Outcome.WAIVED,
    Outcome.UNSUPPORTED,
    Outcome.INFO,
    Outcome.PASS,
]


@dataclass
class CheckView:
    requirement: str
    level: str
    outcome: str
    quote: list[str]  # display lines
    expected: str
    actual: str
    where: str
    note: str


@dataclass
class LineView:
    t_ms: str
    session: str
    colour: int
    direction: str
    text: str


@dataclass
class ScenarioView:
    id: str
    title: str
    file: str
    outcome: str
    failing: bool
    reason: str
    description: list[str]
    expectation: list[str]
    requirements: list[str]
    tags: list[str]
    levels: list[str]
    duration_ms: str
    checks: list[CheckView] = field(default_factory=list)
    transcript: list[LineView] = field(default_factory=list)
    # How each session ended ("A: quit (pass)"), graded apart from the checks.
    close: list[str] = field(default_factory=list)
    close_outcome: str = ""


def _close_view(scenario: ScenarioResult) -> list[str]:
    out = []
    for ending in scenario.close.get("sessions", []):
        detail = f", {ending['detail']}" if ending.get("detail") else ""
        out.append(visible(f"{ending['session']}: {ending['how']}{detail} ({ending['outcome']})"))
    return out


def _finding_view(finding: Finding) -> dict[str, object]:
    return {
        "requirement": visible(finding.requirement),
        "level": visible(finding.level),
        "outcome": finding.outcome.value,
        "quote": visible_lines(finding.quote) if finding.quote else [],
        "command": visible(finding.command),
        "expected": visible(finding.expected),
        "actual": visible(finding.actual),
        "scenarios": [visible(s) for s in finding.scenarios],
        "passive": finding.passive,
    }


def _check_view(check: CheckResult) -> CheckView:
    return CheckView(
        requirement=visible(check.requirement),
        level=visible(check.level),
        outcome=check.outcome.value,
        quote=visible_lines(check.quote) if check.quote else [],
        expected=visible(check.expected),
        actual=visible(check.actual),
        where=visible(check.where),
        note=visible(check.note),
    )


def _transcript_view(scenario: ScenarioResult) -> list[LineView]:
    colours: dict[str, int] = {}
    lines = []
    for entry in scenario.transcript:
        # Colours follow the order sessions first speak, so "A" is the same
        # colour in every scenario that opens it first.
        colour = colours.setdefault(entry.session, len(colours) % SESSION_COLOURS)
        lines.append(
            LineView(
                t_ms=f"+{entry.t_ms:.1f}",
                session=visible(entry.session),
                colour=colour,
                direction=visible(entry.direction),
                text=visible(entry.text),
            )
        )
    return lines


def scenario_view(scenario: ScenarioResult, strict: bool) -> ScenarioView:
    return ScenarioView(
        id=visible(scenario.id),
        title=visible(scenario.title),
        file=visible(scenario.file),
        outcome=scenario.outcome.value,
        failing=fails_run(scenario.outcome, strict),
        reason=visible(scenario.reason),
        description=visible_lines(scenario.description) if scenario.description else [],
        expectation=visible_lines(scenario.expectation) if scenario.expectation else [],
        requirements=[visible(r) for r in scenario.requirements],
        tags=[visible(t) for t in scenario.tags],
        levels=sorted({visible(c.level) for c in scenario.checks}),
        duration_ms=f"{scenario.duration_ms:.1f}",
        checks=[_check_view(c) for c in scenario.checks],
        transcript=_transcript_view(scenario),
        close=_close_view(scenario),
        close_outcome=visible(scenario.close.get("outcome", "")),
    )


def _passive_view(finding: PassiveFinding, strict: bool) -> dict[str, object]:
    return {
        "requirement": visible(finding.requirement),
        "code": visible(finding.code),
        "detail": visible(finding.detail),
        "scenario": visible(finding.scenario),
        "count": finding.count,
        "outcome": finding.outcome.value,
        "failing": fails_run(finding.outcome, strict),
    }


def render_html(run: RunResult) -> str:
    """The HTML report of ``run``, as one self-contained document."""
    sections = [
        (visible(section), [scenario_view(s, run.strict) for s in scenarios])
        for section, scenarios in group_by_section(run.scenarios)
    ]
    counts = run.counts()
    views = [v for _, vs in sections for v in vs]
    return ENV.get_template("report.html.j2").render(
        verdict=verdict(run),
        tool_version=visible(run.tool_version),
        started=visible(run.started),
        target=visible(f"{run.target.get('host', '?')}:{run.target.get('port', '?')}"),
        strict=run.strict,
        counts=[(o.value, counts[o.value]) for o in OUTCOME_ORDER if counts[o.value]],
        total=len(run.scenarios),
        sections=sections,
        passive=[_passive_view(p, run.strict) for p in run.passive],
        limits=[visible(line) for line in run_notes(run)],
        findings=[_finding_view(f) for f in root_causes(run)],
        findings_line=visible(count_line(run)),
        levels=sorted({level for v in views for level in v.levels}),
        tags=sorted({tag for v in views for tag in v.tags}),
        session_colours=SESSION_COLOURS,
    )


def write_html(run: RunResult, path: Path) -> None:
    """Write the HTML report of ``run`` to ``path`` atomically."""
    write_atomically(path, render_html(run))
