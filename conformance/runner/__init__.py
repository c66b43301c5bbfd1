"""The runner: one scenario's steps carried out against the target, and graded.

:mod:`~conformance.runner.run` holds :class:`ScenarioRun`; the steps are
carried out by :mod:`~conformance.runner.session_steps` (open, login, end),
:mod:`~conformance.runner.exchange_steps` (C:, raw:, S:, body),
:mod:`~conformance.runner.mailbox_steps` (seeding, snapshots) and
:mod:`~conformance.runner.tls_steps`; the checks the runner grades itself are
in :mod:`~conformance.runner.checks`, and how each session ended in
:mod:`~conformance.runner.closes`.
"""

from conformance.runner.run import Abort, LastAnswer, ScenarioRun, Slot

__all__ = ["Abort", "LastAnswer", "ScenarioRun", "Slot"]
