"""Behaviours the RFCs permit, applied once by the runner to every scenario.

A scenario lists the answers it accepts; what any server may do whatever the
scenario says belongs here, so that no scenario forgets it and fails a
correct server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conformance.outcomes import Outcome
from conformance.pop3 import IN_AUTHORIZATION, Response
from conformance.results import CheckResult
from conformance.runner import checks
from conformance.runner.deliveries import holders

if TYPE_CHECKING:
    from conformance.runner.run import ScenarioRun, Slot


def permitted_close(slot: Slot, response: Response, where: str) -> CheckResult | None:
    """RFC 1939 section 4: "After returning a negative status indicator, the server may
    close the connection."  The info check that replaces a failed one, or None."""
    previous = slot.answered
    if response.kind != "closed" or previous is None:
        return None
    if not (previous.response.err and previous.before in IN_AUTHORIZATION):
        return None
    return checks.permitted_close(previous.command.keyword, where)


# The checks that judge the response codes of a refusal: for them an [IN-USE]
# is the answer in question (to a wrong password it asserts a success).
ABOUT_THE_CODES = ("RFC2449-8.1.2", "RFC3206-")


def lock_left_behind(
    run: ScenarioRun, name: str, slot: Slot, response: Response, graded: CheckResult
) -> CheckResult | None:
    """A refusal that names the lock is no answer to the line it follows.

    After a session the harness dropped in TRANSACTION, a server may keep
    the maildrop locked a little longer (style.md), and answer the next
    login attempt "-ERR [IN-USE]" whatever the line said: that -ERR is not
    the refusal a scenario expected for the line's syntax (no pass), nor a
    wrong answer to a login it expected to succeed (no fail).  No live
    session of the scenario holding the lock is what tells the lock left
    behind from one the scenario tests.  The info check that replaces the
    graded one, or None.
    """
    if graded.outcome not in (Outcome.PASS, Outcome.FAIL, Outcome.NON_STRICT):
        return None
    if graded.requirement.startswith(ABOUT_THE_CODES):
        return None
    if not response.names_lock or slot.account not in run.dropped_holders:
        return None
    if holders(run, slot.account, but=name):
        return None
    return checks.lock_left_behind(graded)
