"""Exploration against real servers finds nothing a permitted behaviour would explain.

Each exploration runs 60 s against a fresh lab instance, with the waits of the
scenarios that do the same things (a locked second login is answered by
Dovecot after about 10 s).  A failure here is either a server's real breach
(then audit it and name it here with the sentence it breaks) or a harness bug
that fails permitted behaviour.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.commands.lab import _started, lab_target
from conformance.explore import ExploreOptions, explore
from tests.lab.conftest import require

BUDGET_S = 60.0
SHRINK_BUDGET_S = 15.0
# Audited breaches exploration may run into, by server: requirement -> (a
# marker of the server's answer, why it is the server's).  The same breach
# fails a scenario of the baseline, with its explanation there.
KNOWN: dict[str, dict[str, tuple[str, str]]] = {
    "dovecot": {
        "RFC1939-7.TOP-2": (
            "Size too large",
            "TOP with 2^64 + 1 lines is refused (core.arguments.top); RFC 1939 section 7 "
            "sends the entire message when the count exceeds the body's lines",
        ),
    },
    "cyrus": {
        "RFC1939-7.TOP-2": (
            "Invalid number of lines",
            "TOP with 2^32 + 1 lines or more is refused (core.arguments.top); RFC 1939 "
            "section 7 sends the entire message when the count exceeds the body's lines",
        ),
    },
}


@pytest.mark.lab
@pytest.mark.parametrize("name", ["dovecot", "cyrus"])
def test_exploring_a_real_server_for_a_minute(name: str, tmp_path: Path) -> None:
    server = require(name)
    with _started(server) as instance:
        target = lab_target(instance, timeout=10.0)
        options = ExploreOptions(
            budget_s=BUDGET_S,
            examples=100_000,
            seed=1939,
            emit_dir=tmp_path / "emitted",
            # A known breach found is shrunk only briefly: CI's time goes to the search.
            shrink_budget_s=SHRINK_BUDGET_S,
        )
        exploration = explore(target, options)
    result = exploration.result
    bad = [c for c in result.checks if c.outcome.value in ("fail", "error", "nondeterministic")]
    known = KNOWN.get(name, {})
    unknown = [
        (c.requirement, c.expected, c.actual)
        for c in bad
        if not (c.outcome.value == "fail" and c.requirement in known)
        or known[c.requirement][0] not in c.actual
    ]
    assert unknown == []
    assert result.outcome.value in (("pass", "fail") if bad else ("pass",))
    assert exploration.examples > 1 and exploration.commands > 50
