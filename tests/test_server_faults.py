"""Who broke the protocol decides the grade: the server's faults are fail (or info
where permitted), the harness's and the environment's are error; a session that
timed out or was half read is dead; a dead target ends the run with exit 3."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from conformance.cli import EXIT_FAIL, EXIT_OK, EXIT_UNREACHABLE, EXIT_USAGE, main
from tests.scripted import ScriptedServer, read_line, run_scenario

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "s3cret-Pw"

Handler = Callable[[socket.socket], None]


def pop3(answers: Callable[[bytes], bytes | None], greeting: bytes = b"+OK hi\r\n") -> Handler:
    """A tiny server: ``answers(line)`` gives the bytes to send (None: close)."""

    def handler(conn: socket.socket) -> None:
        conn.sendall(greeting)
        while True:
            line = read_line(conn).rstrip(b"\r\n")
            if not line and not conn:
                return
            reply = answers(line)
            if reply is None:
                return
            conn.sendall(reply)
            if line.upper() == b"QUIT":
                return

    return handler


def ordinary(line: bytes) -> bytes | None:
    word = line.split(b" ")[0].upper()
    if word == b"CAPA":
        return b"+OK\r\nUSER\r\n.\r\n"
    if word in (b"USER", b"PASS", b"QUIT", b"NOOP", b"RSET"):
        return b"+OK\r\n"
    if word == b"":
        return None
    return b"-ERR no\r\n"


def run(
    tmp_path: Path, port: int, scenario: str, *extra: str, account: bool = True
) -> tuple[int, dict[str, object]]:
    return run_scenario(
        tmp_path, port, scenario, *extra, account=f"alice:{PASSWORD}" if account else None
    )


def only(results: dict[str, object]) -> dict[str, object]:
    scenarios = results["scenarios"]
    assert isinstance(scenarios, list) and len(scenarios) == 1
    scenario = scenarios[0]
    assert isinstance(scenario, dict)
    return scenario


LATE = """\
id: t.late
title: a late answer is never read as the next one
requirements: RFC1939-5.NOOP-1
mailbox: none
---
login A
C: NOOP
S: +OK
C: RSET
S: +OK
"""


def test_a_timed_out_session_is_dead_and_the_rest_is_unjudged(tmp_path: Path) -> None:
    def late(line: bytes) -> bytes | None:
        if line.upper() == b"NOOP":
            time.sleep(1.5)  # after the 1 s deadline: its +OK would answer RSET
        return ordinary(line)

    with ScriptedServer(pop3(late)) as srv:
        code, results = run(tmp_path, srv.port, LATE)
    scenario = only(results)
    assert code == EXIT_FAIL
    assert scenario["outcome"] == "fail"  # NOOP got no answer in time: the server's
    assert "no complete answer to NOOP" in str(scenario["unjudged"])
    checks = scenario["checks"]
    assert isinstance(checks, list) and len(checks) == 1  # RSET was never judged
    assert not any(c["outcome"] == "error" for c in checks)
    sent = [e["text"] for e in scenario["transcript"] if e["direction"] == "C"]
    assert "RSET" not in sent


CLOSE_AFTER_ERR = """\
id: t.close-after-err
title: a close after -ERR in AUTHORIZATION is permitted
requirements: RFC1939-7.USER-1
mailbox: none
---
open A
C: USER nobody
S: -ERR
S: +OK
C: USER alice
S: +OK
"""


def test_a_close_after_err_in_authorization_is_never_a_fail(tmp_path: Path) -> None:
    def closes(line: bytes) -> bytes | None:
        if line == b"USER nobody":
            return b"-ERR no such user\r\n"
        if line.startswith(b"USER"):
            return None  # closed: RFC 1939 section 4 permits it after the -ERR
        return ordinary(line)

    def handler(conn: socket.socket) -> None:
        conn.sendall(b"+OK hi\r\n")
        while True:
            line = read_line(conn).rstrip(b"\r\n")
            reply = closes(line)
            if line.upper().startswith(b"USER") and line != b"USER nobody":
                return
            if reply is None:
                return
            conn.sendall(reply)
            if line == b"USER nobody":
                return  # close right after the -ERR

    with ScriptedServer(handler) as srv:
        code, results = run(tmp_path, srv.port, CLOSE_AFTER_ERR)
    scenario = only(results)
    assert code == EXIT_OK, scenario
    checks = scenario["checks"]
    assert isinstance(checks, list)
    assert [c["outcome"] for c in checks] == ["pass", "info"]
    assert checks[1]["requirement"] == "RFC1939-4-6"


LOGIN = """\
id: t.login
title: log in and NOOP
requirements: RFC1939-5.NOOP-1
mailbox: none
---
login A
C: NOOP
S: +OK
"""


@pytest.mark.parametrize(
    ("name", "pass_answer", "requirement"),
    [
        ("no plus sign", b"OK welcome\r\n", "RFC1939-7.PASS-2"),
        ("a word longer than +OK", b"+OKAY welcome\r\n", None),
        ("a close", None, "RFC1939-7.PASS-2"),
    ],
)
def test_a_garbled_login_answer_is_the_servers_fail_not_an_error(
    tmp_path: Path, name: str, pass_answer: bytes | None, requirement: str | None
) -> None:
    def answers(line: bytes) -> bytes | None:
        if line.upper().startswith(b"PASS"):
            return pass_answer
        return ordinary(line)

    with ScriptedServer(pop3(answers)) as srv:
        code, results = run(tmp_path, srv.port, LOGIN)
    scenario = only(results)
    assert code == EXIT_FAIL, name
    outcomes = [c["outcome"] for c in scenario["checks"]]
    assert "error" not in outcomes
    if requirement is not None:
        assert scenario["outcome"] == "fail"
        assert scenario["checks"][0]["requirement"] == requirement
    else:
        # "+OKAY" is read as +OK with a grammar finding: the run fails on that.
        passive = results["passive"]
        assert isinstance(passive, list)
        assert [(p["code"], p["outcome"]) for p in passive] == [("bad-status", "fail")]


def test_a_clean_refusal_is_confirmed_before_it_is_called_the_credentials(
    tmp_path: Path,
) -> None:
    tries = []

    def refuses(line: bytes) -> bytes | None:
        if line.upper().startswith(b"PASS"):
            tries.append(line)
            return b"-ERR [AUTH] wrong\r\n"
        return ordinary(line)

    with ScriptedServer(pop3(refuses)) as srv:
        code, results = run(tmp_path, srv.port, LOGIN, "--no-preflight")
    scenario = only(results)
    assert code == EXIT_FAIL
    assert scenario["outcome"] == "error"
    assert "check the credentials" in str(scenario["reason"])
    assert len(tries) >= 3  # retried over the grace period, not judged on one answer


def test_unsolicited_lines_are_the_servers_fail(tmp_path: Path) -> None:
    flood = b"+OK hi\r\n" + b"* unsolicited\r\n" * 50
    with ScriptedServer(pop3(ordinary, greeting=flood)) as srv:
        code, results = run(tmp_path, srv.port, LOGIN)
    scenario = only(results)
    assert code == EXIT_FAIL
    assert scenario["outcome"] == "fail"
    assert scenario["checks"][0]["requirement"] == "RFC1939-3-2"
    assert scenario["unjudged"]


def test_a_silent_server_is_unreachable_in_seconds(tmp_path: Path) -> None:
    def silent(conn: socket.socket) -> None:
        time.sleep(5)

    with ScriptedServer(silent) as srv:
        started = time.monotonic()
        code, _ = run(tmp_path, srv.port, LOGIN)
    assert code == EXIT_UNREACHABLE
    assert time.monotonic() - started < 4


def test_a_listener_that_never_accepts_is_unreachable(tmp_path: Path) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)  # the kernel completes handshakes; nobody calls accept()
    try:
        code, _ = run(tmp_path, listener.getsockname()[1], LOGIN)
    finally:
        listener.close()
    assert code == EXIT_UNREACHABLE


def test_an_http_server_is_not_a_pop3_server(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def http(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    with ScriptedServer(http) as srv:
        code, _ = run(tmp_path, srv.port, LOGIN)
    assert code == EXIT_UNREACHABLE
    err = capsys.readouterr().err
    assert f"127.0.0.1:{srv.port} is not a POP3 server" in err and "HTTP/1.1" in err


def test_a_target_that_stops_greeting_ends_the_run_with_what_was_judged(
    tmp_path: Path,
) -> None:
    connections = []

    def dies(conn: socket.socket) -> None:
        connections.append(1)
        if len(connections) <= 3:  # the probe and the first scenario's two logins
            pop3(ordinary)(conn)
        else:
            time.sleep(3)  # then silence: no greeting

    with ScriptedServer(dies) as srv:
        for i in range(6):
            (tmp_path / "suites").mkdir(exist_ok=True)
            (tmp_path / "suites" / f"s{i}.pop3").write_text(LOGIN.replace("t.login", f"t.login{i}"))
        code, results = run(tmp_path, srv.port, LOGIN.replace("t.login", "t.login-last"))
    assert code == EXIT_UNREACHABLE
    judged = results["scenarios"]
    assert isinstance(judged, list) and 1 <= len(judged) < 6


ECHO = """\
id: t.echo
title: a server that echoes what it was sent
requirements: RFC1939-5.NOOP-1
mailbox: none
---
login A
C: NOOP
S: +OK
C: FOO
S: +OK
"""


def test_a_password_echoed_by_the_server_reaches_no_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def echoes(line: bytes) -> bytes | None:
        if line.upper().startswith((b"USER", b"PASS", b"QUIT")):
            return b"+OK you said '" + line + b"'\r\n"
        if line.upper() == b"CAPA":
            return b"-ERR\r\n"
        return b"-ERR you said '" + line + b"' after PASS " + PASSWORD.encode() + b"\r\n"

    with ScriptedServer(pop3(echoes)) as srv:
        run(tmp_path, srv.port, ECHO, "--verbose")
    out = capsys.readouterr()
    forms = [PASSWORD, base64.b64encode(PASSWORD.encode()).decode()]
    texts = [out.out, out.err] + [p.read_text() for p in (tmp_path / "report").iterdir()]
    for text in texts:
        for form in forms:
            assert form not in text


@pytest.mark.parametrize(
    "flags",
    [
        ["--host", ""],
        ["--host", "127.0.0.1", "--port", "0", "--account", "a:b"],
        ["--host", "127.0.0.1", "--port", "99999", "--account", "a:b"],
        ["--host", "127.0.0.1", "--port", "-1", "--account", "a:b"],
        ["--timeout", "-1"],
        ["--timeout", "nan"],
        ["--timeout", "inf"],
        ["--jobs", "0"],
        ["--port", "110"],  # a port with no host: not the embedded server silently
    ],
)
def test_nonsense_values_are_usage_errors_before_anything_runs(
    tmp_path: Path, flags: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["run", "--report-dir", str(tmp_path / "r"), *flags])
    assert code == EXIT_USAGE
    assert "Traceback" not in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_explore_refuses_a_budget_that_never_ends(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explore", "--budget", "nan"]) == EXIT_USAGE


def test_an_unwritable_report_folder_is_refused_before_the_run(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    started = time.monotonic()
    code = main(["run", "--select", "core.basic.*", "--report-dir", str(blocker / "r")])
    assert code == EXIT_USAGE
    assert time.monotonic() - started < 5


def test_sigterm_writes_what_was_judged(tmp_path: Path) -> None:
    report = tmp_path / "r"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-m", "conformance.cli", "run", "--report-dir", str(report)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while not (report / "results.json").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    child.send_signal(signal.SIGTERM)
    _, err = child.communicate(timeout=60)
    assert child.returncode == 130, err
    results = json.loads((report / "results.json").read_text())
    assert 0 < len(results["scenarios"]) < 160
    assert (report / "junit.xml").exists() and (report / "report.html").exists()
    assert b"Traceback" not in err


def test_a_password_need_not_be_on_the_command_line(tmp_path: Path) -> None:
    accounts = tmp_path / "accounts"
    accounts.write_text(f"# lab accounts\nalice:{PASSWORD}\n")
    with ScriptedServer(pop3(ordinary)) as srv:
        code, results = run(
            tmp_path, srv.port, LOGIN, "--account-file", str(accounts), account=False
        )
    assert code == EXIT_OK
    assert only(results)["outcome"] == "pass"
    # Without a terminal, a USER with no password is a usage error, not a prompt.
    code = main(["run", "--host", "127.0.0.1", "--account", "bob", "--report-dir", str(tmp_path)])
    assert code == EXIT_USAGE


def test_a_huge_status_line_is_quoted_not_copied(tmp_path: Path) -> None:
    def long_noop(line: bytes) -> bytes | None:
        if line.upper() == b"NOOP":
            return b"-ERR " + b"x" * 400_000 + b"\r\n"
        return ordinary(line)

    with ScriptedServer(pop3(long_noop)) as srv:
        code, results = run(tmp_path, srv.port, LOGIN)
    assert code == EXIT_FAIL
    scenario = only(results)
    actual = scenario["checks"][0]["actual"]
    assert len(actual) < 1000 and "400007 octets, sha256" in actual
    passive = results["passive"]
    assert isinstance(passive, list)
    assert ("status-too-long", "fail") in [(p["code"], p["outcome"]) for p in passive]
    # The whole report folder stays small whatever the server sent.
    assert sum(p.stat().st_size for p in (tmp_path / "report").iterdir()) < 200_000


def test_a_wrong_password_ends_in_seconds_before_any_scenario(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The preflight: exit 2 naming the account and quoting the answer, no fail."""

    def refuses(line: bytes) -> bytes | None:
        if line.upper().startswith(b"PASS"):
            return b"-ERR [AUTH] invalid password\r\n"
        return ordinary(line)

    started = time.monotonic()
    with ScriptedServer(pop3(refuses)) as srv:
        code, results = run(tmp_path, srv.port, LOGIN)
    assert code == EXIT_USAGE
    assert time.monotonic() - started < 5
    assert results == {}  # nothing was judged, so nothing was blamed
    err = capsys.readouterr().err
    assert "account 'alice' cannot log in" in err and "-ERR [AUTH] invalid password" in err
    assert PASSWORD not in err


