"""The console report: what a person reads at the end of a run.

Layout, top to bottom: a header (tool, target, strict), the scenarios
grouped by RFC section (sections in natural order, one line each), the
details of every scenario that can fail a run (the requirement's sentence,
Expected, Actual, where, transcript), the passive findings, and one summary
line with the counts and the verdict.  The text is deterministic: no clock
time or duration appears except the relative times inside transcripts, so
two runs with the same results print the same report.
"""

from __future__ import annotations

from conformance.outcomes import Outcome
from conformance.report.escape import visible
from conformance.report.notes import run_notes
from conformance.report.text import DETAILED, group_by_section, passive_line, scenario_detail
from conformance.results import RunResult, ScenarioResult

# Summary order and words; "error" is pluralised like pytest ("1 error").
_SUMMARY_WORDS: list[tuple[Outcome, str, str]] = [
    (Outcome.PASS, "passed", "passed"),
    (Outcome.FAIL, "failed", "failed"),
    (Outcome.NON_STRICT, "non-strict", "non-strict"),
    (Outcome.INFO, "info", "info"),
    (Outcome.UNSUPPORTED, "unsupported", "unsupported"),
    (Outcome.WAIVED, "waived", "waived"),
    (Outcome.ERROR, "error", "errors"),
    (Outcome.NONDETERMINISTIC, "nondeterministic", "nondeterministic"),
]

_RESET = "\x1b[0m"
_COLORS = {
    Outcome.PASS: "\x1b[32m",  # green
    Outcome.FAIL: "\x1b[31m",  # red
    Outcome.NON_STRICT: "\x1b[33m",  # yellow
    Outcome.INFO: "\x1b[36m",  # cyan
    Outcome.UNSUPPORTED: "\x1b[2m",  # dim
    Outcome.WAIVED: "\x1b[35m",  # magenta
    Outcome.ERROR: "\x1b[1;31m",  # bold red
    Outcome.NONDETERMINISTIC: "\x1b[1;35m",  # bold magenta
}
_BOLD = "\x1b[1m"
_DIM = "\x1b[2m"
_OUTCOME_WIDTH = max(len(o.value) for o in Outcome)


class Painter:
    """Adds ANSI colour to text that is already visible (never to raw data)."""

    def __init__(self, color: bool) -> None:
        self.color = color

    def outcome(self, outcome: Outcome, text: str | None = None) -> str:
        word = text if text is not None else outcome.value.ljust(_OUTCOME_WIDTH)
        return f"{_COLORS[outcome]}{word}{_RESET}" if self.color else word

    def bold(self, text: str) -> str:
        return f"{_BOLD}{text}{_RESET}" if self.color else text

    def dim(self, text: str) -> str:
        return f"{_DIM}{text}{_RESET}" if self.color else text


def _needs_detail(scenario: ScenarioResult, verbose: bool) -> bool:
    return verbose or scenario.outcome in DETAILED


def _scenario_line(scenario: ScenarioResult, paint: Painter) -> str:
    line = f"  {paint.outcome(scenario.outcome)}  {visible(scenario.id)}  {visible(scenario.title)}"
    # Reasons of outcomes without a detail block would otherwise be lost.
    if scenario.reason and scenario.outcome in (
        Outcome.UNSUPPORTED,
        Outcome.WAIVED,
        Outcome.INFO,
    ):
        line += f" ({visible(scenario.reason)})"
    return line


def summary_line(run: RunResult) -> str:
    """Counts by outcome (scenarios), passive findings, and the verdict, on one line."""
    counts = run.counts()
    parts = []
    for outcome, singular, plural in _SUMMARY_WORDS:
        n = counts[outcome.value]
        if n:
            parts.append(f"{n} {singular if n == 1 else plural}")
    if run.passive:
        noun = "passive finding" if len(run.passive) == 1 else "passive findings"
        parts.append(f"{len(run.passive)} {noun}")
    if not run.scenarios:
        # h2spec's lesson: a run that checked nothing must not read as a pass.
        verdict = "EMPTY (no scenarios ran)"
        return f"no scenarios; verdict: {verdict}"
    verdict = "FAIL" if run.failed() else "PASS"
    strict = " (strict)" if run.strict else ""
    return f"{', '.join(parts)}; verdict: {verdict}{strict}"


def render_console(run: RunResult, *, verbose: bool = False, color: bool = False) -> str:
    """The console report of ``run`` (verbose: details and transcripts of every scenario)."""
    paint = Painter(color)
    target = f"{run.target.get('host', '?')}:{run.target.get('port', '?')}"
    mode = ", strict" if run.strict else ""
    out = [paint.bold(visible(f"pop3-conformance {run.tool_version} against {target}{mode}"))]

    for section, scenarios in group_by_section(run.scenarios):
        out.append("")
        out.append(paint.bold(visible(section)))
        out.extend(_scenario_line(s, paint) for s in scenarios)

    detailed = [s for s in run.scenarios if _needs_detail(s, verbose)]
    if detailed:
        out.append("")
        out.append(paint.bold("Details"))
        for scenario in detailed:
            out.append("")
            out.append(
                f"{paint.outcome(scenario.outcome, scenario.outcome.value.upper())} "
                f"{visible(scenario.id)}: {visible(scenario.title)}"
                f"  [{visible(scenario.section)}, {visible(scenario.file)}]"
            )
            out.extend("  " + line for line in scenario_detail(scenario))

    if run.passive:
        out.append("")
        out.append(paint.bold("Passive findings"))
        out.extend(f"  {paint.outcome(p.outcome)}  {passive_line(p)}" for p in run.passive)

    limits = run_notes(run)
    if limits:
        out.append("")
        out.append(paint.bold("What limited this run"))
        out.extend(f"  {visible(line)}" for line in limits)

    out.append("")
    summary = summary_line(run)
    if color:
        good = run.scenarios and not run.failed()
        summary = paint.outcome(Outcome.PASS if good else Outcome.FAIL, summary)
    out.append(summary)
    return "\n".join(out) + "\n"
