"""A scenario run that is fed its steps one action at a time.

:class:`~conformance.runner.ScenarioRun` carries out a whole scenario in
``execute()``.  An exploration does not know its steps in advance: the state
machine chooses each action after seeing the previous answers.  ``LiveRun``
is the same runner (same sessions, models, grading and teardown), opened,
fed and closed in three calls, so that a step behaves exactly as it does
when the emitted scenario file is replayed.

One thing differs, and only in time: the last answer of an action is read
when the next action begins (``settle``) rather than before the action
returns, where the action ends with a command and its ``S:`` line (``C:``
or ``raw:``) or with a retried login (the answer to its last line: the
server opens the maildrop meanwhile, the longest wait of a login).
Hypothesis chooses the next action meanwhile, so the harness works while
the server does, where it would otherwise wait for it.  Nothing else is sent
before that answer is read and judged, so the server sees the same exchange
as from the replayed file.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Sequence

from conformance.runner import Abort, ScenarioRun
from conformance.runner.checks import harness_error
from conformance.runner.exchange_steps import expect, send_ahead
from conformance.runner.login_steps import Retrying, begin_eventually, finish_eventually
from conformance.runner.mailbox_steps import provision
from conformance.runner.run import InFlight, Unjudged
from conformance.runner.session_steps import teardown
from conformance.scenario import steps as st


class LiveRun(ScenarioRun):
    """``ScenarioRun`` with ``begin`` / ``perform`` / ``finish`` instead of ``execute``."""

    aborted: bool = False
    # The last answer of the last action, not read yet: a command's (None for a
    # raw: line, whose answer the S: line reads) with the S: line that judges
    # it, or a retried login's.
    in_flight: tuple[InFlight | None, st.Expect] | Retrying | None = None

    def begin(self) -> None:
        """Seed the mailbox (the scenario's ``mailbox:``) and its model."""
        provision(self)

    def perform(self, steps: Sequence[st.Step]) -> None:
        """Carry out ``steps``; after an abort (already recorded as a check) do nothing more.

        A last command and its ``S:`` line, or a last retried login, are only
        sent: :meth:`settle` reads and judges the answer, first thing in the
        next call.
        """
        self._guarded(lambda: self._settle_and_perform(steps))

    def settle(self) -> None:
        """Read and judge the answer still owed to the last action, if any."""
        self._guarded(self._settle)

    def finish(self) -> None:
        """Judge what is still owed, then end every open session without committing
        anything (the runner's teardown)."""
        self.settle()
        teardown(self)

    def _settle_and_perform(self, steps: Sequence[st.Step]) -> None:
        self._settle()
        *head, last = steps
        send = head[-1] if head else None
        if isinstance(last, st.Eventually):
            self.perform_steps(head)
            self.in_flight = begin_eventually(self, last)
        elif isinstance(last, st.Expect) and isinstance(send, st.Send):
            self.perform_steps(head[:-1])
            self.in_flight = (send_ahead(self, send), last)
        else:
            self.perform_steps(steps)

    def _settle(self) -> None:
        pending = self.in_flight
        if pending is None:
            return
        self.in_flight = None
        if isinstance(pending, Retrying):
            finish_eventually(self, pending)
            return
        sent, judge = pending
        if sent is not None:
            self.receive(sent)
        expect(self, judge)

    def _guarded(self, action: Callable[[], None]) -> None:
        if self.aborted:
            return
        try:
            action()
        except Abort:
            self.aborted = True
        except Unjudged as stop:
            # As in execute(): the server ended or spoiled the session; what it
            # broke is graded already, and the rest is not the harness's error.
            self.aborted = True
            self.unjudged = str(stop)
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
