"""junit.xml is valid JUnit XML for CI servers, and keeps control characters visible.

The schema, ``tests/data/junit.xsd``, describes the JUnit dialect Jenkins
validates against (see the comment at its top for where it differs and
why).  It is checked with ``xmllint`` from Debian's libxml2-utils
(``apt-get install libxml2-utils``); the schema tests are skipped with that
reason when it is missing.  The control-character test needs nothing extra.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from conformance.cli import main
from conformance.outcomes import Outcome
from conformance.report import junit_report
from conformance.report import text as report_text
from conformance.report.escape import visible, xml_safe
from conformance.report.junit_report import to_junit_xml
from conformance.results import RunResult, ScenarioResult, TranscriptEntry
from tests.scripted import ScriptedServer, read_line
from tests.test_reports import make_run

SCHEMA = Path(__file__).parent / "data" / "junit.xsd"
XMLLINT = shutil.which("xmllint")
needs_xmllint = pytest.mark.skipif(
    XMLLINT is None, reason="needs xmllint: apt-get install -y libxml2-utils"
)


def schema_errors(document: Path) -> list[str]:
    """xmllint's complaints about ``document`` against the JUnit schema (empty: valid)."""
    assert XMLLINT is not None
    done = subprocess.run(
        [XMLLINT, "--noout", "--nonet", "--schema", str(SCHEMA), str(document)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if done.returncode == 0:
        return []
    errors = [line for line in done.stderr.splitlines() if "validity error" in line]
    return errors or [done.stderr.strip() or f"xmllint exit {done.returncode}"]


# -- the schema ----------------------------------------------------------------


@needs_xmllint
def test_every_outcome_gives_schema_valid_junit(tmp_path: Path) -> None:
    for strict in (False, True):
        path = tmp_path / f"junit-{strict}.xml"
        path.write_text(to_junit_xml(make_run(strict=strict)), encoding="utf-8")
        assert schema_errors(path) == []


@needs_xmllint
def test_empty_run_gives_schema_valid_junit(tmp_path: Path) -> None:
    run = RunResult("0.1.0", "2024-05-01T10:00:00Z", 0.0, {"host": "h", "port": 1}, [])
    path = tmp_path / "junit.xml"
    path.write_text(to_junit_xml(run), encoding="utf-8")
    assert schema_errors(path) == []


@needs_xmllint
def test_the_schema_rejects_what_ci_servers_trip_on(tmp_path: Path) -> None:
    """The check can fail: what junit-xml writes by itself is not valid."""
    bad = {
        "unknown attribute": '<testsuites><testsuite name="s" tests="1" failures="0" '
        'errors="0" disabled="0"><testcase name="c"/></testsuite></testsuites>',
        "exponent time": '<testsuites><testsuite name="s" tests="1" failures="0" '
        'errors="0" time="5e-05"><testcase name="c"/></testsuite></testsuites>',
        "missing count": '<testsuites><testsuite name="s" tests="1" failures="0">'
        '<testcase name="c"/></testsuite></testsuites>',
        "testcase status": '<testsuites><testsuite name="s" tests="1" failures="0" '
        'errors="0"><testcase name="c" status="pass"/></testsuite></testsuites>',
        "nameless testcase": '<testsuites><testsuite name="s" tests="1" failures="0" '
        'errors="0"><testcase/></testsuite></testsuites>',
    }
    for what, document in bad.items():
        path = tmp_path / "bad.xml"
        path.write_text(document, encoding="utf-8")
        assert schema_errors(path), f"{what} was accepted"


@needs_xmllint
def test_a_real_run_gives_schema_valid_junit_with_consistent_counts(tmp_path: Path) -> None:
    code = main(["run", "--defect", "rset-ignored", "--report-dir", str(tmp_path)])
    assert code == 1
    path = tmp_path / "junit.xml"
    assert schema_errors(path) == []
    root = ET.parse(path).getroot()
    suites = root.findall("testsuite")
    # Readers show these totals without counting: they must add up.
    for suite in suites:
        cases = suite.findall("testcase")
        assert int(suite.attrib["tests"]) == len(cases)
        assert int(suite.attrib["failures"]) == sum(
            1 for c in cases if c.find("failure") is not None
        )
        assert int(suite.attrib["errors"]) == sum(1 for c in cases if c.find("error") is not None)
        assert int(suite.attrib["skipped"]) == sum(
            1 for c in cases if c.find("skipped") is not None
        )
    for key in ("tests", "failures", "errors"):
        assert int(root.attrib[key]) == sum(int(s.attrib[key]) for s in suites)
    assert int(root.attrib["failures"]) >= 1


# -- control characters --------------------------------------------------------

# What the scripted server answers to an unknown command: +OK (wrong) with a
# NUL, an ESC sequence, BEL, VT, a bare CR, DEL and a C1 control (NEL) in the
# text.  The transport reads the wire as latin-1, one character per byte.
ODD = b"+OK odd\x00nul \x1b[31mesc\x07bel\x0bvt\rcr\x7fdel\x85nel end\r\n"
ODD_GREETING = b"+OK ready\x1b]0;pwned\x07\r\n"

SCENARIO = """\
id: odd.unknown-command
title: An unknown command is refused
requirements: RFC1939-3-12
mailbox: none
---
open A
C: XYZZ
S: -ERR
"""


def _odd_server(conn: socket.socket) -> None:
    conn.sendall(ODD_GREETING)
    while True:
        line = read_line(conn)
        if not line:
            return
        command = line.strip().upper()
        if command == b"CAPA":
            conn.sendall(b"-ERR no CAPA here\r\n")
        elif command == b"QUIT":
            conn.sendall(b"+OK bye\r\n")
            return
        else:
            conn.sendall(ODD)


def test_control_characters_from_the_wire_survive_in_junit_made_visible(
    tmp_path: Path,
) -> None:
    suites = tmp_path / "suites"
    suites.mkdir()
    (suites / "odd.pop3").write_text(SCENARIO, encoding="utf-8")
    reports = tmp_path / "reports"
    with ScriptedServer(_odd_server) as server:
        target = ["--host", "127.0.0.1", "--port", str(server.port), "--timeout", "5"]
        account = ["--account", "odd:s3cret-pw"]
        code = main(
            ["run", "--suites", str(suites), "--report-dir", str(reports), *target, *account]
        )
    assert code == 1
    text = (reports / "junit.xml").read_text(encoding="utf-8")
    root = ET.fromstring(text)  # still well-formed XML
    # The scenario's case (the NUL is also a passive finding, a case of its own).
    (case,) = [c for c in root.iter("testcase") if c.get("name") == "odd.unknown-command"]
    failure = case.find("failure")
    assert failure is not None and failure.text is not None
    odd_line = visible(ODD.decode("latin-1"))
    assert odd_line == "+OK odd\\x00nul \\x1b[31mesc\\x07bel\\x0bvt\\rcr\\x7fdel\\x85nel end\\r\\n"
    # In the transcript, every control is spelled out where it was.
    assert odd_line in failure.text
    assert visible(ODD_GREETING.decode("latin-1")) in failure.text
    # Nothing raw reached the file (not even CR, which a parser turns into LF).
    raw = {"\x00", "\x1b", "\x07", "\x0b", "\r", "\x7f", "\x85"}
    assert not raw & set(text), sorted(raw & set(text))
    # results.json, the source of truth, keeps the exact text.
    results = json.loads((reports / "results.json").read_text(encoding="utf-8"))
    said = [e["text"] for e in results["scenarios"][0]["transcript"] if e["direction"] == "S"]
    assert ODD.decode("latin-1") in said
    if XMLLINT is not None:
        assert schema_errors(reports / "junit.xml") == []


def test_text_that_skipped_visible_is_spelled_out_not_dropped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The last line of defence: with visible() bypassed, a raw control still shows."""

    def unchanged(text: str, **_: bool) -> str:
        return text

    monkeypatch.setattr(junit_report, "visible", unchanged)
    monkeypatch.setattr(report_text, "visible", unchanged)
    scenario = ScenarioResult(
        "raw.id",
        "title",
        "f.pop3",
        "RFC1939 §3",
        ["RFC1939-3-12"],
        [],
        Outcome.FAIL,
        transcript=[TranscriptEntry(0.0, "A", "S", "+OK \x00\x1b\r\n")],
    )
    run = RunResult("0.1.0", "2024-05-01T10:00:00Z", 0.0, {"host": "h", "port": 1}, [scenario])
    failure = ET.fromstring(to_junit_xml(run)).find("testsuite/testcase/failure")
    assert failure is not None and failure.text is not None
    # CR before LF stays a line break here (it is prose), but NUL and ESC show.
    assert "+OK \\x00\\x1b" in failure.text


def test_xml_safe_keeps_tab_and_newline_and_spells_out_the_rest() -> None:
    assert xml_safe("a\tb\nc\rd\x00e\x1bf\x85g\ud800h\uffff") == (
        "a\tb\nc\\rd\\x00e\\x1bf\\x85g\\ud800h\\uffff"
    )
