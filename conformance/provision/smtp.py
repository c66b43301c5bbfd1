"""Delivery through LMTP (RFC 2033) or SMTP (RFC 5321), with the standard library's smtplib.

One recipient per transaction: an LMTP server answers DATA once per accepted
recipient, so with one the reply to DATA is that recipient's own, and it is
checked like the RCPT reply.  The message goes out as it is in the corpus
(CRLF line ends; smtplib adds the dot-stuffing), with ``BODY=8BITMIME`` when
it has 8-bit octets and ``SMTPUTF8`` when its header does, where offered.
"""

from __future__ import annotations

import smtplib
from collections.abc import Sequence

from conformance.messages import Message
from conformance.provision.interface import MailboxAccess, ProvisionError, Refused
from conformance.provision.options import Address, DeliveryOptions
from conformance.secrets import Secrets
from conformance.transport import ConnectError

# What smtplib raises when the peer is not there, goes away or goes quiet.
_GONE = (OSError, smtplib.SMTPConnectError, smtplib.SMTPServerDisconnected)


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply


class SmtpDeliverer:
    """``lmtp:`` or ``smtp:``: the same dialogue, LHLO instead of EHLO."""

    def __init__(self, kind: str, address: Address, options: DeliveryOptions) -> None:
        if kind not in ("lmtp", "smtp"):
            raise ValueError(f"not an SMTP kind: {kind!r}")
        if kind == "lmtp" and options.tls == "implicit":
            raise ValueError("lmtp has no implicit TLS; use tls = starttls or none")
        if address.port is None and options.tls != "none":
            raise ValueError("TLS over a Unix socket makes no sense: use tls = none")
        self.kind = kind
        self.address = address
        self.options = options
        self.spec = f"{kind}:{address}"
        # LMTP answers DATA once the message is stored; an SMTP relay queues it.
        self.synchronous = kind == "lmtp"

    # -- the connection ---------------------------------------------------------
    def _open(self) -> smtplib.SMTP:
        """Connected, greeted, secured and authenticated; ConnectError if it cannot be reached."""
        o, a = self.options, self.address
        try:
            client: smtplib.SMTP
            if self.kind == "lmtp":
                # smtplib.LMTP connects to a Unix socket when the host is a path.
                client = smtplib.LMTP(a.host, a.port or 0, timeout=o.timeout)
            elif o.tls == "implicit":
                client = smtplib.SMTP_SSL(
                    a.host, a.port or 0, timeout=o.timeout, context=o.context()
                )
            else:
                client = smtplib.SMTP(a.host, a.port or 0, timeout=o.timeout)
        except (TimeoutError, *_GONE) as e:
            raise ConnectError(f"deliverer {self.spec} is unreachable: {e}") from e
        try:
            client.ehlo_or_helo_if_needed()
            if o.tls == "starttls":
                client.starttls(context=o.context())
                client.ehlo()
            if o.auth_user is not None and o.auth_password is not None:
                client.login(o.auth_user, o.auth_password)
        except smtplib.SMTPAuthenticationError as e:
            client.close()
            raise ProvisionError(
                f"{self.spec} refused SMTP AUTH as {o.auth_user!r}: {self._why(e)}"
            ) from e
        except (smtplib.SMTPException, OSError) as e:
            client.close()
            raise ConnectError(f"deliverer {self.spec}: {self._why(e)}") from e
        return client

    def _why(self, e: BaseException) -> str:
        return Secrets(self.secrets()).scrub(str(e) or e.__class__.__name__)

    @staticmethod
    def _quit(client: smtplib.SMTP) -> None:
        try:
            client.quit()
        except (smtplib.SMTPException, OSError):
            client.close()

    # -- the protocol ---------------------------------------------------------------
    def prepare(self, access: MailboxAccess, users: Sequence[str]) -> None:
        client = self._open()
        try:
            for user in users:
                self._mail_from(client, user, [])
                self._rcpt(client, user)
                client.rset()
        except smtplib.SMTPException as e:
            raise ProvisionError(f"{self.spec}: {self._why(e)}") from e
        finally:
            self._quit(client)

    def deliver(self, user: str, messages: Sequence[Message]) -> None:
        try:
            client = self._open()
        except ConnectError as e:
            raise ProvisionError(f"account {user!r}: {e}") from e
        try:
            for message in messages:
                self._mail_from(client, user, self._body_options(client, message))
                self._rcpt(client, user)
                code, reply = client.data(message.data)
                if code != 250:
                    raise (Refused if 500 <= code < 600 else ProvisionError)(
                        f"{self.spec} did not take message {message.name} for account "
                        f"{user!r}: {code} {_text(reply)}"
                    )
        except (smtplib.SMTPException, OSError) as e:
            raise ProvisionError(
                f"{self.spec}: delivery to account {user!r} failed: {self._why(e)}"
            ) from e
        finally:
            self._quit(client)

    def _body_options(self, client: smtplib.SMTP, message: Message) -> list[str]:
        head = message.header_block
        options = []
        if client.has_extn("8bitmime") and not message.data.isascii():
            options.append("BODY=8BITMIME")
        if client.has_extn("smtputf8") and not head.isascii():
            options.append("SMTPUTF8")
        return options

    def _mail_from(self, client: smtplib.SMTP, user: str, options: list[str]) -> None:
        code, reply = client.mail(self.options.sender, options)
        if code != 250:
            raise ProvisionError(
                f"{self.spec} refused MAIL FROM:<{self.options.sender}> "
                f"(for account {user!r}): {code} {_text(reply)}"
            )

    def _rcpt(self, client: smtplib.SMTP, user: str) -> None:
        recipient = self.options.recipient_of(user)
        code, reply = client.rcpt(recipient)
        if code not in (250, 251):
            raise ProvisionError(
                f"{self.spec} rejected recipient <{recipient}> of account {user!r}: "
                f"{code} {_text(reply)}"
            )

    def expunge(self, user: str) -> bool:
        return False  # LMTP and SMTP only add mail

    def secrets(self) -> list[str]:
        return self.options.secrets()

    def describe(self) -> dict[str, object]:
        return {
            "deliverer": self.spec,
            "tls": self.options.tls,
            "recipient": self.options.recipient,
            "auth_user": self.options.auth_user,
        }
