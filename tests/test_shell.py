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

import os
import re
import shlex
import sys
from pathlib import Path

import pexpect
import pytest

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
