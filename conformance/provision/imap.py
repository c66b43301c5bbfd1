"""Delivery through IMAP APPEND into INBOX (RFC 9051), with the standard library's imaplib.

This is how imaptest fills mailboxes.  It logs in with the target's own
accounts (IMAP and POP3 share them on every server that offers both), over
plain TCP, STARTTLS or implicit TLS.  It can also clear a mailbox: every
message of INBOX flagged ``\\Deleted``, then EXPUNGE.  APPEND answers once the
message is stored, so messages arrive in the order sent.
"""

from __future__ import annotations

import contextlib
import imaplib
from collections.abc import Iterator, Sequence

from conformance.messages import Message
from conformance.provision.interface import MailboxAccess, ProvisionError, Refused
from conformance.provision.options import Address, DeliveryOptions
from conformance.secrets import Secrets
from conformance.transport import ConnectError


class ImapDeliverer:
    synchronous = True

    def __init__(self, address: Address, options: DeliveryOptions) -> None:
        if address.port is None:
            raise ValueError("imap needs HOST:PORT, not a socket path")
        if options.auth_user is not None:
            raise ValueError("imap logs in with the target's accounts; SMTP AUTH does not apply")
        self.address = address
        self.options = options
        self.spec = f"imap:{address}"
        self._access: MailboxAccess | None = None

    def prepare(self, access: MailboxAccess, users: Sequence[str]) -> None:
        self._access = access
        # Reachable, and every account it will deliver to logs in.
        for user in users:
            with self._session(user, unreachable=ConnectError):
                pass

    @contextlib.contextmanager
    def _session(
        self, user: str, unreachable: type[Exception] = ProvisionError
    ) -> Iterator[imaplib.IMAP4]:
        if self._access is None:
            raise ProvisionError(f"{self.spec}: not prepared (the run prepares it before use)")
        o, a = self.options, self.address
        port = a.port or 0
        try:
            client = (
                imaplib.IMAP4_SSL(a.host, port, ssl_context=o.context(), timeout=o.timeout)
                if o.tls == "implicit"
                else imaplib.IMAP4(a.host, port, timeout=o.timeout)
            )
        except (TimeoutError, OSError, imaplib.IMAP4.error) as e:
            raise unreachable(f"deliverer {self.spec} is unreachable: {self._why(e)}") from e
        step = "STARTTLS"
        try:
            if o.tls == "starttls":
                client.starttls(ssl_context=o.context())
            step = f"login as account {user!r}"
            client.login(user, self._access.password(user))
        except (OSError, imaplib.IMAP4.error) as e:
            with contextlib.suppress(OSError, imaplib.IMAP4.error):
                client.shutdown()
            raise ProvisionError(f"{self.spec}: {step} failed: {self._why(e)}") from e
        try:
            yield client
        except (OSError, imaplib.IMAP4.error) as e:
            raise ProvisionError(f"{self.spec}, account {user!r}: {self._why(e)}") from e
        finally:
            with contextlib.suppress(OSError, imaplib.IMAP4.error):
                client.logout()

    def _why(self, e: BaseException) -> str:
        secrets = self.options.secrets()
        if self._access is not None:
            secrets += [self._access.password(u) for u in self._access.users()]
        return Secrets(secrets).scrub(str(e) or e.__class__.__name__)

    def deliver(self, user: str, messages: Sequence[Message]) -> None:
        with self._session(user) as client:
            for message in messages:
                status, data = client.append("INBOX", "", None, message.data)
                if status != "OK":
                    raise (Refused if status == "NO" else ProvisionError)(
                        f"{self.spec} did not APPEND message {message.name} for account "
                        f"{user!r}: {status} {data!r}"
                    )

    def expunge(self, user: str) -> bool:
        with self._session(user) as client:
            status, data = client.select("INBOX")
            if status != "OK":
                raise ProvisionError(f"{self.spec}: SELECT INBOX of account {user!r}: {data!r}")
            exists = int(data[0] or b"0") if data and isinstance(data[0], bytes) else 0
            if exists:
                client.store("1:*", "+FLAGS.SILENT", "(\\Deleted)")
                client.expunge()
            client.close()
        return True

    def secrets(self) -> list[str]:
        return self.options.secrets()

    def describe(self) -> dict[str, object]:
        return {"deliverer": self.spec, "tls": self.options.tls}
