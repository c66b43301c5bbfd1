"""docs/ci.md cannot rot silently: its commands parse, its paths are the files a run writes.

Every ``pop3-conformance`` command in the page's code blocks (YAML and shell)
is cut out of its shell line and parsed with the real
:func:`conformance.cli.build_parser`.  The YAML blocks are also checked as
pipelines: they parse, publish ``junit.xml`` as the test report, keep the
report folder, show ``summary.md`` and gate on ``diff`` against a baseline.
The structural part needs PyYAML and is skipped without it; the command
checks need nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import shlex
from pathlib import Path
from typing import Any

import pytest

from conformance.cli import build_parser
from conformance.cli_common import write_reports
from conformance.results import RunResult

DOC = Path(__file__).resolve().parent.parent / "docs" / "ci.md"
# The README shows the same two recipes; both are checked.
README = Path(__file__).resolve().parent.parent / "README.md"
_FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
# Where a shell command ends: the harness's arguments stop at these tokens.
_SHELL_OPERATORS = {"||", "&&", ";", "|", ">", ">>", "<", "2>", "&"}


def blocks(language: str) -> list[str]:
    text = DOC.read_text(encoding="utf-8") + README.read_text(encoding="utf-8")
    return [body for lang, body in _FENCE.findall(text) if lang == language]


def logical_lines(text: str) -> list[str]:
    """Lines with backslash-newline continuations joined, as the shell reads them."""
    return text.replace("\\\n", " ").splitlines()


def harness_commands(text: str) -> list[list[str]]:
    """The argv (after the program name) of every ``pop3-conformance`` command in ``text``."""
    found = []
    for line in logical_lines(text):
        if "pop3-conformance " not in line or line.lstrip().startswith("#"):
            continue
        start = line.index("pop3-conformance ")
        lexer = shlex.shlex(line[start:], posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        words: list[str] = []
        for token in lexer:
            if token in _SHELL_OPERATORS:
                break
            words.append(token)
        if words[0] == "pop3-conformance":
            found.append(words[1:])
    return found


def _exact_options(parser: argparse.ArgumentParser, command: str) -> set[str]:
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    sub: argparse.ArgumentParser = subparsers.choices[command]
    return set(sub._option_string_actions)


def parse(argv: list[str]) -> argparse.Namespace:
    parser = build_parser()
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            args = parser.parse_args(argv)
    except SystemExit:
        pytest.fail(f"not a valid command: pop3-conformance {shlex.join(argv)}\n{err.getvalue()}")
    # argparse takes "--rep" for "--report-dir"; a page should spell flags out.
    options = _exact_options(parser, argv[0])
    for word in argv[1:]:
        if word.startswith("--") and word.split("=")[0] not in options:
            pytest.fail(
                f"abbreviated or unknown flag {word} in pop3-conformance {shlex.join(argv)}"
            )
    return args


def all_commands() -> list[list[str]]:
    return [
        argv for lang in ("yaml", "sh") for body in blocks(lang) for argv in harness_commands(body)
    ]


def report_files(tmp_path: Path) -> set[str]:
    """The names of the files ``run`` writes into its report folder, from the real writer."""
    run = RunResult("0.1.0", "2024-05-01T10:00:00Z", 0.0, {"host": "h", "port": 1}, [])
    write_reports(run, tmp_path)
    return {p.name for p in tmp_path.iterdir()}


# -- the extraction itself -----------------------------------------------------


def test_extraction_joins_continuations_and_stops_at_shell_operators() -> None:
    text = 'x\n  pop3-conformance run \\\n    --host h --port 1 \\\n    --report-dir "a b" || c=$?'
    assert harness_commands(text) == [["run", "--host", "h", "--port", "1", "--report-dir", "a b"]]
    assert harness_commands("- pop3-conformance diff a b > d.md") == [["diff", "a", "b"]]
    assert harness_commands("# pop3-conformance run --nope") == []


def test_a_wrong_flag_is_caught() -> None:
    with pytest.raises(pytest.fail.Exception, match="--no-such-flag"):
        parse(["run", "--no-such-flag"])
    with pytest.raises(pytest.fail.Exception, match="abbreviated or unknown flag --report"):
        parse(["run", "--report", "d"])
    assert parse(["run", "--report-dir=d"]).report_dir == Path("d")


# -- the page ------------------------------------------------------------------


def test_the_page_has_the_recipes() -> None:
    yaml_blocks = blocks("yaml")
    assert len(yaml_blocks) >= 2
    assert any("runs-on:" in b for b in yaml_blocks), "no GitHub Actions recipe"
    assert any("artifacts:" in b for b in yaml_blocks), "no GitLab CI recipe"


def test_every_command_in_the_page_parses() -> None:
    commands = all_commands()
    assert len(commands) >= 6
    for argv in commands:
        parse(argv)


def test_every_recipe_runs_with_a_report_dir_and_a_baseline_and_gates_with_diff() -> None:
    for body in blocks("yaml"):
        commands = [parse(argv) for argv in harness_commands(body)]
        runs = [a for a in commands if a.command == "run"]
        diffs = [a for a in commands if a.command == "diff"]
        assert len(runs) == 1, body
        (run,) = runs
        assert run.report_dir is not None and run.baseline is not None
        assert run.host, "a recipe runs against the server the job started"
        assert diffs, "no regression gate"
        for diff in diffs:
            assert diff.base == run.baseline
            assert diff.new == run.report_dir / "results.json"
        if run.provision.startswith("exec"):
            assert run.seed_cmd and "{user}" in run.seed_cmd and "{file}" in run.seed_cmd
            assert run.clear_cmd and "{user}" in run.clear_cmd


def test_the_files_the_page_names_are_the_files_a_run_writes(tmp_path: Path) -> None:
    written = report_files(tmp_path)
    assert written >= {"results.json", "junit.xml", "summary.md", "report.html"}
    text = DOC.read_text(encoding="utf-8")
    named = set(re.findall(r"reports/ci/([\w.-]+\.\w+)", text))
    # baseline-diff.md is the recipes' own file (written by diff's redirect).
    assert named - {"baseline-diff.md"} <= written, named - written
    assert {"junit.xml", "summary.md", "results.json"} <= named


# -- the pipelines, as YAML ------------------------------------------------------


def _load(body: str) -> Any:
    yaml = pytest.importorskip("yaml", reason="PyYAML checks the pipeline structure")
    return yaml.safe_load(body)


def _github(doc: dict[Any, Any]) -> None:
    # PyYAML reads the key "on" as True (YAML 1.1); GitHub reads it as "on".
    assert "on" in doc or True in doc
    assert doc["permissions"]["checks"] == "write"
    (job,) = doc["jobs"].values()
    steps = job["steps"]
    uses = {s["uses"].split("@")[0]: s for s in steps if "uses" in s}
    scripts = "\n".join(s.get("run", "") for s in steps)
    (run,) = [parse(a) for a in harness_commands(scripts) if a[0] == "run"]
    report_dir = str(run.report_dir)
    junit = uses["mikepenz/action-junit-report"]
    assert junit["with"]["report_paths"] == f"{report_dir}/junit.xml"
    assert junit["if"] == "always()"
    artifact = uses["actions/upload-artifact"]
    assert artifact["with"]["path"].rstrip("/") == report_dir and artifact["if"] == "always()"
    summary = [s for s in steps if "GITHUB_STEP_SUMMARY" in s.get("run", "")]
    assert any(
        f"{report_dir}/summary.md" in s["run"] and s.get("if") == "always()" for s in summary
    )
    # The gate comes after the reports are out, so a regression still publishes them.
    gate = next(i for i, s in enumerate(steps) if "pop3-conformance diff" in s.get("run", ""))
    assert gate > steps.index(junit) and gate > steps.index(artifact)


def _gitlab(job: dict[str, Any]) -> None:
    script = "\n".join(job["script"])
    (run,) = [parse(a) for a in harness_commands(script) if a[0] == "run"]
    report_dir = str(run.report_dir)
    artifacts = job["artifacts"]
    assert artifacts["when"] == "always"
    assert artifacts["reports"]["junit"] == f"{report_dir}/junit.xml"
    assert f"{report_dir}/" in artifacts["paths"]
    if "expose_as" in artifacts:
        # GitLab: exposed paths are no globs, and folders end in "/".
        assert all("*" not in p for p in artifacts["paths"])


def test_the_pipelines_are_valid_yaml_with_the_reports_wired() -> None:
    seen = {"github": 0, "gitlab": 0}
    for body in blocks("yaml"):
        doc = _load(body)
        assert isinstance(doc, dict), body
        if "jobs" in doc:
            _github(doc)
            seen["github"] += 1
        else:
            for job in doc.values():
                _gitlab(job)
                seen["gitlab"] += 1
    assert seen["github"] >= 1 and seen["gitlab"] >= 1, seen


def test_a_nightly_recipe_runs_the_timers_on_a_schedule() -> None:
    nightly = []
    for body in blocks("yaml"):
        doc = _load(body)
        on = doc.get("on", doc.get(True)) if isinstance(doc, dict) else None
        if isinstance(on, dict) and "schedule" in on:
            (run,) = [parse(a) for a in harness_commands(body) if a[0] == "run"]
            nightly.append(run)
    assert nightly, "no scheduled recipe"
    # The timers need --slow; four accounts hold the slow set in one window.
    assert all(run.slow and len(run.account) >= 4 for run in nightly)