STLS_IN_CLEAR = """\
id: t.stls
title: after +OK to STLS nothing more is sent in the clear
requirements: RFC2595-4-3
mailbox: none
---
login A
C: STLS
S: -ERR
C: NOOP
S: +OK
"""


def test_a_step_in_the_clear_after_an_accepted_stls_is_unjudged_not_an_error(
    tmp_path: Path,
) -> None:
    """The server's +OK to STLS is its fault (a fail); the NOOP after it would be sent
    into a TLS handshake, so the rest is unjudged rather than the harness's error."""
    sent_after: list[bytes] = []

    def accepts_stls(line: bytes) -> bytes | None:
        if line.upper() == b"STLS":
            return b"+OK begin TLS\r\n"
        if line.upper().startswith(b"NOOP"):
            sent_after.append(line)
        return ordinary(line)

    with ScriptedServer(pop3(accepts_stls)) as srv:
        code, results = run(tmp_path, srv.port, STLS_IN_CLEAR, "--no-preflight")
    scenario = only(results)
    assert code == EXIT_FAIL
    assert scenario["outcome"] == "fail", scenario
    checks = scenario["checks"]
    assert isinstance(checks, list)
    assert [c["outcome"] for c in checks] == ["fail"]
    assert "belongs to TLS" in str(scenario["unjudged"])
    assert sent_after == []  # nothing went out in the clear after the +OK
