"""The JSON, JUnit XML and console reports, rendered from hand-made run results."""

from __future__ import annotations

import json
import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from conformance.outcomes import Outcome
from conformance.report import read_results, render_console, write_junit, write_results
from conformance.report.console import summary_line
from conformance.report.escape import visible
from conformance.report.text import section_key
from conformance.results import (
    CheckResult,
    PassiveFinding,
    RunResult,
    ScenarioResult,
    TranscriptEntry,
)

UPPER_QUOTE = 'Servers MUST send the "+OK" and "-ERR" in upper case.'


def _scenario(
    sid: str, section: str, outcome: Outcome, title: str = "", **kwargs: object
) -> ScenarioResult:
    return ScenarioResult(
        id=sid,
        title=title or f"title of {sid}",
        file=f"suites/{sid}.pop3",
        section=section,
        requirements=[],
        tags=["core"],
        outcome=outcome,
        **kwargs,  # type: ignore[arg-type]
    )


def make_run(strict: bool = False) -> RunResult:
    """A run with every outcome, two sections out of natural order, and nasty bytes."""
    nasty = [
        TranscriptEntry(0.0, "A", "*", "connect 127.0.0.1:1110"),
        TranscriptEntry(1.5, "A", "S", "+ok POP3 ready \x00\x1b[31m gr\u00fc\u00df\r\n"),
        TranscriptEntry(2.25, "A", "C", "STAT"),
        TranscriptEntry(3.0, "A", "S", "+OK 2 320\x85\udcff\r\n"),
    ]
    failed = _scenario(
        "core.status-upper",
        "RFC1939 §3",
        Outcome.FAIL,
        title="Status indicators are upper case",
        checks=[
            CheckResult(
                "RFC1939-3-1", "info", "listening on port 110", Outcome.INFO, "110", "1110"
            ),
            CheckResult(
                "RFC1939-3-7",
                "MUST",
                UPPER_QUOTE,
                Outcome.FAIL,
                expected="+OK",
                actual="+ok POP3 ready \x00\x1b[31m gr\u00fc\u00df\r\n",
                where="suites/core.status-upper.pop3:12",
                note="no alternative matched",
            ),
        ],
        transcript=nasty,
        duration_ms=12.5,
        description="Reads the greeting.\nThen sends STAT.",
        expectation="Every status indicator is +OK or -ERR.",
    )
    return RunResult(
        tool_version="0.1.0",
        started="2024-05-01T10:00:00Z",
        duration_s=1.234,
        target={"host": "127.0.0.1", "port": 1110, "greeting": "+OK \u00e9t\u00e9"},
        strict=strict,
        selection=["core.*"],
        scenarios=[
            _scenario("ext.capa", "RFC2449 §5", Outcome.PASS, duration_ms=3.0),
            _scenario("core.stat", "RFC1939 §5", Outcome.PASS),
            failed,
            _scenario(
                "core.stat-extra",
                "RFC1939 §5",
                Outcome.NON_STRICT,
                checks=[
                    CheckResult(
                        "RFC1939-5.STAT-4",
                        "SHOULD",
                        "This memo STRONGLY discourages ...",
                        Outcome.NON_STRICT,
                        expected="+OK 2 320",
                        actual="+OK 2 320 extra",
                        where="suites/core.stat-extra.pop3:9",
                    )
                ],
            ),
            _scenario("ext.top", "RFC2449 §6.1", Outcome.UNSUPPORTED, reason="no TOP in CAPA"),
            _scenario("core.lock", "RFC1939 §4", Outcome.WAIVED, reason="known Dovecot setting"),
            _scenario("core.port", "RFC1939 §3", Outcome.INFO),
            _scenario("core.idle", "RFC1939 §11", Outcome.ERROR, reason="connection refused\r\n"),
            _scenario(
                "core.replay",
                "RFC1939 §11",
                Outcome.NONDETERMINISTIC,
                reason="answered +OK, then -ERR on replay",
            ),
        ],
        passive=[
            PassiveFinding(
                "RFC1939-3-6", "bare-lf", "status line ends in LF: +OK\n", "core.stat", 3
            ),
            PassiveFinding(
                "RFC1957-1", "no-space", "bare +OK", "core.stat", 1, outcome=Outcome.INFO
            ),
        ],
    )


# --- escape -------------------------------------------------------------------


