"""The reference server's settings, in one frozen dataclass.

Everything a connection needs to know about the server (accounts, where the
mail is, timers) comes from here, so that tests can build a server in-process
and the CLI only has to fill this in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

USER_PLACEHOLDER: Final = "{user}"
DEFAULT_AUTOLOGOUT: Final = 600.0  # RFC 1939 section 3: at least 10 minutes
IMPLEMENTATION: Final = "pop3-conformance-reference"


@dataclass(frozen=True)
class ServerConfig:
    """How the reference server runs.

    ``maildir_template`` holds ``{user}``, e.g. ``/srv/mail/{user}``: each
    account's maildrop is the maildir at that path.  ``defects`` names faults to
    inject on purpose (reserved: the correct server knows none yet), so that the
    harness can be shown to catch them.
    """

    maildir_template: str
    accounts: dict[str, str] = field(default_factory=dict, repr=False)  # user -> password
    # Mailboxes reached with APOP and not with USER/PASS.  RFC 1939 section 13:
    # "for a given mailbox name, either the USER/PASS command sequence or the
    # APOP command is allowed, but not both."  The others take USER/PASS only.
    apop_users: frozenset[str] = frozenset()
    host: str = "127.0.0.1"
    port: int = 0
    autologout: float = DEFAULT_AUTOLOGOUT
    defects: frozenset[str] = frozenset()
    # Behaviours the RFCs permit (conformance.server.behaviours), adopted on request.
    behaviours: frozenset[str] = frozenset()
    # TLS: a PEM certificate chain and its key enable STLS on the main port
    # (RFC 2595) and, with implicit_tls_port, a port where TLS starts at
    # connect (RFC 8314 section 3.1; 0 picks a free port).
    tls_cert: str | None = None
    tls_key: str | None = None
    implicit_tls_port: int | None = None
    # RFC 2595 section 2.2's "privacy operational mode": no login of any kind
    # (USER/PASS, APOP, AUTH) until TLS is active.
    refuse_plaintext_auth: bool = False
    # LOGIN-DELAY (RFC 2449 section 6.5): seconds between two logins to one
    # maildrop, advertised in CAPA when above 0 and enforced unless
    # login_delay_enforced is off (a server that only advertises it).
    login_delay: int = 0
    login_delay_enforced: bool = True

    def __post_init__(self) -> None:
        if USER_PLACEHOLDER not in self.maildir_template:
            raise ValueError(f"maildir template must contain {USER_PLACEHOLDER}")
        if self.autologout <= 0:
            raise ValueError("autologout must be positive")
        if self.login_delay < 0:
            raise ValueError("login delay must not be negative")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("a TLS certificate and its key go together")
        if self.tls_cert is None and self.implicit_tls_port is not None:
            raise ValueError("an implicit TLS port needs a TLS certificate and key")
        if self.tls_cert is None and self.refuse_plaintext_auth:
            # Nobody could ever log in.
            raise ValueError("refusing plaintext logins needs a TLS certificate and key")

    @property
    def tls(self) -> bool:
        """Whether TLS is configured (STLS is offered)."""
        return self.tls_cert is not None

    def maildir_for(self, user: str) -> Path:
        # str.replace, not str.format: a path may hold other braces.
        return Path(self.maildir_template.replace(USER_PLACEHOLDER, user))
