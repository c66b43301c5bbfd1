"""The ``none`` provisioner: the mailbox content is unknown and cannot be set."""

from __future__ import annotations

from collections.abc import Sequence

from conformance.messages import Message
from conformance.provision.interface import Defaults, ProvisionError


class NoProvisioner(Defaults):
    """Scenarios that need known content come out ``unsupported`` with :attr:`reason`."""

    kind = "none"
    reason = "no provisioner: the target's mailbox content is unknown"

    def seed(self, user: str, messages: Sequence[Message]) -> None:
        raise ProvisionError(self.reason)

    def clear(self, user: str) -> None:
        raise ProvisionError(self.reason)

    def deliver(self, user: str, message: Message) -> None:
        raise ProvisionError(self.reason)