def test_visible_spells_out_controls_and_keeps_text() -> None:
    assert visible("a\r\nb") == "a\\r\\nb"
    assert visible("\x00\x1b\x7f\x85\t") == "\\x00\\x1b\\x7f\\x85\\t"
    assert visible("gr\u00fc\u00df \u00e9t\u00e9 \u4e2d") == "gr\u00fc\u00df \u00e9t\u00e9 \u4e2d"
    assert visible("\udcff") == "\\xff"  # a byte kept by surrogateescape
    assert visible("\u202e\ufffe\U0010ffff") == "\\u202e\\ufffe\\U0010ffff"
    assert visible("a\r\nb", keep_newlines=True) == "a\\r\nb"
    assert visible("^\\+OK") == "^\\+OK"  # backslashes are not doubled (see escape.py)


# --- JSON ---------------------------------------------------------------------


def test_json_round_trip_is_exact(tmp_path: Path) -> None:
    run = make_run()
    path = tmp_path / "out" / "results.json"
    write_results(run, path)
    assert read_results(path) == run
    # The file is UTF-8 (non-ASCII kept as is), sorted, indent 1, complete.
    raw = path.read_bytes()
    raw.decode("utf-8")  # strict: a lone surrogate would have made this fail
    assert "gr\u00fc\u00df".encode() in raw
    data = json.loads(raw)
    assert list(data) == sorted(data)
    assert raw.startswith(b'{\n "counts"')
    # The run holds a fail and an error: the proven breach heads it.
    assert data["outcome"] == "fail"
    assert [p.name for p in path.parent.iterdir()] == ["results.json"]  # no temp file left


def test_json_write_replaces_atomically(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    path.write_text("old", encoding="utf-8")
    inode_before = path.stat().st_ino
    write_results(make_run(), path)
    assert path.stat().st_ino != inode_before  # renamed over, not rewritten in place
    assert oct(path.stat().st_mode & 0o777) == oct(0o644)
    assert read_results(path).tool_version == "0.1.0"


def test_read_results_rejects_other_schema(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"schema": 99}), encoding="utf-8")
    with pytest.raises(ValueError, match="schema"):
        read_results(path)


# --- JUnit XML ----------------------------------------------------------------


def _junit(tmp_path: Path, run: RunResult) -> tuple[str, ET.Element]:
    path = tmp_path / "junit.xml"
    write_junit(run, path)
    text = path.read_text(encoding="utf-8")
    return text, ET.fromstring(text)


def _suites(root: ET.Element) -> dict[str, ET.Element]:
    return {s.attrib["name"]: s for s in root.iter("testsuite")}


def test_junit_suites_per_section_in_natural_order(tmp_path: Path) -> None:
    _, root = _junit(tmp_path, make_run())
    assert [s.attrib["name"] for s in root.iter("testsuite")] == [
        "pop3-conformance.RFC1939 §3",
        "pop3-conformance.RFC1939 §4",
        "pop3-conformance.RFC1939 §5",
        "pop3-conformance.RFC1939 §11",
        "pop3-conformance.RFC2449 §5",
        "pop3-conformance.RFC2449 §6.1",
        "pop3-conformance.passive",
    ]
    suite = _suites(root)["pop3-conformance.RFC1939 §3"]
    cases = suite.findall("testcase")
    assert [c.attrib["name"] for c in cases] == ["core.status-upper", "core.port"]
    assert cases[0].attrib["classname"] == "RFC1939 §3"
    assert cases[0].attrib["file"] == "suites/core.status-upper.pop3"
    assert float(cases[0].attrib["time"]) == pytest.approx(0.0125)
    props = {p.attrib["name"]: p.attrib["value"] for p in suite.iter("property")}
    assert props == {
        "tool_version": "0.1.0",
        "target.host": "127.0.0.1",
        "target.port": "1110",
        "strict": "false",
        "limit.1": "1 scenario unsupported because the server does not offer what they need",
    }


def _counts(suite: ET.Element) -> tuple[int, int, int, int]:
    a = suite.attrib
    return int(a["tests"]), int(a["failures"]), int(a["errors"]), int(a["skipped"])


