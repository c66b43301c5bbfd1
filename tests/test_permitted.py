"""Every behaviour the RFCs permit passes: the whole suite against the reference
server adopting it gives no fail, no error and no non-strict (a FAIL for permitted
behaviour is as bad a bug as a missed violation)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conformance.cli import main
from conformance.server.behaviours import BEHAVIOURS


@pytest.mark.parametrize("name", sorted(BEHAVIOURS))
def test_the_suite_never_fails_a_permitted_behaviour(tmp_path: Path, name: str) -> None:
    code = main(["run", "--behave", name, "--report-dir", str(tmp_path)])
    results = json.loads((tmp_path / "results.json").read_text())
    bad = [
        (s["id"], s["outcome"], s["reason"])
        for s in results["scenarios"]
        if s["outcome"] in ("fail", "error", "non-strict", "nondeterministic")
    ]
    assert bad == [], f"{name}: {BEHAVIOURS[name].quote}"
    assert [p for p in results["passive"] if p["outcome"] == "fail"] == []
    assert code == 0


def test_a_permitted_close_is_graded_info_citing_its_sentence(tmp_path: Path) -> None:
    """The runner's one rule, not a line per scenario: the close after -ERR is info
    against RFC1939-4-6 wherever a scenario did not expect it."""
    assert main(["run", "--behave", "close-after-auth-err", "--report-dir", str(tmp_path)]) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    permitted = [
        c
        for s in results["scenarios"]
        for c in s["checks"]
        if c["requirement"] == "RFC1939-4-6" and c["actual"].startswith("the connection was closed")
    ]
    assert permitted, "no scenario met the close; the behaviour is not exercised"
    assert len(permitted) >= 5  # the rule serves many scenarios, none writes it itself
    assert all(c["outcome"] == "info" and "RFC 1939 section 4" in c["note"] for c in permitted)


def test_an_unknown_behaviour_is_a_usage_error(tmp_path: Path) -> None:
    assert main(["run", "--behave", "no-such", "--report-dir", str(tmp_path)]) == 2
