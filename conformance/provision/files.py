"""What the provisioners that write files share: safe paths, owners, LF files.

A real server reads mail as an unprivileged user, so files the harness
creates as root inside someone else's mailbox are handed to that owner; a
user name never leaves the path template's directory.
"""

from __future__ import annotations

import os
from pathlib import Path

from conformance.messages import Message
from conformance.provision.interface import ProvisionError


def user_path(template: str, user: str) -> Path:
    """``template`` with ``{user}`` filled in; a name that could escape it is refused."""
    # The user name becomes a path component: refuse anything that could
    # leave the template's directory.
    if not user or "/" in user or "\0" in user or user in (".", ".."):
        raise ProvisionError(f"user name {user!r} cannot be used in a mailbox path")
    return Path(template.replace("{user}", user))


class Owner:
    """Who new files and directories should belong to.

    A real server reads mail as an unprivileged user (Dovecot as ``mail``), so
    files we create as root inside a mailbox owned by someone else are handed
    to that owner.  Only root can give files away; anyone else keeps them.
    """

    def __init__(self, path: Path) -> None:
        self.ids: tuple[int, int] | None = None
        if os.geteuid() != 0:
            return
        for candidate in (path, path.parent):
            try:
                st = candidate.stat()
            except OSError:
                continue
            if st.st_uid != os.geteuid():
                self.ids = (st.st_uid, st.st_gid)
            return

    def give(self, path: Path) -> None:
        if self.ids is not None:
            os.chown(path, *self.ids)

    def give_fd(self, fd: int) -> None:
        if self.ids is not None:
            os.fchown(fd, *self.ids)


def makedirs(path: Path, owner: Owner) -> None:
    """mkdir -p, handing every directory it creates to ``owner``."""
    missing = []
    p = path
    while not p.exists():
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        d.mkdir(mode=0o700, exist_ok=True)
        owner.give(d)


def write_lf(path: Path, message: Message) -> None:
    """Write ``message`` with LF line ends, piece by piece (no second whole copy)."""
    with open(path, "wb") as f:
        for piece in message.lf_pieces():
            f.write(piece)


def write_new(path: str, message: Message, owner: Owner, mtime: int) -> None:
    """Create ``path`` (it must not exist) holding ``message`` with LF line ends,
    mode 0600, handed to ``owner``, modified at ``mtime``: all through one descriptor."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        for piece in message.lf_pieces():
            view = memoryview(piece)
            while view:
                view = view[os.write(fd, view) :]
        os.fchmod(fd, 0o600)  # whatever the umask
        owner.give_fd(fd)
        os.utime(fd, (mtime, mtime))
    finally:
        os.close(fd)
