"""``pop3-conformance matrix``: requirements by servers from several results files.

Two real runs (the reference server clean and with ``rset-ignored``) feed the
end-to-end tests; hand-made runs pin the cells, the escaping and the order.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from conformance.cli import EXIT_OK, EXIT_USAGE, main
from conformance.outcomes import Outcome
from conformance.report.json_report import read_results
from conformance.report.matrix import render_matrix_html, render_matrix_markdown
from conformance.results import CheckResult, RunResult, ScenarioResult

SELECT = "core.deletion.rset-*"


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """results.json of a clean and of a defective reference server, in folders named so."""
    root = tmp_path_factory.mktemp("matrix")
    out = {}
    for name, extra in (("clean", []), ("rset", ["--defect", "rset-ignored"])):
        report = root / name
        code = main(["run", "--select", SELECT, "--report-dir", str(report), *extra])
        assert code == (EXIT_OK if name == "clean" else 1)
        out[name] = report / "results.json"
    return out


def _table_row(markdown: str, req_id: str) -> list[str]:
    line = next(ln for ln in markdown.splitlines() if ln.startswith(f"| {req_id} |"))
    return [c.strip() for c in line.strip("|").split("|")]


def test_matrix_of_clean_and_defective_runs(
    results: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "m"
    code = main(["matrix", str(results["clean"]), str(results["rset"]), "--out", str(out)])
    assert code == EXIT_OK
    assert capsys.readouterr().out == ""  # --out alone prints nothing
    md = (out / "matrix.md").read_text()
    # Both runs say IMPLEMENTATION pop3-conformance-reference: the folder names tell them apart.
    assert "| requirement | level | clean | rset |" in md
    assert _table_row(md, "RFC1939-5.RSET-1") == ["RFC1939-5.RSET-1", "MUST", "pass", "FAIL"]
    assert "### RFC1939" in md
    failures = [ln for ln in md.splitlines() if ln.startswith("- **")]
    assert failures, md
    assert all(ln.startswith("- **rset**") for ln in failures)
    assert any(
        "RFC1939-5.RSET-1 in core.deletion.rset-restores-access: got -ERR" in ln for ln in failures
    )
    count = int(re.search(r"### Failures \((\d+)\)", md)[1])  # type: ignore[index]
    assert count == len(failures)

    html = (out / "matrix.html").read_text()
    assert '<td class="c c-fail">FAIL</td>' in html
    assert "core.deletion.rset-restores-access" in html
    assert not re.search(r"""(src|href)=["']?https?:""", html)  # fetches nothing


def test_matrix_output_is_deterministic(results: dict[str, Path], tmp_path: Path) -> None:
    args = [str(results["clean"]), str(results["rset"]), "--label", "A", "--label", "B"]
    assert main(["matrix", *args, "--out", str(tmp_path / "1")]) == EXIT_OK
    assert main(["matrix", *args, "--out", str(tmp_path / "2")]) == EXIT_OK
    for name in ("matrix.md", "matrix.html"):
        assert (tmp_path / "1" / name).read_bytes() == (tmp_path / "2" / name).read_bytes()
    md = (tmp_path / "1" / "matrix.md").read_text()
    assert "| requirement | level | A | B |" in md
    # The library function renders the same text as the command.
    runs = [("A", read_results(results["clean"])), ("B", read_results(results["rset"]))]
    assert render_matrix_markdown(runs) == md


