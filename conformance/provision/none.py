"""The ``none`` provisioner: the mailbox content is unknown and cannot be set."""

from __future__ import annotations

from collections.abc import Sequence

from conformance.messages import Message
from conformance.provision.interface import MailboxAccess, ProvisionError
from conformance.provision.options import DEFAULT_WAIT


class NoProvisioner:
    """Scenarios that need known content come out ``unsupported`` with :attr:`reason`."""

    kind = "none"
    available = False
    reason = "no provisioner: the target's mailbox content is unknown"
    owns_store = False
    rewrites = False
    can_deliver = False
    wait = DEFAULT_WAIT

    def prepare(self, access: MailboxAccess) -> None:
        return None

    def seed(self, user: str, messages: Sequence[Message]) -> None:
        raise ProvisionError(self.reason)

    def clear(self, user: str) -> None:
        raise ProvisionError(self.reason)

    def deliver(self, user: str, message: Message) -> None:
        raise ProvisionError(self.reason)

    def secrets(self) -> list[str]:
        return []

    def describe(self) -> dict[str, object]:
        return {"kind": self.kind}
