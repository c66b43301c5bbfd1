"""The pytest plugin: scenario files collected and run as pytest items."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parent.parent

PASSING = """\
id: p.noop
title: NOOP in TRANSACTION
requirements: RFC1939-5.NOOP-1
---
login A
C: NOOP
S: +OK
quit A
"""

FAILING = """\
id: p.wrong
title: a scenario that expects the wrong answer, so the item must fail
requirements: RFC1939-5.NOOP-1
---
login A
C: NOOP
S: -ERR
"""

UNSUPPORTED = """\
id: p.needs
title: needs a capability nobody has
requirements: RFC1939-5.NOOP-1
needs: X-NOTHING
---
login A
C: NOOP
S: +OK
"""


def test_items_pass_fail_and_skip(pytester: pytest.Pytester) -> None:
    pytester.makefile(".pop3", ok=PASSING, bad=FAILING, skip=UNSUPPORTED)
    result = pytester.runpytest_subprocess("--pop3", ".", "-p", "no:cacheprovider", "-rs")
    result.assert_outcomes(passed=1, failed=1, skipped=1)
    # The item renders its own failure: requirement, quote and transcript, and
    # the target it judged (not "?:?").
    result.stdout.fnmatch_lines(["*RFC1939-5.NOOP-1*", "*X-NOTHING*"])
    result.stdout.fnmatch_lines(["*pop3-conformance*against 127.0.0.1:*"])
    assert "?:?" not in result.stdout.str()
    result.stdout.fnmatch_lines(["pop3-conformance *: judging the embedded server"])


def test_inert_without_flag(pytester: pytest.Pytester) -> None:
    pytester.makefile(".pop3", ok=PASSING)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED


def test_bad_file_is_a_collection_error(pytester: pytest.Pytester) -> None:
    pytester.makefile(".pop3", broken="id: x\n---\nfrobnicate\n")
    result = pytester.runpytest_subprocess("--pop3", ".", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["*broken.pop3:*"])
    assert result.ret == pytest.ExitCode.INTERRUPTED


def test_without_a_path_the_installed_suites_run(pytester: pytest.Pytester) -> None:
    """No suites/ folder here: --pop3 alone finds the scenarios shipped with the package."""
    result = pytester.runpytest_subprocess(
        "--pop3", "--collect-only", "-q", "-p", "no:cacheprovider"
    )
    out = result.stdout.str()
    assert "core.basic.greeting" in out
    collected = [line for line in out.splitlines() if ".pop3::" in line]
    assert len(collected) >= 150
    # Slow scenarios (the 10-minute timers) are off by default, as in `run`.
    assert not any("autologout" in line for line in collected)
    slow = pytester.runpytest_subprocess(
        "--pop3", "--pop3-slow", "--collect-only", "-q", "-p", "no:cacheprovider"
    )
    assert "autologout" in slow.stdout.str()


def test_tags_are_markers(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess(
        "--pop3",
        "-m",
        "locking and not two-sessions",
        "--collect-only",
        "-q",
        "-p",
        "no:cacheprovider",
        "-W",
        "error::pytest.PytestUnknownMarkWarning",
    )
    out = result.stdout.str()
    picked = [line for line in out.splitlines() if ".pop3::" in line]
    assert picked and all("locking" in line for line in picked)
    assert result.ret == pytest.ExitCode.OK
