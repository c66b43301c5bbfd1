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

from conformance.runner import Abort, ScenarioRun
from conformance.runner.checks import harness_error
from conformance.runner.mailbox_steps import provision
from conformance.runner.session_steps import teardown
from conformance.scenario.steps import Step


class LiveRun(ScenarioRun):
    """``ScenarioRun`` with ``begin`` / ``perform`` / ``finish`` instead of ``execute``."""

    aborted: bool = False

    def begin(self) -> None:
        """Seed the mailbox (the scenario's ``mailbox:``) and its model."""
        provision(self)

    def perform(self, steps: Sequence[Step]) -> None:
        """Carry out ``steps``; after an abort (already recorded as a check) do nothing more."""
        if self.aborted:
            return
        try:
            self.perform_steps(steps)
        except Abort:
            self.aborted = True
        except Exception as exc:  # as in execute(): a bad server must not crash the harness
            self.aborted = True
            self.checks.append(
                harness_error(
                    self.requirement,
                    "the exploration step runs to its end",
                    f"harness error: {exc.__class__.__name__}: {exc}",
                    self.scenario.file,
                    traceback.format_exc(limit=4),
                )
            )

    def finish(self) -> None:
        """End every open session without committing anything (the runner's teardown)."""
        teardown(self)
