"""The CLI end to end against servers that answer wrongly, silently or not at all.

A deliberately wrong answer must come out as ``fail`` citing the broken
requirement; silence must come out as a timeout, not a wrong answer; an
unreachable target and an empty selection have their own exit codes.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from conformance.cli import EXIT_FAIL, EXIT_NOTHING, EXIT_OK, EXIT_UNREACHABLE, EXIT_USAGE, main
from tests.scripted import ScriptedServer, read_line, run_scenario

WRONG_STATE = """\
id: t.stat-before-login
title: STAT before login is refused
requirements: RFC1939-3-13
mailbox: none
---
open A
C: STAT
S: -ERR
C: QUIT
S: +OK
"""


def fake_pop3(stat_before_login: bytes) -> ScriptedServer:
    """A tiny POP3 peer whose answer to STAT in AUTHORIZATION is scripted."""

    def handler(conn: socket.socket) -> None:
        conn.sendall(b"+OK fake\r\n")
        while True:
            line = read_line(conn).strip().upper()
            if not line:
                return
            if line == b"CAPA":
                conn.sendall(b"+OK\r\nUSER\r\n.\r\n")
            elif line == b"STAT":
                conn.sendall(stat_before_login)
            elif line == b"QUIT":
                conn.sendall(b"+OK bye\r\n")
                return
            else:
                conn.sendall(b"-ERR what\r\n")

    return ScriptedServer(handler)


def run_cli(tmp_path: Path, port: int, scenario: str, *extra: str) -> tuple[int, dict[str, object]]:
    # These peers answer only what each test is about: no login to check.
    return run_scenario(tmp_path, port, scenario, "--no-preflight", *extra)


def test_wrong_answer_is_a_fail_citing_the_requirement(tmp_path: Path) -> None:
    with fake_pop3(b"+OK 0 0\r\n") as srv:
        code, results = run_cli(tmp_path, srv.port, WRONG_STATE)
    assert code == EXIT_FAIL
    (scenario,) = results["scenarios"]  # type: ignore[misc]
    assert scenario["outcome"] == "fail"
    failing = [c for c in scenario["checks"] if c["outcome"] == "fail"]
    assert failing[0]["requirement"] == "RFC1939-3-13"
    assert "incorrect state" in failing[0]["quote"]
    assert (tmp_path / "report" / "junit.xml").exists()


def test_right_answer_passes(tmp_path: Path) -> None:
    with fake_pop3(b"-ERR not yet\r\n") as srv:
        code, results = run_cli(tmp_path, srv.port, WRONG_STATE)
    assert code == EXIT_OK
    assert results["outcome"] == "pass"


def test_silence_is_a_timeout(tmp_path: Path) -> None:
    with fake_pop3(b"") as srv:  # never answers STAT
        code, results = run_cli(tmp_path, srv.port, WRONG_STATE)
    assert code == EXIT_FAIL
    check = results["scenarios"][0]["checks"][0]  # type: ignore[index]
    assert "deadline" in check["actual"]


def test_secret_never_in_reports(tmp_path: Path) -> None:
    with fake_pop3(b"-ERR\r\n") as srv:
        run_cli(tmp_path, srv.port, WRONG_STATE.replace("C: STAT", "C: PASS {password}"))
    for path in (tmp_path / "report").iterdir():
        assert "secret-pw" not in path.read_text()


def test_unreachable(tmp_path: Path) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    code, _ = run_cli(tmp_path, port, WRONG_STATE)
    assert code == EXIT_UNREACHABLE


def test_nothing_selected(tmp_path: Path) -> None:
    code, _ = run_cli(tmp_path, 1, WRONG_STATE, "--select", "no.such.*")
    assert code == EXIT_NOTHING


def test_bad_scenario_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = run_cli(tmp_path, 1, "id: x\n---\nfrobnicate\n")
    assert code == EXIT_USAGE
    assert "t.pop3:" in capsys.readouterr().err


SNAPSHOT = """\
id: t.snapshot
title: a snapshot of the maildrop
requirements: RFC1939-5.LIST-2
mailbox: none
---
login A
snapshot A as before
"""


def listing_server(listing: bytes) -> ScriptedServer:
    """A logged-in POP3 peer whose LIST answer is scripted."""

    def handler(conn: socket.socket) -> None:
        conn.sendall(b"+OK fake\r\n")
        while True:
            line = read_line(conn).strip().upper()
            if not line:
                return
            if line == b"STAT":
                conn.sendall(b"+OK 1 10\r\n")
            elif line == b"LIST":
                conn.sendall(b"+OK\r\n" + listing + b".\r\n")
            elif line == b"QUIT":
                conn.sendall(b"+OK bye\r\n")
                return
            else:
                conn.sendall(b"+OK\r\n" if not line.startswith(b"CAPA") else b"-ERR\r\n")

    return ScriptedServer(handler)


@pytest.mark.parametrize("listing", [b"\r\n", b"one 10\r\n", b"\xb2 10\r\n"])
def test_malformed_scan_listing_is_a_verdict_not_a_harness_error(
    tmp_path: Path, listing: bytes
) -> None:
    with listing_server(listing) as srv:
        code, results = run_cli(tmp_path, srv.port, SNAPSHOT)
    assert code == EXIT_FAIL
    scenario = results["scenarios"][0]  # type: ignore[index]
    assert scenario["outcome"] == "fail"
    assert scenario["checks"][-1]["requirement"] == "RFC1939-5.LIST-4"


def _greeting_server(greetings: list[bytes]) -> ScriptedServer:
    """A peer that greets each connection with the next of ``greetings``."""
    pending = list(greetings)

    def handler(conn: socket.socket) -> None:
        conn.sendall(pending.pop(0) if len(pending) > 1 else pending[0])
        while True:
            line = read_line(conn).strip().upper()
            if not line:
                return
            if line == b"QUIT":
                conn.sendall(b"+OK bye\r\n")
                return
            conn.sendall(b"-ERR what\r\n")

    return ScriptedServer(handler)


TIMESTAMPS = """id: t.stamps
title: t
requirements: RFC1939-7.APOP-2
mailbox: none
---
open A
open B
timestamps differ A B
"""


def test_a_reused_apop_timestamp_fails(tmp_path: Path) -> None:
    same = b"+OK <1.2@host> ready\r\n"
    with _greeting_server([same, same, same]) as server:
        code, doc = run_cli(tmp_path, server.port, TIMESTAMPS)
    assert code == EXIT_FAIL
    check = doc["scenarios"][0]["checks"][-1]  # type: ignore[index]
    assert check["requirement"] == "RFC1939-7.APOP-2" and check["outcome"] == "fail"


def test_fresh_apop_timestamps_pass(tmp_path: Path) -> None:
    greetings = [b"+OK <0.1@h>\r\n", b"+OK <1.2@h>\r\n", b"+OK <2.3@h>\r\n"]
    with _greeting_server(greetings) as server:
        code, doc = run_cli(tmp_path, server.port, TIMESTAMPS)
    assert code == EXIT_OK, doc


def test_slow_scenarios_run_only_when_asked(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--list"]) == EXIT_OK
    default = capsys.readouterr().out
    assert main(["run", "--list", "--slow"]) == EXIT_OK
    with_slow = capsys.readouterr().out
    assert "ext.slow." not in default
    assert "ext.slow.autologout-not-before-ten-minutes" in with_slow
    assert main(["run", "--list", "--select", "slow"]) == EXIT_OK
    assert "ext.slow.autologout-does-not-update" in capsys.readouterr().out
