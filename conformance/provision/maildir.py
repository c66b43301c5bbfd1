"""The ``maildir:DIR/{user}`` provisioner: one file per message in ``new/``."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path

from conformance.messages import Message
from conformance.provision.files import Owner, makedirs, user_path, write_new
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
        root = os.fspath(self.path(user))
        try:
            for sub in ("new", "cur", "tmp"):
                d = os.path.join(root, sub)
                if not os.path.isdir(d):
                    continue
                with os.scandir(d) as entries:
                    for entry in entries:
                        if entry.is_file() or entry.is_symlink():
                            os.unlink(entry.path)
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
            # Plain strings and descriptors from here: an exploration seeds
            # before every example, and path objects cost more than the writes.
            tmp_dir, new_dir = os.path.join(root, "tmp"), os.path.join(root, "new")
            for i, message in enumerate(messages):
                name = f"{base + i}.N{nonce}S{i:06d}.pop3-conformance"
                tmp = os.path.join(tmp_dir, name)
                write_new(tmp, message, owner, base + i)
                # Deliver through tmp/ as the Maildir protocol says: a server
                # scanning new/ never sees a half-written file.
                os.rename(tmp, os.path.join(new_dir, name))
        except OSError as e:
            raise ProvisionError(f"cannot {verb} maildir {root}: {e}") from e
