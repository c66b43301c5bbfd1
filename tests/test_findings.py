"""One root cause is one finding: fails that share requirement, command and answer."""

from __future__ import annotations

from conformance.outcomes import Outcome
from conformance.report.findings import count_line, root_causes, signature
from conformance.results import CheckResult, PassiveFinding, RunResult, ScenarioResult

TOP_QUOTE = "the server sends the headers of the message, the blank line separating..."


def _check(
    requirement: str, actual: str, command: str = "TOP 1 0", outcome: Outcome = Outcome.FAIL
) -> CheckResult:
    return CheckResult(
        requirement, "MUST", TOP_QUOTE, outcome, "headers", actual, where="x:1", command=command
    )


def _scenario(sid: str, *checks: CheckResult) -> ScenarioResult:
    worst = Outcome.FAIL if any(c.outcome is Outcome.FAIL for c in checks) else Outcome.PASS
    return ScenarioResult(
        id=sid,
        title=sid,
        file=f"suites/{sid}.pop3",
        section="",
        requirements=[],
        tags=[],
        outcome=worst,
        checks=list(checks),
    )


def _run(*scenarios: ScenarioResult, passive: list[PassiveFinding] | None = None) -> RunResult:
    return RunResult(
        tool_version="0",
        started="",
        duration_s=0.0,
        target={},
        scenarios=list(scenarios),
        passive=passive or [],
    )


def test_one_defect_met_by_many_scenarios_is_one_finding() -> None:
    # Mailutils's extra line after TOP's headers: the same wrong body, other sizes.
    run = _run(
        _scenario(
            "ext.top",
            _check("RFC1939-7.TOP-1", "573 octets, sha256 42231d88; first difference at octet 410"),
        ),
        _scenario(
            "ext.top-lines",
            _check("RFC1939-7.TOP-1", "611 octets, sha256 99aa01bc; first difference at octet 433"),
        ),
        _scenario(
            "core.retr-after-top",
            _check(
                "RFC1939-7.TOP-1",
                "573 octets, sha256 42231d88; first difference at octet 410",
                command="top 2 0",
            ),
        ),
    )
    (finding,) = root_causes(run)
    assert finding.requirement == "RFC1939-7.TOP-1" and finding.command == "TOP"
    assert finding.scenarios == ["ext.top", "ext.top-lines", "core.retr-after-top"]
    assert count_line(run) == "1 distinct finding (3 checks in 3 scenarios)"


def test_different_requirement_command_or_answer_are_different_findings() -> None:
    run = _run(
        _scenario("a", _check("RFC1939-7.TOP-1", "-ERR no such message")),
        _scenario("b", _check("RFC1939-7.TOP-2", "-ERR no such message")),
        _scenario("c", _check("RFC1939-7.TOP-1", "-ERR no such message", command="RETR 1")),
        _scenario("d", _check("RFC1939-7.TOP-1", "+OK but wrong")),
        _scenario("e", _check("RFC1939-7.TOP-1", "-ERR no such message")),  # same as a
    )
    findings = root_causes(run)
    assert len(findings) == 4
    assert findings[0].scenarios == ["a", "e"]  # the most-touching finding first


def test_passes_and_info_are_not_findings_but_non_strict_is() -> None:
    run = _run(
        _scenario(
            "a",
            _check("R-1", "x", outcome=Outcome.PASS),
            _check("R-2", "x", outcome=Outcome.INFO),
            _check("R-3", "x", outcome=Outcome.NON_STRICT),
        ),
    )
    assert [f.requirement for f in root_causes(run)] == ["R-3"]


def test_passive_findings_of_one_kind_count_once_with_every_scenario() -> None:
    passive = [
        PassiveFinding("RFC1939-3-6", "bare-lf", "status line ends in LF", "a", 3),
        PassiveFinding("RFC1939-3-6", "bare-lf", "status line ends in LF", "b", 1),
    ]
    run = _run(_scenario("a"), _scenario("b"), passive=passive)
    (finding,) = root_causes(run)
    assert finding.passive and finding.scenarios == ["a", "b"]
    assert count_line(run) == "1 distinct finding (0 checks in 0 scenarios, 1 passive)"


def test_signature_ignores_numbers_digests_and_where_bodies_differ() -> None:
    assert signature("+OK 2 320") == signature("+OK 7 1116009")
    assert signature("-ERR no such message") != signature("+OK no such message")
    a = "573 octets, sha256 42231d8848750542; first difference at octet 410: b'x'"
    b = "12 octets, sha256 bbcd4997c25cf150; first difference at octet 3: b'y'"
    assert signature(a) == signature(b)
