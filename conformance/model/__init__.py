"""The mailbox model: the executable specification of one maildrop and its sessions.

A :class:`Maildrop` holds the committed content of one mailbox (what was
seeded, minus what QUITs removed).  Each POP3 connection gets a
:class:`SessionModel`, which knows the numbering fixed at login and the
messages marked as deleted, and judges every answer with the oracle of the
command's family (:data:`ORACLES`, keyed by the spec's keywords).
"""

from conformance.model.expectation import Discrepancy, Expectation
from conformance.model.maildrop import Maildrop
from conformance.model.session import ORACLES, SessionModel

__all__ = ["ORACLES", "Discrepancy", "Expectation", "Maildrop", "SessionModel"]
