"""How each session ended is recorded and graded apart from the checks."""

from __future__ import annotations

import json
from pathlib import Path

from conformance.pop3 import Answer, Command, State, parse_status_line
from conformance.runner.closes import CloseLog


def answer(keyword: str, status: bytes, before: State) -> Answer:
    response = parse_status_line(status + b"\r\n")
    return Answer(Command(keyword, keyword), response, before, before)


def test_a_clean_quit_passes_and_a_quit_left_open_fails() -> None:
    log = CloseLog()
    log.ended("A", "quit")
    assert log.judge()["outcome"] == "pass"
    log.ended("B", "quit-left-open")
    judged = log.judge()
    assert judged["outcome"] == "fail"
    assert [s["how"] for s in judged["sessions"]] == ["quit", "quit-left-open"]


def test_a_close_after_err_in_authorization_is_permitted_and_says_so() -> None:
    log = CloseLog()
    log.saw("A", answer("PASS", b"-ERR no", State.AUTHORIZATION_USER))
    log.server_closed("A")
    [ending] = log.judge()["sessions"]
    assert ending["how"] == "closed-after-err" and ending["outcome"] == "info"
    assert "PASS" in ending["detail"]


def test_a_close_in_transaction_is_recorded_as_the_servers() -> None:
    log = CloseLog()
    log.saw("A", answer("NOOP", b"+OK", State.TRANSACTION))
    log.server_closed("A")
    assert log.judge()["sessions"][0]["how"] == "closed-by-server"


def test_the_first_ending_is_kept_and_a_reopened_name_keeps_both() -> None:
    log = CloseLog()
    log.ended("A", "dropped", "reset")
    log.ended("A", "teardown")
    assert [s["how"] for s in log.judge()["sessions"]] == ["dropped"]
    log.reset("A")
    log.ended("A", "quit")
    assert [(s["session"], s["how"]) for s in log.judge()["sessions"]] == [
        ("A#2", "dropped"),
        ("A", "quit"),
    ]


def test_every_scenario_of_the_main_job_says_how_its_sessions_ended(tmp_path: Path) -> None:
    from conformance.cli import main

    report = tmp_path / "r"
    assert (
        main(
            [
                "run",
                "--select",
                "core.drop.*",
                "--select",
                "core.deletion.*",
                "--report-dir",
                str(report),
            ]
        )
        == 0
    )
    results = json.loads((report / "results.json").read_text())
    hows = {s["how"] for sc in results["scenarios"] for s in sc["close"]["sessions"]}
    assert "dropped" in hows and "quit" in hows
    assert all(sc["close"]["outcome"] in ("pass", "info") for sc in results["scenarios"])
