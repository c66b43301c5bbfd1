"""Plain-text pieces that the console and JUnit reports share.

Both show a failed scenario the same way (h2spec's "requirement sentence,
Expected, Actual"), so the block is written once, here.  Everything that
comes from a result passes through :func:`~conformance.report.escape.visible`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from conformance.outcomes import Outcome
from conformance.report.escape import visible, visible_lines
from conformance.results import CheckResult, PassiveFinding, ScenarioResult, TranscriptEntry

# Outcomes whose checks a reader needs spelled out (style.md: only these can
# fail a run, non-strict under --strict).
DETAILED = (Outcome.FAIL, Outcome.ERROR, Outcome.NONDETERMINISTIC, Outcome.NON_STRICT)

_SECTION = re.compile(r"^RFC(?P<rfc>\d+)(?:\s*§\s*(?P<num>\d+(?:\.\d+)*))?")


def section_key(section: str) -> tuple[int, tuple[int, ...], str]:
    """Natural order of section labels: RFC number, then section number.

    "RFC1939 §5" < "RFC1939 §11" < "RFC2449 §6.4"; labels of another shape
    sort after all RFC sections, alphabetically.
    """
    match = _SECTION.match(section)
    if match is None:
        return (1 << 30, (), section)
    num = match["num"]
    return (int(match["rfc"]), tuple(int(n) for n in num.split(".")) if num else (), section)


def group_by_section(scenarios: Iterable[ScenarioResult]) -> list[tuple[str, list[ScenarioResult]]]:
    """Scenarios by section, sections in natural order, scenarios in run order."""
    groups: dict[str, list[ScenarioResult]] = {}
    for s in scenarios:
        groups.setdefault(s.section, []).append(s)
    return sorted(groups.items(), key=lambda item: section_key(item[0]))


def reported_checks(scenario: ScenarioResult) -> list[CheckResult]:
    """The checks worth showing for a scenario: all but plain passes."""
    return [c for c in scenario.checks if c.outcome is not Outcome.PASS]


def check_lines(check: CheckResult, indent: str = "  ") -> list[str]:
    """Requirement, quoted sentence, Expected, Actual and step location of one check."""
    lines = [f"{visible(check.requirement)} ({visible(check.level)}) {check.outcome.value}"]
    quote = visible_lines(check.quote) if check.quote else []
    # The catalog keeps the quotes of a text that cites several passages
    # ('"..." / §11: "..."'); only a bare sentence gets quotes added.
    wrap = '"' if quote and not quote[0].startswith(('"', "(", "`")) else ""
    for i, line in enumerate(quote):
        opening = wrap if i == 0 else (" " if wrap else "")
        closing = wrap if i == len(quote) - 1 else ""
        lines.append(f"{indent}{opening}{line}{closing}")
    lines.append(f"{indent}Expected: {visible(check.expected)}")
    lines.append(f"{indent}Actual:   {visible(check.actual)}")
    if check.where:
        lines.append(f"{indent}Where:    {visible(check.where)}")
    if check.note:
        lines.append(f"{indent}Note:     {visible(check.note)}")
    return lines


def transcript_lines(entries: list[TranscriptEntry]) -> list[str]:
    """One visible line per transcript entry, in TranscriptEntry.render() layout."""
    return [visible(e.render()) for e in entries]


def scenario_detail(scenario: ScenarioResult, indent: str = "  ") -> list[str]:
    """The full story of one scenario: reason, checks, then the transcript."""
    lines: list[str] = []
    if scenario.reason:
        lines.append(f"Reason: {visible(scenario.reason)}")
    if scenario.expectation:
        first, *rest = visible_lines(scenario.expectation)
        lines.append(f"Expectation: {first}")
        lines.extend(indent + line for line in rest)
    for check in reported_checks(scenario):
        lines.extend(check_lines(check, indent))
    if scenario.transcript:
        lines.append("Transcript:")
        lines.extend(indent + line for line in transcript_lines(scenario.transcript))
    return lines


def summary_message(scenario: ScenarioResult) -> str:
    """One line saying why a scenario got its outcome (for a JUnit message attribute)."""
    failing = scenario.failing_checks()
    if failing:
        first = failing[0]
        text = f"{first.requirement} ({first.level}): expected {first.expected}; got {first.actual}"
        if len(failing) > 1:
            text += f" (+{len(failing) - 1} more)"
    elif scenario.reason:
        text = scenario.reason
    else:
        text = f"{scenario.outcome.value}: {scenario.title}"
    return visible(text)


def passive_line(finding: PassiveFinding) -> str:
    """A passive finding on one line."""
    times = "once" if finding.count == 1 else f"{finding.count} times"
    return visible(
        f"{finding.requirement} {finding.code}: {finding.detail} "
        f"(first seen in {finding.scenario}, {times})"
    )