def test_junit_outcome_mapping(tmp_path: Path) -> None:
    _, root = _junit(tmp_path, make_run())
    suites = _suites(root)
    # (tests, failures, errors, skipped)
    assert _counts(suites["pop3-conformance.RFC1939 §3"]) == (2, 1, 0, 0)  # fail + info
    assert _counts(suites["pop3-conformance.RFC1939 §4"]) == (1, 0, 0, 0)  # waived passes
    assert _counts(suites["pop3-conformance.RFC1939 §5"]) == (2, 0, 0, 0)  # non-strict passes
    assert _counts(suites["pop3-conformance.RFC1939 §11"]) == (2, 1, 1, 0)  # nondet + error
    assert _counts(suites["pop3-conformance.RFC2449 §6.1"]) == (1, 0, 0, 1)
    assert _counts(suites["pop3-conformance.passive"]) == (2, 1, 0, 0)
    assert root.attrib["failures"] == "3" and root.attrib["errors"] == "1"

    by_name = {c.attrib["name"]: c for c in root.iter("testcase")}
    nondet = by_name["core.replay"].find("failure")
    assert nondet is not None and nondet.attrib["type"] == "nondeterministic"
    skipped = by_name["ext.top"].find("skipped")
    assert skipped is not None and skipped.attrib["message"] == "no TOP in CAPA"
    waived_out = by_name["core.lock"].findtext("system-out")
    assert waived_out is not None and "waived: known Dovecot setting" in waived_out
    ns_out = by_name["core.stat-extra"].findtext("system-out")
    assert ns_out is not None and "Actual:   +OK 2 320 extra" in ns_out
    assert by_name["core.stat-extra"].find("failure") is None
    error = by_name["core.idle"].find("error")
    assert error is not None and error.attrib["message"] == "connection refused\\r\\n"


def test_junit_strict_turns_non_strict_into_failure(tmp_path: Path) -> None:
    _, root = _junit(tmp_path, make_run(strict=True))
    suites = _suites(root)
    assert _counts(suites["pop3-conformance.RFC1939 §5"]) == (2, 1, 0, 0)
    by_name = {c.attrib["name"]: c for c in root.iter("testcase")}
    failure = by_name["core.stat-extra"].find("failure")
    assert failure is not None and failure.attrib["type"] == "non-strict"
    props = {
        p.attrib["name"]: p.attrib["value"]
        for p in suites["pop3-conformance.RFC1939 §5"].iter("property")
    }
    assert props["strict"] == "true"


def test_junit_failure_output_has_requirement_and_visible_transcript(tmp_path: Path) -> None:
    text, root = _junit(tmp_path, make_run())
    case = next(c for c in root.iter("testcase") if c.attrib["name"] == "core.status-upper")
    failure = case.find("failure")
    assert failure is not None
    assert failure.attrib["message"].startswith("RFC1939-3-7 (MUST): expected +OK; got +ok")
    output = failure.text or ""
    lines = output.splitlines()
    assert "RFC1939-3-7 (MUST) fail" in lines
    assert f'  "{UPPER_QUOTE}"' in lines
    assert "  Expected: +OK" in lines
    assert "  Where:    suites/core.status-upper.pop3:12" in lines
    assert "RFC1939-3-1 (info) info" in lines  # a non-passing check is listed too
    assert lines.index("Transcript:") > lines.index("RFC1939-3-7 (MUST) fail")
    # CR, NUL, ESC, C1 and a surrogate-escaped byte survive as visible text...
    assert "        1.5   A S: +ok POP3 ready \\x00\\x1b[31m gr\u00fc\u00df\\r\\n" in lines
    assert "        3.0   A S: +OK 2 320\\x85\\xff\\r\\n" in lines
    for visible_form in ("\\r\\n", "\\x00", "\\x1b", "\\x85"):
        assert visible_form in text
    # ...and none of them reaches the file raw.
    for raw in ("\r", "\x00", "\x1b", "\x85"):
        assert raw not in text


def test_junit_passive_suite(tmp_path: Path) -> None:
    _, root = _junit(tmp_path, make_run())
    suite = _suites(root)["pop3-conformance.passive"]
    cases = suite.findall("testcase")
    assert [c.attrib["name"] for c in cases] == ["RFC1939-3-6 bare-lf", "RFC1957-1 no-space"]
    failure = cases[0].find("failure")
    assert failure is not None
    assert "status line ends in LF: +OK\\n" in failure.attrib["message"]
    assert "Count:       3" in (failure.text or "")
    assert cases[1].find("failure") is None


def test_junit_of_empty_run_is_valid(tmp_path: Path) -> None:
    run = RunResult("0.1.0", "2024-05-01T10:00:00Z", 0.0, {"host": "h", "port": 110}, [])
    _, root = _junit(tmp_path, run)
    assert root.tag == "testsuites"
    assert list(root.iter("testsuite")) == []


# --- console ------------------------------------------------------------------


def test_console_groups_sections_in_natural_order() -> None:
    text = render_console(make_run())
    lines = text.splitlines()
    headers = [line for line in lines if line.startswith("RFC")]
    assert headers == [
        "RFC1939 §3",
        "RFC1939 §4",
        "RFC1939 §5",
        "RFC1939 §11",
        "RFC2449 §5",
        "RFC2449 §6.1",
    ]
    # Scenarios stay in run order inside their section, one line each.
    s5 = lines.index("RFC1939 §5")
    assert lines[s5 + 1].split() == ["pass", "core.stat", "title", "of", "core.stat"]
    assert lines[s5 + 2].split()[:2] == ["non-strict", "core.stat-extra"]
    assert "unsupported       ext.top  title of ext.top (no TOP in CAPA)" in text


