"""Progress on the console: a live status line on a terminal, plain lines elsewhere."""

from __future__ import annotations

import io
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conformance.cli import main
from conformance.outcomes import Outcome
from conformance.report.progress import ERASE_LINE, Progress, elapsed_text
from conformance.results import ScenarioResult

ROOT = Path(__file__).resolve().parent.parent


class FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def result(sid: str, outcome: Outcome) -> ScenarioResult:
    return ScenarioResult(sid, "title", "f.pop3", "RFC1939 §5", [], [], outcome)


def screen(text: str) -> list[str]:
    """What a terminal shows for ``text``: ``\\r`` returns, ERASE_LINE clears to the end."""
    lines = [""]
    col = 0
    i = 0
    while i < len(text):
        if text.startswith(ERASE_LINE, i):
            lines[-1] = lines[-1][:col]
            i += len(ERASE_LINE)
            continue
        ch = text[i]
        if ch == "\r":
            col = 0
        elif ch == "\n":
            lines.append("")
            col = 0
        else:
            line = lines[-1]
            lines[-1] = line[:col] + ch + line[col + 1 :]
            col += 1
        i += 1
    return lines


def test_terminal_gets_one_rewritten_line_with_counts_and_elapsed() -> None:
    out, clock = FakeTty(), FakeClock()
    progress = Progress(out, columns=200, clock=clock)
    assert progress.live
    progress.start(3)
    assert screen(out.getvalue()) == ["[0/3] 0.0s"]
    clock.now += 1.5
    progress.update(result("core.a", Outcome.PASS))
    assert screen(out.getvalue()) == ["[1/3] 1.5s  1 pass  core.a"]
    clock.now += 70
    progress.update(result("core.b", Outcome.INFO))
    # The shorter status text overwrote the longer one: nothing of it is left.
    assert screen(out.getvalue()) == ["[2/3] 1m11s  1 pass, 1 info  core.b"]
    assert "\n" not in out.getvalue()  # one line, rewritten in place
    progress.finish()
    assert screen(out.getvalue()) == [""]  # erased: the report starts on a clean line


def test_terminal_keeps_failures_above_the_status_line() -> None:
    out, clock = FakeTty(), FakeClock()
    progress = Progress(out, columns=200, clock=clock)
    progress.start(4)
    progress.update(result("core.a", Outcome.PASS))
    progress.update(result("core.b", Outcome.FAIL))
    progress.update(result("core.c", Outcome.NON_STRICT))  # not a failure without --strict
    progress.update(result("core.d", Outcome.ERROR))
    assert screen(out.getvalue()) == [
        "  fail             core.b",
        "  error            core.d",
        "[4/4] 0.0s  1 pass, 1 fail, 1 error, 1 non-strict  core.d",
    ]
    progress.finish()
    assert screen(out.getvalue())[-1] == ""


def test_strict_keeps_non_strict_results_too() -> None:
    out = FakeTty()
    progress = Progress(out, strict=True, columns=200, clock=FakeClock())
    progress.start(1)
    progress.update(result("core.c", Outcome.NON_STRICT))
    assert screen(out.getvalue())[0] == "  non-strict       core.c"


def test_status_line_is_cut_to_the_terminal_width() -> None:
    out = FakeTty()
    progress = Progress(out, columns=30, clock=FakeClock())
    progress.start(100)
    progress.update(result("core.a-very-long-scenario-name-indeed", Outcome.PASS))
    (line,) = screen(out.getvalue())
    assert len(line) == 29 and line.endswith("…")
    assert line.startswith("[  1/100] 0.0s  1 pass")


def test_scenario_ids_cannot_drive_the_terminal() -> None:
    out = FakeTty()
    progress = Progress(out, columns=200, clock=FakeClock())
    progress.start(1)
    progress.update(result("evil\x1b[2J\rid", Outcome.PASS))
    assert "\x1b[2J" not in out.getvalue()
    assert screen(out.getvalue()) == ["[1/1] 0.0s  1 pass  evil\\x1b[2J\\rid"]


def test_not_a_terminal_gets_plain_lines_and_no_control_characters() -> None:
    out = io.StringIO()
    progress = Progress(out, clock=FakeClock())
    assert not progress.live
    progress.start(2)
    progress.update(result("core.a", Outcome.PASS))
    progress.update(result("core.b", Outcome.FAIL))
    progress.finish()
    assert out.getvalue() == "  pass             core.a\n  fail             core.b\n"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.04, "0.0s"), (9.44, "9.4s"), (59.9, "59.9s"), (65, "1m05s"), (3725, "1h02m")],
)
def test_elapsed_text(seconds: float, text: str) -> None:
    assert elapsed_text(seconds) == text


def test_cli_run_prints_plain_lines_when_stderr_is_not_a_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["run", "--select", "core.basic.*", "--report-dir", str(tmp_path)])
    assert code == 0
    err = capsys.readouterr().err
    assert "  pass             core.basic.greeting\n" in err
    assert "\r" not in err and ERASE_LINE not in err


def test_cli_run_on_a_real_terminal_shows_a_live_line(tmp_path: Path) -> None:
    """Through a pseudo-terminal, as a person sees it: the line is drawn, then erased."""
    leader, follower = pty.openpty()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "120"}
    command = [sys.executable, "-m", "conformance.cli", "run", "--select", "core.basic.*"]
    command += ["--defect", "rset-ignored", "--report-dir", str(tmp_path)]
    proc = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=follower,
    )
    os.close(follower)
    chunks = []
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 1.0)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                data = os.read(leader, 65536)
            except OSError:  # EIO: every writer has closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        code = proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)
        os.close(leader)
    text = b"".join(chunks).decode("utf-8").replace("\r\n", "\n")  # the tty's ONLCR
    assert code == 1  # core.basic.minimal-commands uses RSET
    assert ERASE_LINE in text and "\r[" in text
    shown = screen(text)
    assert "  fail             core.basic.minimal-commands" in shown
    assert not any(line.startswith("  pass ") for line in shown)  # passes only in the live line
    # The status line was erased before the next output: no trace of it stays.
    assert not any(line.startswith("[") for line in shown), shown
    assert shown[-2].startswith("reports written to") and shown[-1] == ""
    # Every status line drawn had the form "[n/N] elapsed  counts  id".
    statuses = [part for part in text.split("\r") if part.startswith("[")]
    assert statuses and all("/" in s.split("]")[0] for s in statuses)
