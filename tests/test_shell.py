"""``pop3-conformance shell`` driven through a pseudo-terminal with pexpect.

The seed walkthrough of RFC 1939 (greeting, USER/PASS, STAT, LIST, RETR,
DELE, RSET, QUIT, and the -ERR a second session gets for the locked
mailbox) must draw no finding from the reference server, and the right
finding from a server with a defect injected.  A recording must hold no
secret, and ``run --suites FILE --provision none`` must judge it on the
server it was made on: pass while the server behaves the same, fail once the
mailbox changed.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import sys
from pathlib import Path
from typing import Any

import pexpect
import pytest

from conformance.cli import main
from conformance.messages import corpus
from conformance.provision import make_provisioner
from conformance.server.embedded import EmbeddedServer

ROOT = Path(__file__).resolve().parents[1]
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
TIMEOUT = 60

# The walkthrough as a script; the comments say what each line checks.
WALKTHROUGH = """\
USER {user}
PASS {password}
STAT
LIST
RETR 2
DELE 1
STAT
DELE 1
RSET
:open B
USER {user}
PASS {password}
:use A
QUIT
"""


def environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    path = env.get("PYTHONPATH")
    env["PYTHONPATH"] = f"{ROOT}{os.pathsep}{path}" if path else str(ROOT)
    # A terminal prompt_toolkit knows; it need not ask the (absent) terminal
    # where the cursor is.
    env.update(TERM="xterm", PROMPT_TOOLKIT_NO_CPR="1")
    return env


def interactive(*args: str, log: Path) -> pexpect.spawn:
    """The shell on a pseudo-terminal: stdin and stdout are both the terminal."""
    child = pexpect.spawn(
        sys.executable,
        ["-m", "conformance.cli", "shell", *args],
        env=environment(),
        cwd=str(log.parent),
        timeout=TIMEOUT,
        encoding="utf-8",
        codec_errors="replace",
        dimensions=(50, 200),
    )
    child.logfile_read = log.open("w", encoding="utf-8")
    return child


def scripted(script: Path, *args: str, piped: bool = False) -> tuple[str, int]:
    """The shell with stdin from a file (non-interactive), its output on the terminal,
    or through a pipe; returns the output and the exit status."""
    command = shlex.join([sys.executable, "-m", "conformance.cli", "shell", *args])
    command += f" < {shlex.quote(str(script))}"
    if piped:
        command += " | cat; exit ${PIPESTATUS[0]}"
    output, status = pexpect.run(
        "bash",
        args=["-c", command],
        env=environment(),
        cwd=str(script.parent),
        timeout=TIMEOUT,
        withexitstatus=True,
        encoding="utf-8",
    )
    return output, status


def step(child: pexpect.spawn, line: str, *expected: str, prompt: str) -> None:
    """Type a line; each expected text must follow, in order, then the next prompt."""
    child.send(line + "\r")
    for text in expected:
        child.expect_exact(text)
    child.expect_exact(prompt)


def test_seed_walkthrough_interactive_has_no_finding(tmp_path: Path) -> None:
    log = tmp_path / "terminal.log"
    child = interactive(log=log)
    child.expect_exact("RFC1939-3-2")
    child.expect_exact("A AUTHORIZATION>")
    step(child, "USER {user}", "+OK", "RFC1939-7.USER-1", prompt="A AUTHORIZATION_USER>")
    step(child, "PASS {password}", "PASS *****", "RFC1939-7.PASS-2", prompt="A TRANSACTION>")
    # Tab completes the one keyword that starts with STA.
    child.send("STA\t")
    child.expect_exact("STAT")
    step(child, "", "S: +OK 7 1116009", "RFC1939-5.STAT-3", prompt="A TRANSACTION>")
    step(child, "LIST", "S: 7 1100375", "RFC1939-5.LIST-2", prompt="A TRANSACTION>")
    step(
        child,
        "RETR 1",
        "This is a short plain message.",
        "RFC1939-5.RETR-1",
        prompt="A TRANSACTION>",
    )
    step(child, "DELE 1", "RFC1939-5.DELE-1", prompt="A TRANSACTION>")
    step(child, "STAT", "S: +OK 6 1115627", "RFC1939-5.STAT-2", prompt="A TRANSACTION>")
    step(child, ":state", "1       382 octets  marked as deleted", prompt="A TRANSACTION>")
    step(child, "RSET", "RFC1939-5.RSET-1", prompt="A TRANSACTION>")
    step(child, ":open B", "RFC1939-3-2", prompt="B AUTHORIZATION>")
    step(child, "USER {user}", "RFC1939-7.USER-1", prompt="B AUTHORIZATION_USER>")
    step(child, "PASS {password}", "-ERR [IN-USE]", "RFC1939-7.PASS-2", prompt="B AUTHORIZATION>")
    step(child, ":use A", prompt="A TRANSACTION>")
    step(child, "QUIT", "RFC1939-6.QUIT-1", "RFC1939-6.QUIT-3", "session A ended", prompt="pop3>")
    child.send(":quit\r")
    child.expect(pexpect.EOF)
    child.close()
    text = log.read_text(encoding="utf-8")
    assert child.exitstatus == 0, text
    assert "13 answers judged: 13 right, 0 wrong" in text
    assert "FAIL" not in text
    # Colour on a terminal: the judgement word is green.
    assert "\x1b[32mok" in text


@pytest.mark.parametrize(
    ("defect", "finding"),
    [
        (None, None),
        ("stat-counts-deleted", "FAIL  RFC1939-5.STAT-2 (MUST)  expected +OK 6 1115627"),
        ("dele-twice-ok", "FAIL  RFC1939-5.DELE-2 (MUST)  expected -ERR"),
        ("no-dot-stuffing", "FAIL  RFC1939-5.RETR-1 (MUST)  expected 503 octets"),
    ],
)
def test_walkthrough_against_defects(
    tmp_path: Path, defect: str | None, finding: str | None
) -> None:
    script = tmp_path / "walk.txt"
    script.write_text(WALKTHROUGH)
    args = ["--defect", defect] if defect else []
    output, status = scripted(script, *args, piped=True)
    assert "\x1b[" not in output  # no colour through a pipe
    # The script's lines are echoed after the prompt, as a terminal shows them.
    assert "A AUTHORIZATION_USER> PASS ********" in output
    if finding is None:
        assert status == 0, output
        assert "FAIL" not in output
        assert "14 answers judged: 14 right, 0 wrong" in output
        return
    assert status == 1, output
    assert finding in output
    # The requirement's sentence is quoted under the finding.
    assert 'RFC1939 §5: "' in output.split(finding, 1)[1]


def _maildir_files(server: EmbeddedServer, user: str) -> list[Path]:
    root = Path(server.maildir_template.format(user=user))
    return sorted(p for sub in ("new", "cur") for p in (root / sub).iterdir())


def _replay(record: Path, report: Path, *target: str) -> tuple[int, dict[str, Any]]:
    code = main(["run", "--suites", str(record), "--report-dir", str(report), *target])
    results: dict[str, Any] = json.loads((report / "results.json").read_text())
    return code, results["scenarios"][0]


def test_recording_holds_no_secret_and_replays_on_the_same_server(tmp_path: Path) -> None:
    with EmbeddedServer() as server:
        alice, bob = server.accounts[:2]
        make_provisioner(f"maildir:{server.maildir_template}").seed(alice.user, corpus("small"))
        target = [
            "--host", server.host, "--port", str(server.port),
            "--account", f"{alice.user}:{alice.password}",
            "--account", f"{bob.user}:{bob.password}",
        ]  # fmt: skip
        record = tmp_path / "Walk Through.pop3"
        log = tmp_path / "terminal.log"
        child = interactive(*target, "--record", str(record), log=log)
        # No provisioner: the shell learns the mailbox read-only.
        child.expect_exact(f"mailbox of {alice.user}: learned read-only, 3 messages")
        child.expect_exact("A AUTHORIZATION>")
        step(child, f"USER {alice.user}", "RFC1939-7.USER-1", prompt="A AUTHORIZATION_USER>")
        # The password is typed as it is, and shown masked.
        step(child, f"PASS {alice.password}", "PASS *****", "ok", prompt="A TRANSACTION>")
        step(child, "STAT", "RFC1939-5.STAT-3", prompt="A TRANSACTION>")
        step(child, "LIST", "RFC1939-5.LIST-2", prompt="A TRANSACTION>")
        step(child, "RETR 1", "RFC1939-5.RETR-1", prompt="A TRANSACTION>")
        step(child, "DELE 1", "RFC1939-5.DELE-1", prompt="A TRANSACTION>")
        step(child, "RSET", "RFC1939-5.RSET-1", prompt="A TRANSACTION>")
        step(
            child,
            r":raw NOOP\r\nUIDL 1\r\n",
            "RFC1939-5.NOOP-1",
            "RFC1939-7.UIDL-1",
            prompt="A TRANSACTION>",
        )
        step(child, ":open B", "RFC1939-3-2", prompt="B AUTHORIZATION>")
        step(child, f"USER {alice.user}", "+OK", prompt="B AUTHORIZATION_USER>")
        step(child, f"PASS {alice.password}", "-ERR [IN-USE]", prompt="B AUTHORIZATION>")
        step(child, ":close B", "session B closed", prompt="pop3>")
        step(child, ":use A", prompt="A TRANSACTION>")
        step(child, "QUIT", "RFC1939-6.QUIT-3", prompt="pop3>")
        child.send(":quit\r")
        child.expect(pexpect.EOF)
        child.close()
        shown = log.read_text(encoding="utf-8")
        assert child.exitstatus == 0, shown
        assert alice.password not in shown and bob.password not in shown

        text = record.read_text(encoding="utf-8")
        assert alice.password not in text and bob.password not in text
        size = sum(m.size for m in corpus("small"))
        for expected in (
            "id: shell.walk-through",
            "mailbox: none",
            "destructive: no",
            "C: USER {user}\nS: +OK\n",
            "C: PASS {password}\nS: +OK\n",
            f"C: STAT\nS: +OK 3 {size}\n",
            "raw: NOOP\\r\\nUIDL 1\\r\\n\nS: +OK\nread\nS: +OK 1\n",
            "C: PASS {password}\nS: -ERR [IN-USE]\nclose B\nuse A\n",
            "quit A",
        ):
            assert expected in text, text

        code, scenario = _replay(record, tmp_path / "same", "--provision", "none", *target)
        assert code == 0 and scenario["outcome"] == "pass", scenario
        assert len(scenario["checks"]) >= 10

        # The mailbox changed: the recording says so.
        _maildir_files(server, alice.user)[-1].unlink()
        code, scenario = _replay(record, tmp_path / "changed", "--provision", "none", *target)
        assert code == 1 and scenario["outcome"] == "fail", scenario
        assert scenario["reason"].startswith("RFC1939-5.STAT-3")


def test_a_wrong_answer_becomes_a_commented_expectation(tmp_path: Path) -> None:
    script = tmp_path / "twice.txt"
    script.write_text("USER {user}\nPASS {password}\nDELE 1\nDELE 1\nRSET\nQUIT\n")
    record = tmp_path / "twice.pop3"
    output, status = scripted(script, "--defect", "dele-twice-ok", "--record", str(record))
    assert status == 1, output
    text = record.read_text(encoding="utf-8")
    wrong = (
        "check RFC1939-5.DELE-2\nC: DELE 1\n# fail RFC1939-5.DELE-2 (MUST): expected -ERR: "
        "message 1 is marked as deleted; got +OK message 1 deleted\n"
        "# for a regression case, put this line in force:\n# S: model\n"
    )
    assert wrong in text, text
    assert "mailbox: standard" in text
    # While the server behaves the same, the recording passes.
    code, scenario = _replay(record, tmp_path / "same", "--defect", "dele-twice-ok")
    assert code == 0 and scenario["outcome"] == "pass", scenario
    # Put in force, it is a regression case: it fails the defective server ...
    record.write_text(text.replace("# S: model", "S: model"), encoding="utf-8")
    code, scenario = _replay(record, tmp_path / "regression", "--defect", "dele-twice-ok")
    assert code == 1 and scenario["reason"].startswith("RFC1939-5.DELE-2"), scenario
    # ... and passes the clean one.
    code, scenario = _replay(record, tmp_path / "clean")
    assert code == 0 and scenario["outcome"] == "pass", scenario


def test_script_lines_the_shell_cannot_carry_out_exit_2(tmp_path: Path) -> None:
    script = tmp_path / "typos.txt"
    script.write_text(":bogus\nSTAT {uid:1}\n:help\n:help RETR\n:help table\n:raw \\q\nNOOP\n")
    output, status = scripted(script, piped=True)
    assert status == 2, output
    assert "shell: unknown meta-command ':bogus'" in output
    assert "needs known mailbox content and a logged-in session" in output
    assert "shell: unknown escape '\\q'" in output
    # :help: the meta-commands, then the spec's commands by state.
    assert ":raw TEXT" in output and "- TRANSACTION:" in output
    assert "  - RETR msg: the whole message (RFC1939-5.RETR-1)" in output
    assert "RFC1939-5.RETR-2 (MUST): " in output  # :help RETR quotes its requirements
    assert "| RETR msg | TRANSACTION | msg (msg) | multi-line |" in output  # :help table
    # NOOP in AUTHORIZATION is a wrong-state command, answered -ERR: right.
    assert "RFC1939-3-13  -ERR: NOOP is not allowed in AUTHORIZATION" in output
