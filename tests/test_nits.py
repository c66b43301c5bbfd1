"""The small things a new user trips over, each pinned by a test."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conformance.cli import build_parser, main
from conformance.commands.certify import strictly_line
from conformance.outcomes import Outcome
from conformance.pop3 import parse_status_line
from conformance.report.certification import certify, suite_digest
from conformance.results import CheckResult, RunResult, ScenarioResult
from conformance.scenario.loader import parse_scenario
from conformance.verdicts import grade_check

ROOT = Path(__file__).resolve().parents[1]


def test_list_into_a_closed_pipe_ends_quietly() -> None:
    """`run --list | head` used to end in a BrokenPipeError traceback."""
    result = subprocess.run(
        f"{sys.executable} -m conformance.cli run --list | head -1",
        shell=True,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr
    assert result.stdout.count("\n") == 1


def test_one_scenario_is_one_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--list", "--select", "core.basic.greeting"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "1 scenario"


def test_a_missing_results_file_says_so_in_words(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["diff", str(tmp_path / "nope.json"), str(tmp_path / "nope.json")]) == 2
    err = capsys.readouterr().err
    assert "No such file or directory" in err and "FileNotFoundError" not in err


def test_a_tolerated_answer_does_not_read_like_a_pass() -> None:
    """'Expected: -ERR or +OK / Actual: +OK' read like a pass for a non-strict grade."""
    scenario = parse_scenario(
        "id: t\ntitle: t\nrequirements: RFC1939-3-12\n---\nopen A\nC: NOOP x\n"
        "S: -ERR\nS: +OK => non-strict\n",
        "t.pop3",
    )
    expect = scenario.steps[-1]
    check, _ = grade_check(
        req_id="RFC1939-3-12",
        alternatives=expect.alternatives,  # type: ignore[attr-defined]
        response=parse_status_line(b"+OK\r\n"),
        expanded_words=[[], []],
        model_discrepancies=list,
        capabilities=frozenset(),
        labels=set(),
        where="t.pop3:7",
    )
    assert isinstance(check, CheckResult) and check.outcome.value == "non-strict"
    assert check.expected == "-ERR; +OK is graded non-strict"


def test_help_says_what_the_command_does() -> None:
    text = build_parser().format_help()
    assert "``" not in text and "The ``pop3-conformance`` command" not in text
    assert "Judge a POP3 server" in text and "exit codes" in text


def test_list_reads_the_profile(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--list", "--profile", str(tmp_path / "nosuch.toml")]) == 2
    assert "nosuch.toml" in capsys.readouterr().err


def test_a_flag_beside_a_profile_wins_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from conformance.target_flags import target_from

    profile = tmp_path / "t.toml"
    profile.write_text(
        '[target]\nhost = "127.0.0.1"\nport = 110\n[[account]]\nuser = "a"\npassword = "b"\n'
    )
    args = build_parser().parse_args(["run", "--profile", str(profile), "--port", "2110"])
    with target_from(args) as target:
        assert target.port == 2110
    assert "--port overrides the profile: 2110" in capsys.readouterr().err


def test_every_profile_key_is_documented() -> None:
    from conformance import profile as target

    doc = (ROOT / "docs" / "profiles.md").read_text(encoding="utf-8")
    keys = target._TARGET_KEYS | target._ACCOUNT_KEYS | target._PROVISION_KEYS
    missing = sorted(k for k in keys if f"| `{k}` |" not in doc)
    assert missing == []
    assert "docs/profiles.md" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_certify_names_the_shoulds_that_are_not_met() -> None:
    """'strictly conformant: no' used to leave the reader to find the SHOULDs."""
    check = CheckResult("RFC1939-3-16", "SHOULD", "", Outcome.NON_STRICT, actual="closed")
    scenario = ScenarioResult(
        id="s",
        title="s",
        file="s.pop3",
        section="RFC1939 §3",
        requirements=["RFC1939-3-16"],
        tags=[],
        outcome=Outcome.NON_STRICT,
        reason="",
        checks=[check],
    )
    run = RunResult("0.1.0", "", 1.0, {"host": "h", "port": 1}, [scenario], [])
    cert = certify(run, [], suite_digest([], []))
    assert strictly_line(cert) == "strictly conformant: no (a SHOULD is not met: RFC1939-3-16)"


def test_more_jobs_than_accounts_says_how_many_ran_at_once(tmp_path: Path) -> None:
    """'--jobs 9' with six accounts (four USER/PASS, two APOP) ran six at a time, silently."""
    report = tmp_path / "r"
    select = ["--select", "core.basic.greeting"]
    assert main(["run", *select, "--jobs", "9", "--report-dir", str(report)]) == 0
    notes = (report / "results.json").read_text()
    assert "--jobs 9, but 6 account(s): at most 6 scenario(s) ran at once" in notes