def test_console_details_only_for_failing_outcomes() -> None:
    text = render_console(make_run())
    details = text[text.index("\nDetails\n") :]
    for sid in ("core.status-upper", "core.stat-extra", "core.idle", "core.replay"):
        assert f" {sid}: " in details
    for sid in ("core.stat", "ext.capa", "ext.top", "core.lock", "core.port"):
        assert f" {sid}: " not in details
    assert f'    "{UPPER_QUOTE}"' in details
    assert "    Expected: +OK" in details
    assert "    Actual:   +ok POP3 ready \\x00\\x1b[31m gr\u00fc\u00df\\r\\n" in details
    assert "    Where:    suites/core.status-upper.pop3:12" in details
    assert "  Transcript:" in details
    # Nothing from the server reaches the terminal raw.
    assert "\x1b" not in text and "\x00" not in text and "\r" not in text


def test_console_verbose_shows_every_scenario() -> None:
    text = render_console(make_run(), verbose=True)
    details = text[text.index("\nDetails\n") :]
    for sid in ("core.stat", "ext.capa", "ext.top", "core.lock"):
        assert f" {sid}: " in details


def test_console_summary_line_and_passive() -> None:
    text = render_console(make_run())
    lines = text.splitlines()
    assert lines[-1] == (
        "2 passed, 1 failed, 1 non-strict, 1 info, 1 unsupported, 1 waived, 1 error, "
        "1 nondeterministic, 2 passive findings; verdict: FAIL"
    )
    passive = lines.index("Passive findings")
    assert "RFC1939-3-6 bare-lf: status line ends in LF: +OK\\n" in lines[passive + 1]
    assert "3 times" in lines[passive + 1]


def test_summary_words_and_verdicts() -> None:
    ok = RunResult(
        "0.1.0",
        "t",
        0.0,
        {},
        [
            _scenario("a", "RFC1939 §5", Outcome.PASS),
            _scenario("b", "RFC1939 §5", Outcome.PASS),
            _scenario("c", "RFC1939 §5", Outcome.NON_STRICT),
            _scenario("d", "RFC1939 §5", Outcome.ERROR),
            _scenario("e", "RFC1939 §5", Outcome.ERROR),
        ],
    )
    assert summary_line(ok) == "2 passed, 1 non-strict, 2 errors; verdict: FAIL"
    ok.scenarios = ok.scenarios[:3]
    assert summary_line(ok) == "2 passed, 1 non-strict; verdict: PASS"
    ok.strict = True
    assert summary_line(ok) == "2 passed, 1 non-strict; verdict: FAIL (strict)"
    ok.scenarios = []
    assert summary_line(ok) == "no scenarios; verdict: EMPTY (no scenarios ran)"


def test_console_is_deterministic_and_colour_is_optional() -> None:
    run = make_run()
    plain = render_console(run)
    assert plain == render_console(read_back(run))
    assert "2024-05-01" not in plain and "1.234" not in plain  # no clock time, no duration
    coloured = render_console(run, color=True)
    assert "\x1b[31mfail" in coloured and "\x1b[0m" in coloured
    # Colour codes are the only escapes; stripping them gives the plain text.
    assert re.sub(r"\x1b\[[0-9;]*m", "", coloured) == plain


def read_back(run: RunResult) -> RunResult:
    """What a later ``report`` command sees: the run after a JSON round trip."""
    return RunResult.from_dict(json.loads(json.dumps(run.to_dict())))


def test_section_key_orders_naturally() -> None:
    labels = ["RFC2449 §6.10", "RFC1939 §11", "RFC1957", "odd", "RFC2449 §6.4", "RFC1939 §5"]
    assert sorted(labels, key=section_key) == [
        "RFC1939 §5",
        "RFC1939 §11",
        "RFC1957",
        "RFC2449 §6.4",
        "RFC2449 §6.10",
        "odd",
    ]


def test_reports_tolerate_unwritable_target(tmp_path: Path) -> None:
    # A failed write leaves no half file and no temporary file behind.
    target = tmp_path / "dir-not-file"
    target.mkdir()
    with pytest.raises(OSError):
        write_results(make_run(), target)
    assert os.listdir(tmp_path) == ["dir-not-file"]
    assert os.listdir(target) == []
