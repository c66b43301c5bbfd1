"""A scenario run that is fed its steps one action at a time.

:class:`~conformance.runner.ScenarioRun` carries out a whole scenario in
``execute()``.  An exploration does not know its steps in advance: the state
machine chooses each action after seeing the previous answers.  ``LiveRun``
is the same runner (same sessions, models, grading and teardown), opened,
fed and closed in three calls, so that a step behaves exactly as it does
when the emitted scenario file is replayed.
"""

from __future__ import annotations

import traceback
from collections.abc import Sequence

from conformance.outcomes import Outcome
from conformance.runner import Abort, ScenarioRun
from conformance.scenario.steps import Step
from conformance.verdicts import make_check


class LiveRun(ScenarioRun):
    """``ScenarioRun`` with ``begin`` / ``perform`` / ``finish`` instead of ``execute``."""

    aborted: bool = False

    def begin(self) -> None:
        """Seed the mailbox (the scenario's ``mailbox:``) and its model."""
        self._provision()

    def perform(self, steps: Sequence[Step]) -> None:
        """Carry out ``steps``; after an abort (already recorded as a check) do nothing more."""
        if self.aborted:
            return
        try:
            self._steps(steps)
        except Abort:
            self.aborted = True
        except Exception as exc:  # as in execute(): a bad server must not crash the harness
            self.aborted = True
            self.checks.append(
                make_check(
                    self.requirement,
                    Outcome.ERROR,
                    "the exploration step runs to its end",
                    f"harness error: {exc.__class__.__name__}: {exc}",
                    self.scenario.file,
                    traceback.format_exc(limit=4),
                )
            )

    def finish(self) -> None:
        """End every open session without committing anything (the runner's teardown)."""
        self._teardown()
