"""Provisioners: putting known messages into a target's mailbox, or learning what is there.

Many checks need to know what the mailbox holds ([MB] in the requirement
catalog).  A provisioner replaces a mailbox's content with a corpus before a
scenario runs.  The kinds, by their spec string (``--provision`` or the
``[provision]`` table of a profile), one module each:

``lmtp:HOST:PORT``, ``lmtp:/path/to/socket``, ``smtp:HOST:PORT`` (:mod:`.smtp`)
    delivery through the mail system (RFC 2033, RFC 5321), no file-system
    access; a mailbox is cleared through POP3 (DELE all, QUIT), only on
    accounts declared disposable (:mod:`.mail_system`).
``imap:HOST:PORT`` (:mod:`.imap`)
    APPEND into INBOX with the target's accounts; cleared with EXPUNGE.
``existing``, ``existing:DELIVERER`` (:mod:`.existing`)
    nothing is seeded: the mail already there is learned in read-only
    sessions; with a deliverer, what destructive scenarios remove is put back.
``maildir:DIR/{user}`` (:mod:`.maildir`)
    a Maildir per user; the messages go into ``new/``, in order.
``mbox:PATH/{user}`` (:mod:`.mbox`)
    one mbox file per user (mboxrd quoting, a dot-lock while writing).
``exec`` or ``exec:`` (:mod:`.commands`)
    the server's own tools, run without a shell: ``seed_cmd`` with ``{user}``
    and ``{file}`` (called once per message, in order) and ``clear_cmd`` with
    ``{user}``, e.g. ``doveadm save -u {user} -m INBOX {file}``.
``none`` (:mod:`.none`)
    the content is unknown; scenarios that need a known mailbox are skipped.

Files are written with LF line ends (:meth:`Message.as_lf`), as a local
delivery agent would; the server turns them into CRLF on the wire.  Every
provisioner can also :meth:`~Provisioner.deliver` one message after those
there (the ``deliver`` scenario step), except ``none`` and a bare ``existing``.
"""

from __future__ import annotations

from conformance.provision.commands import ExecProvisioner
from conformance.provision.existing import ExistingMail
from conformance.provision.imap import ImapDeliverer
from conformance.provision.interface import (
    Deliverer,
    Listing,
    MailboxAccess,
    Provisioner,
    ProvisionError,
    Reading,
    Refused,
)
from conformance.provision.mail_system import MailSystemProvisioner
from conformance.provision.maildir import MaildirProvisioner
from conformance.provision.mbox import MBOX_SEPARATOR, MboxProvisioner, mbox_entry
from conformance.provision.none import NoProvisioner
from conformance.provision.options import DeliveryOptions, parse_address
from conformance.provision.smtp import SmtpDeliverer

__all__ = [
    "MBOX_SEPARATOR",
    "SPEC_FORMS",
    "Deliverer",
    "DeliveryOptions",
    "ExecProvisioner",
    "ExistingMail",
    "Listing",
    "MailSystemProvisioner",
    "MailboxAccess",
    "MaildirProvisioner",
    "MboxProvisioner",
    "NoProvisioner",
    "ProvisionError",
    "Provisioner",
    "Reading",
    "Refused",
    "make_deliverer",
    "make_provisioner",
    "mbox_entry",
]

SPEC_FORMS = (
    "lmtp:HOST:PORT, lmtp:/SOCKET, smtp:HOST:PORT, imap:HOST:PORT, existing[:DELIVERER], "
    "maildir:DIR/{user}, mbox:PATH/{user}, exec (with seed and clear commands), none"
)
DELIVERER_KINDS = ("lmtp", "smtp", "imap")


def make_deliverer(spec: str, options: DeliveryOptions) -> Deliverer:
    """``lmtp:...``, ``smtp:...`` or ``imap:...`` as a :class:`Deliverer`."""
    kind, sep, rest = spec.partition(":")
    kind = kind.strip().lower()
    if kind not in DELIVERER_KINDS or not sep:
        raise ValueError(f"unknown deliverer {spec!r}; accepted: lmtp:..., smtp:..., imap:...")
    address = parse_address(kind, rest, options.tls)
    if kind == "imap":
        return ImapDeliverer(address, options)
    return SmtpDeliverer(kind, address, options)


def make_provisioner(
    spec: str,
    *,
    seed_cmd: str | None = None,
    clear_cmd: str | None = None,
    timeout: float = 60.0,
    delivery: DeliveryOptions | None = None,
) -> Provisioner:
    """Build a provisioner from its spec string (see the module docstring).

    ``delivery`` configures the lmtp, smtp and imap ones (and the deliverer
    of ``existing:...``); ``timeout`` bounds each file lock or command.
    """
    kind, sep, rest = spec.partition(":")
    kind = kind.strip().lower()
    options = delivery or DeliveryOptions()
    if kind == "none" and not rest:
        return NoProvisioner()
    if kind in DELIVERER_KINDS:
        return MailSystemProvisioner(kind, make_deliverer(spec, options), options.wait)
    if kind == "existing":
        deliverer = make_deliverer(rest, options) if rest else None
        return ExistingMail(deliverer, options.wait)
    if kind in ("maildir", "mbox"):
        if not sep or not rest:
            raise ValueError(f"{kind} needs a path template: {kind}:PATH/{{user}}")
        if kind == "maildir":
            return MaildirProvisioner(rest)
        return MboxProvisioner(rest, timeout=timeout)
    if kind == "exec":
        if rest:
            raise ValueError(
                f"exec takes its commands from the seed and clear templates, not {rest!r}"
            )
        if seed_cmd is None or clear_cmd is None:
            raise ValueError("exec needs both a seed command and a clear command")
        return ExecProvisioner(seed_cmd, clear_cmd, timeout=timeout)
    raise ValueError(f"unknown provisioner {spec!r}; accepted: {SPEC_FORMS}")
