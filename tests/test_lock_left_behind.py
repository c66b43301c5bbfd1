"""A lock that a dropped session may have left behind never passes a check.

A server may release a dropped session's lock a little later (style.md).  An
-ERR [IN-USE] in that window says nothing about the line it answers, so the
runner grades it info ("not judged") rather than the pass that a scenario
expecting -ERR would otherwise give, and a session that 'open' replaces is
let go of before the new one begins.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conformance.cli import main

HEADER = """id: t.lock
title: a login attempt after another session of the account
requirements: RFC1939-7.PASS-2
tags: core
timeout: 10
---
"""
# B's PASS is expected to be refused: a correct server lets B in (a fail),
# one that still holds A's lock refuses it for the lock, not for the line.
ATTEMPT = """open B
C: USER {user}
S: +OK
C: PASS {password}
S: -ERR
"""


def _run(tmp_path: Path, steps: str, *behave: str, defect: str = "") -> dict[str, Any]:
    suites = tmp_path / "suites"
    suites.mkdir()
    (suites / "t.pop3").write_text(HEADER + steps)
    report = tmp_path / "report"
    flags = [a for b in behave for a in ("--behave", b)] + (["--defect", defect] if defect else [])
    main(["run", *flags, "--suites", str(suites), "--report-dir", str(report)])
    results = json.loads((report / "results.json").read_text())
    scenario: dict[str, Any] = results["scenarios"][0]
    return scenario


def _pass_check(scenario: dict[str, Any]) -> dict[str, Any]:
    [check] = [c for c in scenario["checks"] if c["command"].startswith("PASS")]
    return check


def test_a_refusal_for_a_lock_left_behind_is_not_judged(tmp_path: Path) -> None:
    scenario = _run(tmp_path, "login A\nclose A\n" + ATTEMPT, "lock-released-later")
    check = _pass_check(scenario)
    assert check["actual"].startswith("-ERR [IN-USE]")
    assert check["outcome"] == "info"
    assert "not judged" in check["note"]
    assert scenario["outcome"] == "info"


def test_without_the_lock_the_same_check_still_fails(tmp_path: Path) -> None:
    scenario = _run(tmp_path, "login A\nclose A\n" + ATTEMPT)
    assert _pass_check(scenario)["outcome"] == "fail"


def test_a_login_refused_for_a_lock_left_behind_is_no_fail(tmp_path: Path) -> None:
    steps = ATTEMPT.replace("S: -ERR", "S: +OK")
    scenario = _run(tmp_path, "login A\nclose A\n" + steps, "lock-released-later")
    assert _pass_check(scenario)["actual"].startswith("-ERR [IN-USE]")
    assert _pass_check(scenario)["outcome"] == "info"


def test_a_check_of_the_response_codes_still_judges_the_refusal(tmp_path: Path) -> None:
    # Whether a lock's refusal carries [IN-USE] (RFC 2449 section 8.1.2) is
    # the same question whoever holds the lock: no pardon for the codes.
    steps = ATTEMPT.replace("C: PASS", "check RFC2449-8.1.2-1\nC: PASS").replace(
        "S: -ERR", 'S: /^-ERR \\[IN-USE/\nS: -ERR => non-strict "no [IN-USE]"'
    )
    scenario = _run(
        tmp_path, "login A\nclose A\n" + steps, "lock-released-later", defect="in-use-without-code"
    )
    check = _pass_check(scenario)
    assert check["actual"].startswith("-ERR") and "IN-USE" not in check["actual"]
    assert check["outcome"] == "non-strict"


def test_a_lock_a_live_session_holds_is_what_the_check_is_about(tmp_path: Path) -> None:
    # A's lock may linger, but C logs in after it and holds the maildrop: the
    # refusal is the one the scenario tests.
    steps = "login A\nclose A\neventually 15 s: login C\n" + ATTEMPT
    scenario = _run(tmp_path, steps, "lock-released-later")
    assert _pass_check(scenario)["actual"].startswith("-ERR [IN-USE]")
    assert _pass_check(scenario)["outcome"] == "pass"


def test_open_lets_the_session_it_replaces_go_first(tmp_path: Path) -> None:
    steps = "login A\nopen A\nC: USER {user}\nS: +OK\nC: PASS {password}\nS: +OK\n"
    scenario = _run(tmp_path, steps)
    assert scenario["outcome"] == "pass"
    events = [(e["session"], e["text"]) for e in scenario["transcript"] if e["direction"] == "*"]
    half = events.index(("A", "half-close (shutdown of the write side)"))
    closed = events.index(("A", "connection closed by the server"), half)
    second_connect = next(
        i for i, (s, t) in enumerate(events) if i > half and t.startswith("connect ")
    )
    assert half < closed < second_connect
