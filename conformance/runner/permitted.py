"""Behaviours the RFCs permit, applied once by the runner to every scenario.

A scenario lists the answers it accepts; what any server may do whatever the
scenario says belongs here, so that no scenario forgets it and fails a
correct server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conformance.pop3 import IN_AUTHORIZATION, Response
from conformance.results import CheckResult
from conformance.runner import checks

if TYPE_CHECKING:
    from conformance.runner.run import Slot


def permitted_close(slot: Slot, response: Response, where: str) -> CheckResult | None:
    """RFC 1939 section 4: "After returning a negative status indicator, the server may
    close the connection."  The info check that replaces a failed one, or None."""
    previous = slot.answered
    if response.kind != "closed" or previous is None:
        return None
    if not (previous.response.err and previous.before in IN_AUTHORIZATION):
        return None
    return checks.permitted_close(previous.command.keyword, where)
