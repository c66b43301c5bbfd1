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
    result = pytester.runpytest_subprocess("--pop3", "-p", "no:cacheprovider", "-rs")
    result.assert_outcomes(passed=1, failed=1, skipped=1)
    # The item renders its own failure: requirement, quote and transcript.
    result.stdout.fnmatch_lines(["*RFC1939-5.NOOP-1*", "*X-NOTHING*"])


def test_inert_without_flag(pytester: pytest.Pytester) -> None:
    pytester.makefile(".pop3", ok=PASSING)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED


def test_bad_file_is_a_collection_error(pytester: pytest.Pytester) -> None:
    pytester.makefile(".pop3", broken="id: x\n---\nfrobnicate\n")
    result = pytester.runpytest_subprocess("--pop3", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["*broken.pop3:*"])
    assert result.ret == pytest.ExitCode.INTERRUPTED
