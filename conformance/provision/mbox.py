"""The ``mbox:PATH/{user}`` provisioner: one mbox file per user, written under its dot-lock."""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from conformance.messages import Message
from conformance.provision.files import Owner, makedirs, user_path
from conformance.provision.interface import OwnStore, ProvisionError

MBOX_SEPARATOR = b"From pop3-conformance@localhost Thu Jan  1 00:00:00 2026\n"
_FROM_LINE = re.compile(rb"^(>*From )", re.MULTILINE)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def _dot_lock(path: Path, timeout: float) -> Iterator[None]:
    """Hold ``PATH.lock`` the way mail tools do (link(2) of a file holding our pid).

    Mailutils holds this lock for a whole POP3 session and rewrites the mbox
    when the session ends; writing under the lock keeps a seed from racing
    that rewrite.  A lock whose pid is dead is stale and removed.  If the
    directory is not writable for us, we proceed without a lock.
    """
    lock = path.with_name(path.name + ".lock")
    mine = path.with_name(f"{path.name}.lock.{os.getpid()}.{time.monotonic_ns()}")
    try:
        mine.write_text(f"{os.getpid()}\n")
    except PermissionError:
        yield
        return
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                os.link(mine, lock)
                break
            except FileExistsError:
                pass
            try:
                holder = lock.read_text().strip()
            except FileNotFoundError:
                continue
            if holder.isdigit() and not _pid_alive(int(holder)):
                lock.unlink(missing_ok=True)
                continue
            if time.monotonic() > deadline:
                raise ProvisionError(
                    f"{path} is locked by pid {holder or '?'} (an open POP3 session?) "
                    f"for more than {timeout:g} s"
                )
            time.sleep(0.05)
    finally:
        mine.unlink(missing_ok=True)
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)


def mbox_entry(message: Message) -> bytes:
    """One mbox entry: separator, the message with mboxrd quoting, an empty line."""
    # mboxrd: every line matching ^>*From gets one more ">", so that a reader
    # removes exactly one and the content round-trips.
    body = _FROM_LINE.sub(rb">\1", message.as_lf())
    if not body.endswith(b"\n"):
        body += b"\n"
    return MBOX_SEPARATOR + body + b"\n"


class MboxProvisioner(OwnStore):
    """One mbox file per user."""

    kind = "mbox"

    def __init__(self, template: str, *, timeout: float = 60.0) -> None:
        if "{user}" not in template:
            raise ValueError(f"the mbox path must contain {{user}}: {template!r}")
        self.template = template
        self.timeout = timeout

    def path(self, user: str) -> Path:
        return user_path(self.template, user)

    def clear(self, user: str) -> None:
        self._write(user, b"", truncate=True)

    def seed(self, user: str, messages: Sequence[Message]) -> None:
        # One write replaces the content: clearing first, then appending, would
        # show a server an empty mailbox in between.
        self._write(user, b"".join(mbox_entry(m) for m in messages), truncate=True)

    def deliver(self, user: str, message: Message) -> None:
        self._write(user, mbox_entry(message), truncate=False)

    def _write(self, user: str, content: bytes, *, truncate: bool) -> None:
        path = self.path(user)
        try:
            owner = Owner(path)
            makedirs(path.parent, owner)
            existed = path.exists()
            with _dot_lock(path, self.timeout):
                # In place: the file keeps its inode, mode and owner.
                how = os.O_TRUNC if truncate else os.O_APPEND
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | how, 0o600)
                with os.fdopen(fd, "wb") as f:
                    f.write(content)
            if not existed:
                owner.give(path)
        except OSError as e:
            raise ProvisionError(f"cannot write mbox {path}: {e}") from e
