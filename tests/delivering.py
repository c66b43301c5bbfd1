"""Test-only: ``deliver(user, message)`` for the maildir and exec provisioners.

``Provisioner.deliver`` (one message appended, nothing cleared) is being
added on another branch.  Until it lands, the stress tests give the two
provisioners they use a ``deliver`` of their own with :func:`delivering`;
a provisioner that already has one is left alone.
"""

from __future__ import annotations

import itertools
import os
import tempfile
import time
from pathlib import Path

from conformance import provision
from conformance.messages import Message

_serial = itertools.count()


class DeliveringMaildir(provision.MaildirProvisioner):
    def deliver(self, user: str, message: Message) -> None:
        root = self.path(user)
        name = f"{int(time.time())}.N{time.time_ns()}D{next(_serial)}.{os.getpid()}.stress"
        tmp = root / "tmp" / name
        tmp.parent.mkdir(parents=True, exist_ok=True)
        (root / "new").mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(message.as_lf())
        tmp.rename(root / "new" / name)


class DeliveringExec(provision.ExecProvisioner):
    def deliver(self, user: str, message: Message) -> None:
        with tempfile.TemporaryDirectory(prefix="pop3-stress-") as folder:
            os.chmod(folder, 0o755)
            path = Path(folder) / "message.eml"
            path.write_bytes(message.as_lf())
            path.chmod(0o644)
            self._run(self.seed_cmd, user=user, file=str(path))


def delivering(made: provision.Provisioner) -> provision.Provisioner:
    """``made``, able to deliver one message (maildir and exec)."""
    if callable(getattr(made, "deliver", None)):
        return made
    if isinstance(made, provision.MaildirProvisioner):
        made.__class__ = DeliveringMaildir
    elif isinstance(made, provision.ExecProvisioner):
        made.__class__ = DeliveringExec
    return made
