"""Provisioners: putting known messages into a target's mailbox.

Many checks need to know what the mailbox holds ([MB] in the requirement
catalog).  A provisioner replaces a mailbox's content with a corpus before a
scenario runs.  The kinds, by their spec string (``--provision`` or the
``[provision]`` table of a profile):

``maildir:DIR/{user}``
    a Maildir per user; the messages go into ``new/``, in order.
``mbox:PATH/{user}``
    one mbox file per user (mboxrd quoting, a dot-lock while writing).
``exec`` (or ``exec:``)
    the server's own tools, run without a shell: ``seed_cmd`` with ``{user}``
    and ``{file}`` (called once per message, in order) and ``clear_cmd`` with
    ``{user}``, e.g. ``doveadm save -u {user} -m INBOX {file}``.
``none``
    the content is unknown; scenarios that need a known mailbox are skipped.

Files are written with LF line ends (:meth:`Message.as_lf`), as a local
delivery agent would; the server turns them into CRLF on the wire.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Protocol

from conformance.messages import Message

SPEC_FORMS = "maildir:DIR/{user}, mbox:PATH/{user}, exec (with seed and clear commands), none"
MBOX_SEPARATOR = b"From pop3-conformance@localhost Thu Jan  1 00:00:00 2026\n"
_FROM_LINE = re.compile(rb"^(>*From )", re.MULTILINE)


class ProvisionError(Exception):
    """Seeding or clearing a mailbox failed; the message says what and where."""


class Provisioner(Protocol):
    kind: str  # "maildir", "mbox", "exec" or "none"
    available: bool
    reason: str  # why it is not available ("" when it is)

    def seed(self, user: str, messages: Sequence[Message]) -> None:
        """Replace the mailbox content: clear it, then add ``messages`` in order."""
        ...

    def clear(self, user: str) -> None:
        """Remove every message from the mailbox."""
        ...


def make_provisioner(
    spec: str,
    *,
    seed_cmd: str | None = None,
    clear_cmd: str | None = None,
    timeout: float = 60.0,
) -> Provisioner:
    """Build a provisioner from its spec string (see the module docstring)."""
    kind, sep, rest = spec.partition(":")
    kind = kind.strip().lower()
    if kind == "none" and not rest:
        return NoProvisioner()
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


class NoProvisioner:
    """The mailbox content is unknown and cannot be set."""

    kind = "none"
    available = False
    reason = "no provisioner: the target's mailbox content is unknown"

    def seed(self, user: str, messages: Sequence[Message]) -> None:
        raise ProvisionError(self.reason)

    def clear(self, user: str) -> None:
        raise ProvisionError(self.reason)


# -- files on disk ---------------------------------------------------------------


def _user_path(template: str, user: str) -> Path:
    # The user name becomes a path component: refuse anything that could
    # leave the template's directory.
    if not user or "/" in user or "\0" in user or user in (".", ".."):
        raise ProvisionError(f"user name {user!r} cannot be used in a mailbox path")
    return Path(template.replace("{user}", user))


class _Owner:
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


def _makedirs(path: Path, owner: _Owner) -> None:
    """mkdir -p, handing every directory it creates to ``owner``."""
    missing = []
    p = path
    while not p.exists():
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        d.mkdir(mode=0o700, exist_ok=True)
        owner.give(d)


class MaildirProvisioner:
    """A Maildir per user: ``new/`` gets the messages, in order.

    Servers order a maildir by file name or by modification time (Dovecot
    and Courier differ), so both increase in the seeding order.
    """

    kind = "maildir"
    available = True
    reason = ""

    def __init__(self, template: str) -> None:
        if "{user}" not in template:
            raise ValueError(f"the maildir path must contain {{user}}: {template!r}")
        self.template = template

    def path(self, user: str) -> Path:
        return _user_path(self.template, user)

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
        root = self.path(user)
        self.clear(user)
        owner = _Owner(root)
        # Times in the past, one second apart: a server may ignore files with
        # an mtime in the future, and equal mtimes would leave order to chance.
        base = int(time.time()) - len(messages) - 1
        # A name is never used twice in a maildir: servers keep a uid list by
        # file name (dovecot-uidlist), and a re-seeded name that is still on
        # that list would keep its old, lower uid and be listed out of order.
        nonce = time.time_ns()
        try:
            _makedirs(root, owner)
            for sub in ("new", "cur", "tmp"):
                _makedirs(root / sub, owner)
            for i, message in enumerate(messages):
                name = f"{base + i}.N{nonce}S{i:06d}.pop3-conformance"
                tmp = root / "tmp" / name
                _write_lf(tmp, message)
                tmp.chmod(0o600)
                owner.give(tmp)
                final = root / "new" / name
                # Deliver through tmp/ as the Maildir protocol says: a server
                # scanning new/ never sees a half-written file.
                tmp.rename(final)
                os.utime(final, (base + i, base + i))
        except OSError as e:
            raise ProvisionError(f"cannot seed maildir {root}: {e}") from e


def _write_lf(path: Path, message: Message) -> None:
    """Write ``message`` with LF line ends, piece by piece (no second whole copy)."""
    with open(path, "wb") as f:
        for piece in message.lf_pieces():
            f.write(piece)


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


class MboxProvisioner:
    """One mbox file per user."""

    kind = "mbox"
    available = True
    reason = ""

    def __init__(self, template: str, *, timeout: float = 60.0) -> None:
        if "{user}" not in template:
            raise ValueError(f"the mbox path must contain {{user}}: {template!r}")
        self.template = template
        self.timeout = timeout

    def path(self, user: str) -> Path:
        return _user_path(self.template, user)

    def clear(self, user: str) -> None:
        self._write(user, b"")

    def seed(self, user: str, messages: Sequence[Message]) -> None:
        # One write replaces the content: clearing first, then appending, would
        # show a server an empty mailbox in between.
        self._write(user, b"".join(mbox_entry(m) for m in messages))

    def _write(self, user: str, content: bytes) -> None:
        path = self.path(user)
        try:
            owner = _Owner(path)
            _makedirs(path.parent, owner)
            existed = path.exists()
            with _dot_lock(path, self.timeout):
                # Truncate in place: the file keeps its inode, mode and owner.
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "wb") as f:
                    f.write(content)
            if not existed:
                owner.give(path)
        except OSError as e:
            raise ProvisionError(f"cannot write mbox {path}: {e}") from e


# -- the server's own tools -----------------------------------------------------------


class ExecProvisioner:
    """Seed and clear with commands (no shell: the templates are split like a shell would)."""

    kind = "exec"
    available = True
    reason = ""

    def __init__(self, seed_cmd: str, clear_cmd: str, *, timeout: float = 60.0) -> None:
        for name, template, needed in (
            ("seed", seed_cmd, ("{user}", "{file}")),
            ("clear", clear_cmd, ("{user}",)),
        ):
            missing = [p for p in needed if p not in template]
            if missing:
                raise ValueError(
                    f"the {name} command must contain {' and '.join(missing)}: {template!r}"
                )
            if not shlex.split(template):
                raise ValueError(f"the {name} command is empty")
        self.seed_cmd = seed_cmd
        self.clear_cmd = clear_cmd
        self.timeout = timeout

    def clear(self, user: str) -> None:
        self._run(self.clear_cmd, user=user)

    def seed(self, user: str, messages: Sequence[Message]) -> None:
        self.clear(user)
        with tempfile.TemporaryDirectory(prefix="pop3-conformance-") as d:
            # Readable by others: a seed command may drop privileges (doveadm
            # runs as the mail user) and must still read the file.
            os.chmod(d, 0o755)
            for i, message in enumerate(messages):
                file = Path(d) / f"{i:06d}-{message.name}.eml"
                _write_lf(file, message)
                file.chmod(0o644)
                self._run(self.seed_cmd, user=user, file=str(file))

    def _run(self, template: str, **values: str) -> None:
        # Split first, substitute after: a user or file name with spaces stays
        # one argument, and nothing is ever interpreted by a shell.
        argv = []
        for arg in shlex.split(template):
            for key, value in values.items():
                arg = arg.replace("{" + key + "}", value)
            argv.append(arg)
        shown = shlex.join(argv)
        try:
            done = subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=self.timeout,
                check=False,
            )
        except FileNotFoundError as e:
            raise ProvisionError(f"{shown}: command not found ({e})") from e
        except subprocess.TimeoutExpired as e:
            raise ProvisionError(f"{shown}: no result within {self.timeout:g} s") from e
        except OSError as e:
            raise ProvisionError(f"{shown}: {e}") from e
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).decode("utf-8", "replace").strip()[-500:]
            raise ProvisionError(
                f"{shown}: exit status {done.returncode}" + (f": {tail}" if tail else "")
            )
