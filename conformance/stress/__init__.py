"""``pop3-conformance stress``: many POP3 sessions at once, on Locust, with the
mailbox invariants checked while they run.

The scenarios run one step at a time; some breaches appear only when sessions
overlap (a lock checked and set later, a QUIT that rewrites the mailbox from
its snapshot, unique-ids handed out twice, answers that reach the wrong
session).  This package drives the harness's own session, transport and codec
from Locust users and grades what it sees like a scenario does.

Where things are, in the order a run uses them:

- :mod:`~conformance.stress.options`: the flags (users, spawn rate, run time,
  the task mix, processes), validated before anything starts;
- :mod:`~conformance.stress.marked`: the messages a run seeds and delivers,
  each carrying a marker header that names it;
- :mod:`~conformance.stress.preparation`: before the load: how each account
  logs in, whether the server locks, the mailboxes seeded or learned
  (:mod:`~conformance.stress.reading` reads a mailbox, then and at the end);
- :mod:`~conformance.stress.client`: one POP3 session of a task, timed and
  checked answer by answer; :mod:`~conformance.stress.tasks`: the task mix;
- :mod:`~conformance.stress.observations`: what sessions tell the ledger;
  :mod:`~conformance.stress.ledger`: the invariants' state, merged in one
  process; :mod:`~conformance.stress.invariants`: the verdicts, graded like
  scenario checks;
- :mod:`~conformance.stress.engine` (and ``locust_user``, ``distributed``,
  ``monitor``): Locust as a library, one process or a master and workers;
  :mod:`~conformance.stress.figures`: Locust's statistics as report data.

Locust monkey-patches ``socket`` and ``select`` with gevent when it is
imported, so only the stress process imports it: ``python -m
conformance.stress`` patches first and then runs the command, and nothing
else in the harness imports :mod:`~conformance.stress.engine`.
"""
