"""How to reach a deliverer: its address, TLS, credentials, recipients and patience.

The spec strings name the way in (``lmtp:HOST:PORT``, ``lmtp:/run/lmtp``,
``smtp:HOST:PORT``, ``imap:HOST:PORT``); :class:`DeliveryOptions` carries the
rest, from the command line or a profile's ``[provision]`` table.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from typing import Final

from conformance.tls import make_client_context

TLS_MODES: Final = ("none", "starttls", "implicit")
DEFAULT_PORTS: Final = {
    ("lmtp", "none"): 24,
    ("lmtp", "starttls"): 24,
    ("smtp", "none"): 25,
    ("smtp", "starttls"): 587,
    ("smtp", "implicit"): 465,
    ("imap", "none"): 143,
    ("imap", "starttls"): 143,
    ("imap", "implicit"): 993,
}
# Seconds a delivered message may take to show in POP3 (an MTA queue).
DEFAULT_WAIT: Final = 30.0


@dataclass(frozen=True)
class DeliveryOptions:
    tls: str = "none"  # none | starttls | implicit (smtp and imap)
    tls_ca: str | None = None  # CA bundle; None: the system's
    tls_insecure: bool = False  # do not verify the deliverer's certificate
    recipient: str = "{user}"  # envelope recipient of an account (lmtp, smtp)
    sender: str = "pop3-conformance@localhost"  # envelope sender (lmtp, smtp)
    auth_user: str | None = None  # SMTP AUTH (lmtp, smtp)
    auth_password: str | None = field(default=None, repr=False)
    timeout: float = 60.0  # seconds per command to the deliverer
    wait: float = DEFAULT_WAIT

    def __post_init__(self) -> None:
        # Error messages never repeat the password.
        if self.tls not in TLS_MODES:
            raise ValueError(f"bad TLS mode {self.tls!r}: expected one of {', '.join(TLS_MODES)}")
        if "{user}" not in self.recipient:
            raise ValueError(f"the recipient template must contain {{user}}: {self.recipient!r}")
        if (self.auth_user is None) != (self.auth_password is None):
            raise ValueError("SMTP AUTH needs both a user and a password")
        if self.timeout <= 0 or self.wait <= 0:
            raise ValueError("delivery timeouts must be positive numbers of seconds")

    def recipient_of(self, user: str) -> str:
        return self.recipient.replace("{user}", user)

    def context(self) -> ssl.SSLContext:
        return make_client_context(self.tls_ca, self.tls_insecure)

    def secrets(self) -> list[str]:
        return [self.auth_password] if self.auth_password else []


@dataclass(frozen=True)
class Address:
    """Where a deliverer listens: a host and port, or (LMTP) a Unix socket path."""

    host: str
    port: int | None = None  # None: a Unix socket at ``host``

    def __str__(self) -> str:
        if self.port is None:
            return self.host
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def parse_address(kind: str, text: str, tls: str) -> Address:
    """``HOST:PORT``, ``HOST`` (the kind's usual port), ``[V6]:PORT``, or for lmtp ``/SOCKET``."""
    if not text:
        raise ValueError(f"{kind} needs an address: {kind}:HOST:PORT")
    if text.startswith("/"):
        if kind != "lmtp":
            raise ValueError(f"only lmtp takes a Unix socket path, not {kind}")
        return Address(text)
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise ValueError(f"bad address {text!r}: expected [IPV6]:PORT")
        port_text = rest[1:]
    else:
        host, _, port_text = text.rpartition(":") if ":" in text else (text, "", "")
    if not host:
        raise ValueError(f"bad address {text!r}: the host is empty")
    if not port_text:
        default = DEFAULT_PORTS.get((kind, tls))
        if default is None:
            raise ValueError(f"{kind} does not offer {tls} TLS")
        return Address(host, default)
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ValueError(f"bad port {port_text!r} in {text!r}: expected 1 to 65535")
    return Address(host, int(port_text))
