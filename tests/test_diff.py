"""Comparing two runs: the categories, the regression rule, the renderings and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conformance.cli import main
from conformance.outcomes import Outcome
from conformance.report.diff import RunDiff, diff_runs, is_regression, regressions, render_diff
from conformance.report.json_report import read_results, write_results
from conformance.results import RunResult, ScenarioResult


def _scenario(sid: str, outcome: Outcome) -> ScenarioResult:
    return ScenarioResult(
        id=sid,
        title=f"title of {sid}",
        file=f"suites/{sid}.pop3",
        section="RFC1939 §5",
        requirements=["RFC1939-5-1"],
        tags=["core"],
        outcome=outcome,
    )


def _run(outcomes: dict[str, Outcome], strict: bool = False) -> RunResult:
    return RunResult(
        tool_version="0.1.0",
        started="2024-05-01T10:00:00Z",
        duration_s=1.0,
        target={"host": "127.0.0.1", "port": 1110},
        scenarios=[_scenario(sid, o) for sid, o in outcomes.items()],
        strict=strict,
    )


BASE = {
    "same": Outcome.PASS,
    "p-fail": Outcome.PASS,
    "w-error": Outcome.WAIVED,
    "p-nondet": Outcome.PASS,
    "u-fail": Outcome.UNSUPPORTED,
    "ns-fail": Outcome.NON_STRICT,
    "fail-pass": Outcome.FAIL,
    "err-unsup": Outcome.ERROR,
    "fail-error": Outcome.FAIL,
    "p-unsup": Outcome.PASS,
    "p-ns": Outcome.PASS,
    "gone": Outcome.FAIL,
}
NEW = {
    "same": Outcome.PASS,
    "p-fail": Outcome.FAIL,
    "w-error": Outcome.ERROR,
    "p-nondet": Outcome.NONDETERMINISTIC,
    "u-fail": Outcome.FAIL,
    "ns-fail": Outcome.FAIL,
    "fail-pass": Outcome.PASS,
    "err-unsup": Outcome.UNSUPPORTED,
    "fail-error": Outcome.ERROR,
    "p-unsup": Outcome.UNSUPPORTED,
    "p-ns": Outcome.NON_STRICT,
    "new-fail": Outcome.FAIL,
}


def test_every_change_lands_in_exactly_one_category() -> None:
    diff = diff_runs(_run(BASE), _run(NEW))
    assert diff.newly_failing == [
        ("ns-fail", Outcome.NON_STRICT, Outcome.FAIL),
        ("p-fail", Outcome.PASS, Outcome.FAIL),
        ("p-nondet", Outcome.PASS, Outcome.NONDETERMINISTIC),
        ("u-fail", Outcome.UNSUPPORTED, Outcome.FAIL),
        ("w-error", Outcome.WAIVED, Outcome.ERROR),
    ]
    assert diff.newly_passing == [
        ("err-unsup", Outcome.ERROR, Outcome.UNSUPPORTED),
        ("fail-pass", Outcome.FAIL, Outcome.PASS),
    ]
    assert diff.changed == [
        ("fail-error", Outcome.FAIL, Outcome.ERROR),
        ("p-ns", Outcome.PASS, Outcome.NON_STRICT),
        ("p-unsup", Outcome.PASS, Outcome.UNSUPPORTED),
    ]
    assert diff.added == [("new-fail", None, Outcome.FAIL)]
    assert diff.removed == [("gone", Outcome.FAIL, None)]


def test_regression_is_pass_or_waived_becoming_fail_error_or_nondeterministic() -> None:
    diff = diff_runs(_run(BASE), _run(NEW), allow_removed=True)
    assert regressions(diff) == [
        ("p-fail", Outcome.PASS, Outcome.FAIL),
        ("p-nondet", Outcome.PASS, Outcome.NONDETERMINISTIC),
        ("w-error", Outcome.WAIVED, Outcome.ERROR),
    ]
    assert is_regression(diff)


def test_a_scenario_the_new_run_left_out_regresses_unless_allowed() -> None:
    """A CI job whose selection shrank must not pass green."""
    base = _run({"a": Outcome.PASS, "b": Outcome.PASS, "c": Outcome.FAIL})
    narrowed = _run({"a": Outcome.PASS})
    strict = diff_runs(base, narrowed)
    assert regressions(strict) == [("b", Outcome.PASS, None), ("c", Outcome.FAIL, None)]
    assert "2 of the baseline's scenarios did not run" in render_diff(strict, "text")
    assert not is_regression(diff_runs(base, narrowed, allow_removed=True))


def test_a_different_suite_or_tool_version_is_said_first() -> None:
    base, new = _run({"a": Outcome.PASS}), _run({"a": Outcome.PASS})
    assert render_diff(diff_runs(base, new), "text").startswith("diff: no outcome changed")
    base.suite_sha256, new.suite_sha256 = "a" * 64, "b" * 64
    new.tool_version = "9.9"
    lines = render_diff(diff_runs(base, new), "text").splitlines()
    assert lines[0].startswith("note: tool version differs:")
    assert lines[1] == f"note: suite sha256 differs: {'a' * 16} -> {'b' * 16}"
    assert "suite sha256 differs" in render_diff(diff_runs(base, new), "markdown")


@pytest.mark.parametrize("before", list(Outcome))
@pytest.mark.parametrize("after", list(Outcome))
def test_regression_rule_for_every_pair(before: Outcome, after: Outcome) -> None:
    diff = diff_runs(_run({"s": before}), _run({"s": after}))
    expected = before in (Outcome.PASS, Outcome.WAIVED) and after in (
        Outcome.FAIL,
        Outcome.ERROR,
        Outcome.NONDETERMINISTIC,
    )
    assert is_regression(diff) is expected
    assert diff.is_empty() is (before == after)


def test_new_or_unsupported_failures_are_not_regressions() -> None:
    diff = diff_runs(
        _run({"a": Outcome.UNSUPPORTED}), _run({"a": Outcome.FAIL, "b": Outcome.ERROR})
    )
    assert diff.newly_failing == [("a", Outcome.UNSUPPORTED, Outcome.FAIL)]
    assert diff.added == [("b", None, Outcome.ERROR)]
    assert not is_regression(diff)


def test_strictness_of_the_new_run_decides_what_fails() -> None:
    base, new = (
        _run({"a": Outcome.PASS, "b": Outcome.NON_STRICT}),
        {"a": Outcome.NON_STRICT, "b": Outcome.PASS},
    )
    lenient = diff_runs(base, _run(new))
    assert lenient.changed == [
        ("a", Outcome.PASS, Outcome.NON_STRICT),
        ("b", Outcome.NON_STRICT, Outcome.PASS),
    ]
    strict = diff_runs(base, _run(new, strict=True))
    assert strict.newly_failing == [("a", Outcome.PASS, Outcome.NON_STRICT)]
    assert strict.newly_passing == [("b", Outcome.NON_STRICT, Outcome.PASS)]
    # non-strict is not in the regression rule, even under --strict.
    assert not is_regression(strict)


def test_identical_runs_have_an_empty_diff() -> None:
    diff = diff_runs(_run(BASE), _run(BASE))
    assert diff == RunDiff() and diff.is_empty() and not is_regression(diff)
    assert render_diff(diff, "text") == "diff: no outcome changed\n"


def test_render_text() -> None:
    text = render_diff(diff_runs(_run(BASE), _run(NEW)), "text")
    lines = text.splitlines()
    assert lines[0] == (
        "diff: 5 newly failing, 2 newly passing, 3 changed, 1 added, 1 removed; "
        "REGRESSION (4 scenarios): 1 of the baseline's scenarios did not run "
        "(--allow-removed if that was meant)"
    )
    assert "newly failing (5):" in lines
    assert "  p-fail  pass -> fail  REGRESSION" in lines
    assert "  u-fail  unsupported -> fail" in lines  # shown, but not marked
    assert "  new-fail  - -> fail" in lines
    assert "  gone  fail -> -  REGRESSION" in lines  # left out of the new run
    assert "same" not in text


def test_render_markdown() -> None:
    text = render_diff(
        diff_runs(_run({"a|b": Outcome.PASS}), _run({"a|b": Outcome.FAIL})), "markdown"
    )
    assert text.startswith("### pop3-conformance diff: 1 newly failing; REGRESSION (1 scenario)")
    assert "| a\\|b | pass | fail | yes |" in text.splitlines()


def test_render_json() -> None:
    doc = json.loads(render_diff(diff_runs(_run(BASE), _run(NEW)), "json"))
    assert doc["regression"] is True
    assert doc["regressions"][0] == {"id": "p-fail", "old": "pass", "new": "fail"}
    assert doc["added"] == [{"id": "new-fail", "old": None, "new": "fail"}]
    assert doc["removed"] == [{"id": "gone", "old": "fail", "new": None}]
    assert [e["id"] for e in doc["newly_passing"]] == ["err-unsup", "fail-pass"]
    assert [e["id"] for e in doc["changed"]] == ["fail-error", "p-ns", "p-unsup"]


def test_render_rejects_unknown_format() -> None:
    with pytest.raises(ValueError, match="html"):
        render_diff(RunDiff(), "html")


# --- the CLI ------------------------------------------------------------------------------


def _files(tmp_path: Path, base: dict[str, Outcome], new: dict[str, Outcome]) -> list[str]:
    write_results(_run(base), tmp_path / "base.json")
    write_results(_run(new), tmp_path / "new.json")
    return [str(tmp_path / "base.json"), str(tmp_path / "new.json")]


def test_cli_diff_exits_1_on_a_regression(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["diff", *_files(tmp_path, BASE, NEW)]) == 1
    assert "REGRESSION (4 scenarios)" in capsys.readouterr().out


def test_cli_diff_exits_0_without_a_regression(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = _files(
        tmp_path,
        {"a": Outcome.UNSUPPORTED, "b": Outcome.FAIL},
        {"a": Outcome.FAIL, "b": Outcome.ERROR},
    )
    assert main(["diff", *files, "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["regression"] is False and doc["newly_failing"][0]["id"] == "a"
    assert main(["diff", *files, "--format", "markdown"]) == 0
    assert capsys.readouterr().out.startswith("### pop3-conformance diff:")


@pytest.mark.parametrize(
    "content",
    [None, "not json", json.dumps({"schema": 99}), json.dumps({"schema": 1}), "[1]", b"\xff\xfe"],
    ids=["missing", "bad-json", "other-schema", "no-fields", "wrong-shape", "bad-utf8"],
)
def test_cli_diff_exits_2_on_unreadable_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | bytes | None
) -> None:
    good = _files(tmp_path, {"a": Outcome.PASS}, {"a": Outcome.FAIL})[0]
    bad = tmp_path / "bad.json"
    if isinstance(content, bytes):
        bad.write_bytes(content)
    elif content is not None:
        bad.write_text(content, encoding="utf-8")
    assert main(["diff", good, str(bad)]) == 2
    assert main(["diff", str(bad), good]) == 2
    assert "cannot read results file" in capsys.readouterr().err
    assert main(["diff", good, good, "--format", "html"]) == 2


# --- run --baseline, against the embedded server --------------------------------------------

SCENARIO = "core.deletion.rset-unmarks"


def _run_cli(tmp_path: Path, name: str, *extra: str) -> tuple[int, Path]:
    report = tmp_path / name
    code = main(["run", "--select", SCENARIO, "--report-dir", str(report), *extra])
    return code, report


def test_run_with_baseline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, good = _run_cli(tmp_path, "good")
    assert code == 0
    assert read_results(good / "results.json").scenarios[0].outcome is Outcome.PASS
    assert (
        (good / "summary.md").read_text(encoding="utf-8").startswith("## pop3-conformance: PASS\n")
    )
    baseline = str(good / "results.json")

    # The same server again: no change, the run's own exit code.
    capsys.readouterr()
    code, _ = _run_cli(tmp_path, "same", "--baseline", baseline)
    assert code == 0
    assert "diff: no outcome changed" in capsys.readouterr().out

    # A server whose RSET does nothing: pass -> fail is a regression.
    code, bad = _run_cli(tmp_path, "bad", "--baseline", baseline, "--defect", "rset-ignored")
    assert code == 1
    out = capsys.readouterr().out
    assert f"  {SCENARIO}  pass -> fail  REGRESSION" in out
    summary = (bad / "summary.md").read_text(encoding="utf-8")
    assert summary.startswith("## pop3-conformance: FAIL\n")
    assert f"| {SCENARIO} | fail |" in summary

    # Failing before and after: a known fail, no regression, so the gate passes.
    code, _ = _run_cli(
        tmp_path, "still-bad", "--baseline", str(bad / "results.json"), "--defect", "rset-ignored"
    )
    assert code == 0
    assert "diff: no outcome changed" in capsys.readouterr().out

    # Fixed since the baseline: the run's own exit code, 0.
    code, _ = _run_cli(tmp_path, "fixed", "--baseline", str(bad / "results.json"))
    assert code == 0
    assert f"  {SCENARIO}  fail -> pass" in capsys.readouterr().out


def test_run_with_unreadable_baseline_is_a_usage_error_before_running(tmp_path: Path) -> None:
    code, report = _run_cli(tmp_path, "r", "--baseline", str(tmp_path / "missing.json"))
    assert code == 2
    assert not report.exists()


def test_a_narrowed_run_fails_the_gate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    full = tmp_path / "full"
    assert main(["run", "--select", "core.deletion.rset-*", "--report-dir", str(full)]) == 0
    baseline = str(full / "results.json")
    assert len(read_results(full / "results.json").scenarios) > 1
    code, _ = _run_cli(tmp_path, "narrow", "--baseline", baseline)
    assert code == 1
    assert "did not run (--allow-removed if that was meant)" in capsys.readouterr().out
    code, _ = _run_cli(tmp_path, "narrow-ok", "--baseline", baseline, "--allow-removed")
    assert code == 0
