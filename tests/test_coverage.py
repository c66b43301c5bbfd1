"""Requirement coverage: every citation is known, every testable MUST is covered or explained."""

from __future__ import annotations

import json

import pytest

from conformance.campaign import default_suite_dirs
from conformance.catalog import load_catalog
from conformance.cli import EXIT_FAIL, EXIT_OK, main
from conformance.coverage import Coverage, measure
from conformance.outcomes import Level
from conformance.scenario.loader import load_all, parse_scenario


@pytest.fixture(scope="module")
def coverage() -> Coverage:
    scenarios, errors = load_all(list(default_suite_dirs()))
    assert not errors
    return measure(scenarios)


def test_no_scenario_cites_an_unknown_requirement(coverage: Coverage) -> None:
    assert coverage.unknown == {}


def test_every_testable_must_is_covered_or_has_a_written_reason(coverage: Coverage) -> None:
    gaps = [r.id for r in coverage.gaps(levels=(Level.MUST.value,))]
    assert gaps == [], f"testable MUST requirements with no scenario and no reason: {gaps}"


def test_every_testable_should_is_covered_or_has_a_written_reason(coverage: Coverage) -> None:
    gaps = [r.id for r in coverage.gaps(levels=(Level.SHOULD.value,))]
    assert gaps == [], f"testable SHOULD requirements with no scenario and no reason: {gaps}"


def test_reasons_name_catalog_requirements_and_say_something(coverage: Coverage) -> None:
    catalog = load_catalog()
    for req_id, reason in coverage.untestable.items():
        assert req_id in catalog, f"untestable reason for unknown requirement {req_id}"
        assert len(reason.split()) >= 4, f"{req_id}: a reason needs a sentence, got {reason!r}"


def test_no_reason_is_stale(coverage: Coverage) -> None:
    # A requirement that a scenario covers needs no excuse; a leftover reason
    # would hide the day that scenario is removed.
    stale = [r for r in coverage.untestable if coverage.by_requirement.get(r)]
    assert stale == []


def test_a_scenario_citing_an_unknown_id_is_counted_as_unknown() -> None:
    text = (
        "id: t.x\ntitle: t\nrequirements: RFC1939-5.STAT-1\nmailbox: none\n---\n"
        "open A\ncheck RFC1939-99-1\nC: NOOP\nS: -ERR\n"
    )
    scenario = parse_scenario(text, "t.pop3")
    assert measure([scenario]).unknown == {"RFC1939-99-1": ["t.x"]}


def test_a_removed_scenario_opens_a_gap(coverage: Coverage) -> None:
    scenarios, _ = load_all(list(default_suite_dirs()))
    kept = [s for s in scenarios if "RFC1939-5.DELE-1" not in s.requirements]
    assert measure(kept).status("RFC1939-5.DELE-1") == "gap"
    assert coverage.status("RFC1939-5.DELE-1") == "covered"


def test_requirements_command_prints_coverage_per_rfc(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["requirements", "--coverage", "--format", "json"]) == EXIT_OK
    rows = {r["rfc"]: r for r in json.loads(capsys.readouterr().out)}
    assert set(rows) >= {"1939", "2449", "3206", "2595", "5034", "6856", "8314", "1957"}
    assert sum(r["total"] for r in rows.values()) == len(load_catalog())
    for r in rows.values():
        assert r["covered"] + r["untestable"] + len(r["gaps"]) == r["total"]


def test_requirements_listing_names_covering_scenarios(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["requirements", "--rfc", "1939", "--format", "json"]) == EXIT_OK
    rows = {r["id"]: r for r in json.loads(capsys.readouterr().out)}
    assert any(s.startswith("core.") for s in rows["RFC1939-5.DELE-1"]["covered_by"])
    assert rows["RFC1939-3-6"]["covered_by"][-1].startswith("passive: ")
    assert all(r["id"].startswith("RFC1939-") for r in rows.values())


def test_gaps_exit_code_follows_the_gaps(coverage: Coverage) -> None:
    expected = EXIT_FAIL if coverage.gaps() else EXIT_OK
    assert main(["requirements", "--gaps"]) == expected
