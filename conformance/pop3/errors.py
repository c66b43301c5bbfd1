"""Who broke the protocol (h11's split).

A :class:`RemoteProtocolError` is the server's fault and names the
requirement it broke: a check grades it (``fail``, or ``info`` where the RFC
permits it).  A :class:`LocalProtocolError` is the harness's or the
scenario's: a command line it cannot send, a read with nothing to read, a
connection used after it died.  It becomes an ``error``, never a server's fail.
"""

from __future__ import annotations


class ProtocolError(Exception):
    pass


class LocalProtocolError(ProtocolError):
    """The harness or the scenario broke a rule of its own side."""


class RemoteProtocolError(ProtocolError):
    """The server broke a rule; ``requirement`` is the one it broke."""

    def __init__(self, requirement: str, message: str) -> None:
        super().__init__(message)
        self.requirement = requirement