def test_matrix_to_stdout_and_label_rules(
    results: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Without --out, Markdown goes to stdout; the same file twice gets a numbered label.
    copy = tmp_path / "clean" / "results.json"
    copy.parent.mkdir()
    shutil.copy(results["clean"], copy)
    assert main(["matrix", str(results["clean"]), str(copy), "--label", "first"]) == EXIT_OK
    md = capsys.readouterr().out
    assert "| requirement | level | first | pop3-conformance-reference |" in md
    assert main(["matrix", str(results["clean"]), str(copy), "--format", "html"]) == EXIT_OK
    html = capsys.readouterr().out
    assert html.startswith("<!DOCTYPE html>")
    assert "<th>clean</th><th>clean (2)</th>" in html


def test_matrix_usage_errors(results: dict[str, Path], tmp_path: Path) -> None:
    assert main(["matrix", str(results["clean"]), "--label", "a", "--label", "b"]) == EXIT_USAGE
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert main(["matrix", str(bad)]) == EXIT_USAGE
    assert main(["matrix", str(tmp_path / "missing.json")]) == EXIT_USAGE


# -- hand-made runs ---------------------------------------------------------------------


def _scenario(
    sid: str, reqs: list[str], checks: list[CheckResult], outcome: Outcome
) -> ScenarioResult:
    return ScenarioResult(
        id=sid,
        title=sid,
        file=f"{sid}.pop3",
        section="RFC1939 §5",
        requirements=reqs,
        tags=[],
        outcome=outcome,
        checks=checks,
    )


def _run(*scenarios: ScenarioResult) -> RunResult:
    return RunResult(
        tool_version="0.1.0",
        started="2026-01-01T00:00:00+00:00",
        duration_s=1.0,
        target={"host": "h", "port": 1, "greeting": "+OK", "capa": None},
        scenarios=list(scenarios),
    )


def test_cells_not_run_order_and_escaping() -> None:
    fail = CheckResult(
        "RFC1939-5.DELE-1", "MUST", "", Outcome.FAIL, expected="+OK", actual="-ERR a|b <x>"
    )
    one = _run(
        _scenario("d", ["RFC1939-5.DELE-1"], [fail], Outcome.FAIL),
        _scenario("u", ["RFC2449-5-1"], [], Outcome.UNSUPPORTED),
    )
    two = _run(
        _scenario(
            "q",
            ["RFC1939-6.QUIT-1"],
            [CheckResult("RFC1939-6.QUIT-1", "MUST", "", Outcome.NON_STRICT)],
            Outcome.NON_STRICT,
        )
    )
    md = render_matrix_markdown([("srv|1", one), ("two", two)])
    assert "| requirement | level | srv\\|1 | two |" in md
    assert _table_row(md, "RFC1939-5.DELE-1")[2:] == ["FAIL", "—"]
    assert _table_row(md, "RFC1939-6.QUIT-1")[2:] == ["—", "non-strict"]
    # An unsupported scenario makes no checks: its requirements take its outcome.
    assert _table_row(md, "RFC2449-5-1")[2:] == ["unsupported", "—"]
    # RFCs in numeric order, catalog order within one.
    assert md.index("### RFC1939") < md.index("### RFC2449")
    assert md.index("| RFC1939-5.DELE-1 |") < md.index("| RFC1939-6.QUIT-1 |")
    assert "- **srv\\|1** RFC1939-5.DELE-1 in d: got -ERR a\\|b \\<x\\>; expected +OK" in md
    html = render_matrix_html([("srv|1", one), ("<two>", two)])
    assert "&lt;two&gt;" in html and "<two>" not in html
    assert "-ERR a|b &lt;x&gt;" in html


def test_a_listed_requirement_never_inherits_another_ones_fail() -> None:
    from conformance.report.by_requirement import requirement_results

    broken = CheckResult("RFC1939-5.DELE-2", "MUST", "q", Outcome.FAIL)
    scenario = ScenarioResult(
        id="s",
        title="t",
        file="f",
        section="RFC1939 §5",
        requirements=["RFC1939-5.DELE-1", "RFC1939-5.DELE-2"],
        tags=[],
        outcome=Outcome.FAIL,
        checks=[broken],
    )
    run = RunResult("0", "", 0.0, {}, [scenario])
    by_id = {r.id: r.outcome for r in requirement_results(run)}
    assert by_id["RFC1939-5.DELE-2"] is Outcome.FAIL
    assert "RFC1939-5.DELE-1" not in by_id
