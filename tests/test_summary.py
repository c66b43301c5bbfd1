"""The Markdown summary (summary.md), rendered from hand-made run results."""

from __future__ import annotations

from pathlib import Path

from conformance.outcomes import Outcome
from conformance.report.summary import MAX_ROWS, cell, render_summary, write_summary
from conformance.results import CheckResult, PassiveFinding, RunResult, ScenarioResult


def _scenario(sid: str, outcome: Outcome, **kwargs: object) -> ScenarioResult:
    return ScenarioResult(
        id=sid,
        title=f"title of {sid}",
        file=f"suites/{sid}.pop3",
        section="RFC1939 §5",
        requirements=["RFC1939-5-1"],
        tags=["core"],
        outcome=outcome,
        **kwargs,  # type: ignore[arg-type]
    )


def _check(req: str, level: str, outcome: Outcome, actual: str) -> CheckResult:
    return CheckResult(req, level, "quote", outcome, expected="+OK", actual=actual)


def _run(scenarios: list[ScenarioResult], **kwargs: object) -> RunResult:
    return RunResult(
        tool_version="0.1.0",
        started="2024-05-01T10:00:00Z",
        duration_s=1.0,
        target={"host": "127.0.0.1", "port": 1110},
        scenarios=scenarios,
        **kwargs,  # type: ignore[arg-type]
    )


def _table_rows(text: str, header: str) -> list[str]:
    """The body rows of the Markdown table whose header line starts with ``header``."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append(line)
    return rows


def _cells(row: str) -> list[str]:
    """Split a GFM table row at unescaped pipes (an escaped backslash does not escape)."""
    cells, current, i = [], "", 1
    while i < len(row) - 1:
        if row[i] == "\\":
            current += row[i : i + 2]
            i += 2
            continue
        if row[i] == "|":
            cells.append(current.strip())
            current = ""
        else:
            current += row[i]
        i += 1
    cells.append(current.strip())
    return cells


def test_passing_run_has_verdict_and_counts_and_no_failure_table() -> None:
    run = _run(
        [
            _scenario("a", Outcome.PASS),
            _scenario("b", Outcome.PASS),
            _scenario("c", Outcome.UNSUPPORTED, reason="no TOP"),
            _scenario(
                "d", Outcome.NON_STRICT, checks=[_check("R-1", "SHOULD", Outcome.NON_STRICT, "x")]
            ),
        ]
    )
    text = render_summary(run)
    assert text.startswith("## pop3-conformance: PASS\n")
    assert "4 scenarios against `127.0.0.1:1110`" in text
    assert _table_rows(text, "| outcome |") == [
        "| pass | 2 |",
        "| non-strict | 1 |",
        "| unsupported | 1 |",
    ]
    assert "Failures" not in text  # non-strict does not fail a run without --strict


def test_failure_table_lists_exactly_the_results_that_fail_the_run() -> None:
    run = _run(
        [
            _scenario("ok", Outcome.PASS),
            _scenario(
                "upper",
                Outcome.FAIL,
                checks=[
                    _check("RFC1939-3-1", "info", Outcome.INFO, "ignored"),
                    _check("RFC1939-3-7", "MUST", Outcome.FAIL, "+ok ready\r\n"),
                    _check("RFC1939-3-8", "MUST", Outcome.FAIL, "second"),
                ],
            ),
            _scenario("idle", Outcome.ERROR, reason="connection refused"),
            _scenario("replay", Outcome.NONDETERMINISTIC, reason="+OK, then -ERR"),
            _scenario("extra", Outcome.NON_STRICT),
            _scenario("waived", Outcome.WAIVED, reason="known"),
        ],
        passive=[
            PassiveFinding("RFC1939-3-6", "bare-lf", "LF only", "ok", 3),
            PassiveFinding("RFC1957-1", "no-space", "bare +OK", "ok", outcome=Outcome.INFO),
        ],
    )
    text = render_summary(run)
    assert text.startswith("## pop3-conformance: FAIL\n")
    assert "### Failures (4)" in text
    rows = [_cells(r) for r in _table_rows(text, "| scenario |")]
    assert rows == [
        ["upper", "fail", "RFC1939-3-7", "MUST", "+ok ready\\\\r\\\\n (+1 more checks)"],
        ["idle", "error", "RFC1939-5-1", "", "connection refused"],
        ["replay", "nondeterministic", "RFC1939-5-1", "", "+OK, then -ERR"],
        [
            "passive",
            "fail",
            "RFC1939-3-6",
            "",
            "bare-lf: LF only (first seen in ok, 3 times)",
        ],
    ]
    assert "| passive findings | 2 |" in text


def test_strict_run_lists_non_strict_as_failures() -> None:
    scenario = _scenario(
        "extra",
        Outcome.NON_STRICT,
        checks=[_check("RFC1939-5.STAT-4", "SHOULD", Outcome.NON_STRICT, "+OK 2 320 x")],
    )
    text = render_summary(_run([scenario], strict=True))
    assert text.startswith("## pop3-conformance: FAIL\n")
    assert "strict" in text.splitlines()[2]
    assert [_cells(r) for r in _table_rows(text, "| scenario |")] == [
        ["extra", "non-strict", "RFC1939-5.STAT-4", "SHOULD", "+OK 2 320 x"]
    ]


def test_empty_run_is_not_a_pass() -> None:
    text = render_summary(_run([]))
    assert text.startswith("## pop3-conformance: EMPTY\n")


def test_cells_escape_pipes_newlines_and_markup() -> None:
    nasty = "a|b\nc\r\n<script>x</script> `code` *bold* [link](u) \\| end"
    run = _run(
        [_scenario("n|asty", Outcome.FAIL, checks=[_check("R|1", "MUST", Outcome.FAIL, nasty)])]
    )
    text = render_summary(run)
    rows = _table_rows(text, "| scenario |")
    assert len(rows) == 1 and "\n" not in rows[0] and "\r" not in rows[0]
    cells = _cells(rows[0])
    assert len(cells) == 5  # no pipe split the row
    assert cells[0] == "n\\|asty" and cells[2] == "R\\|1"
    assert "<script>" not in text and "\\<script\\>" in cells[4]
    assert "\\`code\\`" in cells[4] and "\\*bold\\*" in cells[4] and "\\[link\\]" in cells[4]
    # A backslash in the data is escaped too, so its pipe stays escaped.
    assert cells[4].endswith("\\\\\\| end")
    assert cell("x" * 300, 10) == "x" * 9 + "…"


def test_failure_table_is_capped() -> None:
    scenarios = [_scenario(f"s{i:03}", Outcome.FAIL) for i in range(MAX_ROWS + 7)]
    text = render_summary(_run(scenarios))
    assert len(_table_rows(text, "| scenario |")) == MAX_ROWS
    assert f"### Failures ({MAX_ROWS + 7})" in text
    assert "…and 7 more" in text
    assert "s049" in text and "s050" not in text


def test_write_summary(tmp_path: Path) -> None:
    run = _run([_scenario("a", Outcome.PASS)])
    write_summary(run, tmp_path / "summary.md")
    assert (tmp_path / "summary.md").read_text(encoding="utf-8") == render_summary(run)
