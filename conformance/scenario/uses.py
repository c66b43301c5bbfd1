"""What a scenario uses of a mailbox, read from its steps without a server.

A mailbox judged as it is (``--provision existing``) holds whatever it
holds: a scenario that names message 5 needs at least five messages there,
and one that delivers mail needs a way to deliver it.  Both are read from
the steps: the message numbers of ``C:`` and ``raw:`` lines (RETR, TOP, DELE,
LIST, UIDL), of ``{size:N}`` and ``{uid:N}`` placeholders and of ``drop
mid-retr N``, and the ``deliver`` steps.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Final

from conformance.scenario import steps as st

# A number of ten digits or more names no message any mailbox has: the
# argument suites send 2^32 + 1 and 2^64 + 1 to see them refused.
_NUMBERED: Final = re.compile(r"(?i)\b(?:RETR|TOP|DELE|LIST|UIDL)[ \t]+0*([0-9]{1,9})(?![0-9])")
_PLACEHOLDER: Final = re.compile(r"\{(?:size|uid):([0-9]+)\}")


def _steps(steps: Sequence[st.Step]) -> Iterator[st.Step]:
    for step in steps:
        if isinstance(step, st.When):
            yield from _steps(step.body)
        else:
            yield step


def highest_message(scenario: st.Scenario) -> int:
    """The highest message number the scenario names (0 when it names none)."""
    highest = 0
    for step in _steps(scenario.steps):
        if isinstance(step, st.Send):
            text = step.data.decode("latin-1") if step.raw else step.text
            for pattern in (_NUMBERED, _PLACEHOLDER):
                highest = max([highest, *(int(m.group(1)) for m in pattern.finditer(text))])
        elif isinstance(step, st.End) and step.message is not None:
            highest = max(highest, step.message)
    return highest


def delivers(scenario: st.Scenario) -> bool:
    """Whether the scenario delivers mail into a mailbox while it runs."""
    return any(isinstance(step, st.Deliver) for step in _steps(scenario.steps))
