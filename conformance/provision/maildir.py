"""The ``maildir:DIR/{user}`` provisioner: one file per message in ``new/``."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path

from conformance.messages import Message
from conformance.provision.files import Owner, makedirs, user_path, write_lf
from conformance.provision.interface import OwnStore, ProvisionError


class MaildirProvisioner(OwnStore):
    """A Maildir per user: ``new/`` gets the messages, in order.

    Servers order a maildir by file name or by modification time (Dovecot
    and Courier differ), so both increase in the seeding order.
    """

    kind = "maildir"

    def __init__(self, template: str) -> None:
        if "{user}" not in template:
            raise ValueError(f"the maildir path must contain {{user}}: {template!r}")
        self.template = template

    def path(self, user: str) -> Path:
        return user_path(self.template, user)

    def clear(self, user: str) -> None:
        root = self.path(user)
        try:
            for sub in ("new", "cur", "tmp"):
                d = root / sub
                if not d.is_dir():
                    continue
                for entry in d.iterdir():
                    if entry.is_file() or entry.is_symlink():
                        entry.unlink()
        except OSError as e:
            raise ProvisionError(f"cannot clear maildir {root}: {e}") from e

    def seed(self, user: str, messages: Sequence[Message]) -> None:
        self.clear(user)
        # Times in the past, one second apart: a server may ignore files with
        # an mtime in the future, and equal mtimes would leave order to chance.
        self._write(user, messages, int(time.time()) - len(messages) - 1, "seed")

    def deliver(self, user: str, message: Message) -> None:
        # Now: later than every seeded file (their times end two seconds ago),
        # in name and in mtime, so the message is listed after them.
        self._write(user, [message], int(time.time()), "deliver into")

    def _write(self, user: str, messages: Sequence[Message], base: int, verb: str) -> None:
        root = self.path(user)
        owner = Owner(root)
        # A name is never used twice in a maildir: servers keep a uid list by
        # file name (dovecot-uidlist), and a re-seeded name that is still on
        # that list would keep its old, lower uid and be listed out of order.
        nonce = time.time_ns()
        try:
            makedirs(root, owner)
            for sub in ("new", "cur", "tmp"):
                makedirs(root / sub, owner)
            for i, message in enumerate(messages):
                name = f"{base + i}.N{nonce}S{i:06d}.pop3-conformance"
                tmp = root / "tmp" / name
                write_lf(tmp, message)
                tmp.chmod(0o600)
                owner.give(tmp)
                final = root / "new" / name
                # Deliver through tmp/ as the Maildir protocol says: a server
                # scanning new/ never sees a half-written file.
                tmp.rename(final)
                os.utime(final, (base + i, base + i))
        except OSError as e:
            raise ProvisionError(f"cannot {verb} maildir {root}: {e}") from e
