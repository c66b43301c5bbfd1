"""The maildrops a scenario's leased accounts hold, as the model knows them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from conformance.messages import Message
from conformance.model import Maildrop

if TYPE_CHECKING:
    from conformance.runner.deliveries import Delivery


@dataclass
class Mailboxes:
    # account index (1-based) -> its maildrop, when the scenario seeded it
    maildrops: dict[int, Maildrop] = field(default_factory=dict)
    # Header-field names of the seeded messages: others are the server's own.
    seeded: frozenset[bytes] = frozenset()
    # Accounts a session has left since it reached TRANSACTION: a server may
    # have rewritten that mailbox's stored messages (calibration learns again).
    dirty: set[int] = field(default_factory=set)
    # account index -> the messages 'deliver' steps put into it
    delivered: dict[int, list[Message]] = field(default_factory=dict)
    # Every 'deliver' step, in order, with what became of it (runner/deliveries.py).
    deliveries: list[Delivery] = field(default_factory=list)
    # Accounts with a delivery POP3 has not shown yet: awaited (as the
    # model's count then) once no session of the scenario holds the mailbox.
    pending: set[int] = field(default_factory=set)
