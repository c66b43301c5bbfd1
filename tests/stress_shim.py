"""``python -m tests.stress_shim ARGS``: ``pop3-conformance stress ARGS`` with deliveries.

Test-only.  ``Provisioner.deliver(user, message)`` (one message appended,
nothing cleared) is being added on another branch; until it lands, this shim
gives the maildir and exec provisioners a ``deliver`` of their own, so that
the tests can run the stress tasks that deliver mail (and find the defect
that loses it).  Once the real one is there, provisioners that already have
``deliver`` are left alone.

Like ``python -m conformance.stress``, it lets gevent patch before anything
else is imported.
"""

from gevent import monkey

monkey.patch_all()

import itertools  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from conformance import provision, target_flags  # noqa: E402
from conformance.cli import main  # noqa: E402
from conformance.messages import Message  # noqa: E402

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


_original = target_flags.make_provisioner


def _delivering(spec: str, **kwargs: Any) -> provision.Provisioner:
    made = _original(spec, **kwargs)
    if callable(getattr(made, "deliver", None)):
        return made
    if isinstance(made, provision.MaildirProvisioner):
        made.__class__ = DeliveringMaildir
    elif isinstance(made, provision.ExecProvisioner):
        made.__class__ = DeliveringExec
    return made


target_flags.make_provisioner = _delivering  # type: ignore[assignment]

if __name__ == "__main__":
    sys.exit(main(["stress", *sys.argv[1:]]))
