"""JUnit XML for CI: one suite per RFC section, one test case per scenario.

This is the only module that imports ``junit_xml`` (style.md: the library is
unmaintained and drops control characters, so its use stays in one place).
Every text handed to it goes through :func:`~conformance.report.escape.visible`
first, which spells out CR, NUL, ESC and the other controls; otherwise a
CRLF-versus-LF finding would vanish from the very report that shows it.

Outcome mapping (style.md, Conventions):

================  =============================================================
fail              ``<failure type="fail">``
nondeterministic  ``<failure type="nondeterministic">``
error             ``<error>``
unsupported       ``<skipped>`` with the reason
non-strict        ``<failure type="non-strict">`` under ``--strict``; else a
                  pass with the details in ``<system-out>``
info, waived      a pass with the details (waived: the reason) in ``<system-out>``
pass              a pass
================  =============================================================

The document follows the JUnit dialect Jenkins validates against (the xUnit
plugin's ``junit-10.xsd``; ``tests/data/junit.xsd`` checks it): junit-xml's
``status`` and ``disabled`` attributes are left out, and times are plain
decimals (``str(float)`` can give ``5e-05``).  One addition is kept on
purpose: ``testcase/@file``, which GitLab shows and Jenkins ignores.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any
from xml.dom import minidom

from junit_xml import TestCase, TestSuite

from conformance.outcomes import Outcome
from conformance.report.escape import visible, xml_safe
from conformance.report.files import write_atomically
from conformance.report.notes import run_notes
from conformance.report.text import (
    group_by_section,
    passive_line,
    scenario_detail,
    summary_message,
)
from conformance.results import PassiveFinding, RunResult, ScenarioResult

SUITE_PREFIX = "pop3-conformance."
PASSIVE_SUITE = SUITE_PREFIX + "passive"


def _properties(run: RunResult) -> dict[str, str]:
    """Suite-level properties (junit-xml has no test-case properties)."""
    return {
        "tool_version": visible(run.tool_version),
        "target.host": visible(str(run.target.get("host", ""))),
        "target.port": visible(str(run.target.get("port", ""))),
        "strict": "true" if run.strict else "false",
        **{f"limit.{i}": visible(line) for i, line in enumerate(run_notes(run), start=1)},
    }


def _is_failure(outcome: Outcome, strict: bool) -> bool:
    if outcome in (Outcome.FAIL, Outcome.NONDETERMINISTIC):
        return True
    return strict and outcome is Outcome.NON_STRICT


def _apply_outcome(case: Any, outcome: Outcome, strict: bool, message: str, output: str) -> None:
    """Record ``outcome`` on a junit_xml TestCase; ``message``/``output`` are already visible."""
    if _is_failure(outcome, strict):
        case.add_failure_info(message=message, output=output, failure_type=outcome.value)
    elif outcome is Outcome.ERROR:
        case.add_error_info(message=message, output=output, error_type=outcome.value)
    elif outcome is Outcome.UNSUPPORTED:
        case.add_skipped_info(message=message, output=output or None)
    elif outcome is not Outcome.PASS and output:
        # non-strict (without --strict), info, waived: a pass that says why.
        case.stdout = output


def _scenario_case(scenario: ScenarioResult, strict: bool) -> Any:
    case = TestCase(
        name=visible(scenario.id),
        classname=visible(scenario.section),
        elapsed_sec=scenario.duration_ms / 1000.0,
        file=visible(scenario.file),
    )
    header = [f"{scenario.outcome.value}: {visible(scenario.title)}"]
    if scenario.outcome is Outcome.WAIVED and scenario.reason:
        header.append(f"waived: {visible(scenario.reason)}")
    output = "\n".join(header + scenario_detail(scenario)) + "\n"
    message = summary_message(scenario)
    if scenario.outcome is Outcome.UNSUPPORTED:
        # A skip needs only its reason; the transcript of a probe is noise.
        message = visible(scenario.reason or "unsupported")
        output = ""
    _apply_outcome(case, scenario.outcome, strict, message, output)
    return case


def _passive_case(finding: PassiveFinding, strict: bool) -> Any:
    case = TestCase(
        name=visible(f"{finding.requirement} {finding.code}"),
        classname=PASSIVE_SUITE,
    )
    output = "\n".join(
        [
            passive_line(finding),
            f"Requirement: {visible(finding.requirement)}",
            f"Code:        {visible(finding.code)}",
            f"Detail:      {visible(finding.detail)}",
            f"First seen:  {visible(finding.scenario)}",
            f"Count:       {finding.count}",
        ]
    )
    _apply_outcome(case, finding.outcome, strict, passive_line(finding), output + "\n")
    return case


def build_suites(run: RunResult) -> list[Any]:
    """The junit_xml TestSuites for a run: sections in natural order, then passive findings."""
    properties = _properties(run)
    suites = []
    for section, scenarios in group_by_section(run.scenarios):
        suites.append(
            TestSuite(
                name=visible(SUITE_PREFIX + section),
                test_cases=[_scenario_case(s, run.strict) for s in scenarios],
                timestamp=visible(run.started),
                properties=properties,
            )
        )
    if run.passive:
        suites.append(
            TestSuite(
                name=PASSIVE_SUITE,
                test_cases=[_passive_case(p, run.strict) for p in run.passive],
                timestamp=visible(run.started),
                properties=properties,
            )
        )
    return suites


# Attributes junit-xml writes that the JUnit schema has no place for.
_NOT_IN_SCHEMA = ("disabled", "status")
_TOTALS = ("tests", "failures", "errors")


def _seconds(value: float) -> str:
    return f"{value:.6f}"


def _drop_unknown_attributes(element: ET.Element) -> None:
    for node in element.iter():
        for name in _NOT_IN_SCHEMA:
            node.attrib.pop(name, None)


def to_junit_xml(run: RunResult) -> str:
    """The JUnit XML document for ``run``, as text."""
    # junit_xml.to_xml_report_string would do this, but it writes attributes
    # the schema lacks and silently drops characters XML cannot carry.
    root = ET.Element("testsuites")
    totals = dict.fromkeys(_TOTALS, 0)
    elapsed = 0.0
    for suite in build_suites(run):
        element = suite.build_xml_doc()
        _drop_unknown_attributes(element)
        seconds = sum(case.elapsed_sec or 0.0 for case in suite.test_cases)
        element.set("time", _seconds(seconds))
        elapsed += seconds
        for key in _TOTALS:
            totals[key] += int(element.get(key, "0"))
        root.append(element)
    for key, value in totals.items():
        root.set(key, str(value))
    root.set("time", _seconds(elapsed))
    # Every text was made visible already; xml_safe only catches one that
    # was not, turning it visible too instead of breaking the document.
    document = xml_safe(ET.tostring(root, encoding="unicode"))
    pretty: str = minidom.parseString(document.encode("utf-8")).toprettyxml()
    return pretty


def write_junit(run: RunResult, path: Path) -> None:
    """Write the JUnit XML for ``run`` to ``path`` atomically."""
    write_atomically(path, to_junit_xml(run))
