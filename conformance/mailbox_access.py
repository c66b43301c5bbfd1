"""The target's mailboxes through POP3, for the provisioners that go through the mail system.

:class:`Pop3Access` is the :class:`~conformance.provision.MailboxAccess` the
lmtp, smtp, imap and existing provisioners are handed before a run: it counts
a mailbox's messages (and waits for a delivery to show), removes them with
DELE and QUIT, and reads them in read-only sessions, each in a session of
its own, logged in the way the scenarios log in.  :func:`prepare_target` is
the start of every run: probe the server, then let the provisioner check its
way in and learn what it needs.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence

from conformance.calibration import CalibrationError, read_stable
from conformance.login import LoginError, logged_in
from conformance.pop3 import parse_scan_line, parse_stat, parse_uid_line
from conformance.probe import ServerProfile, probe_target
from conformance.provision import Listing, ProvisionError, Reading
from conformance.target import Account, Target, secrets_of
from conformance.transcript import Transcript
from conformance.transport import ConnectError, Session

# Seconds a login may be refused before the account counts as unreachable:
# a server may release a mailbox lock a little after its session ended.
LOCK_PATIENCE = 15.0
POLL_S = 0.2


def prepare_target(target: Target) -> ServerProfile:
    """Probe the server, then prepare its provisioner; ConnectError if either is unreachable."""
    profile = probe_target(target)
    prepare_provisioner(target, profile)
    return profile


def prepare_provisioner(target: Target, profile: ServerProfile) -> None:
    """Let the provisioner check its way in and learn what it needs (before any scenario)."""
    target.provisioner.prepare(Pop3Access(target, profile))


class Pop3Access:
    def __init__(self, target: Target, profile: ServerProfile) -> None:
        self.target = target
        self.profile = profile

    def _account(self, user: str) -> Account:
        for account in self.target.accounts:
            if account.user == user:
                return account
        raise ProvisionError(f"no account {user!r} in the target")

    def _fail(self, user: str, what: str, error: BaseException) -> ProvisionError:
        return ProvisionError(f"account {user!r}: {what}: {error}")

    def _open(self, user: str) -> contextlib.AbstractContextManager[Session]:
        # The transcript only redacts: these sessions are the harness's own
        # housekeeping, and their failures carry the server's answer.
        transcript = Transcript(secrets_of(self.target))
        return logged_in(
            self.target, self._account(user), self.profile, transcript, "provision", LOCK_PATIENCE
        )

    # -- MailboxAccess ----------------------------------------------------------
    def users(self) -> list[str]:
        return [a.user for a in self.target.accounts]

    def disposable(self, user: str) -> bool:
        return self._account(user).disposable

    def password(self, user: str) -> str:
        return self._account(user).password

    def count(self, user: str) -> int:
        try:
            with self._open(user) as session:
                stat = session.command("STAT")
                totals = parse_stat(stat.text) if stat.ok else None
                if totals is None:
                    raise ProvisionError(f"account {user!r}: STAT answered {stat.describe()}")
                _quit(session)
                return totals[0]
        except (ConnectError, LoginError) as e:
            raise self._fail(user, "cannot count the messages", e) from e

    def await_count(self, user: str, count: int, within: float, at_least: bool = False) -> int:
        """``at_least``: ``count`` messages or more will do (more is for the caller to judge)."""
        deadline = time.monotonic() + within
        while True:
            seen = self.count(user)
            if seen == count or (at_least and seen > count) or time.monotonic() >= deadline:
                return seen
            time.sleep(POLL_S)

    def remove(self, user: str, numbers: Sequence[int] | None = None) -> None:
        try:
            with self._open(user) as session:
                if numbers is None:
                    stat = session.command("STAT")
                    totals = parse_stat(stat.text) if stat.ok else None
                    if totals is None:
                        raise ProvisionError(f"account {user!r}: STAT answered {stat.describe()}")
                    numbers = range(1, totals[0] + 1)
                for n in numbers:
                    dele = session.command(f"DELE {n}")
                    if not dele.ok:
                        raise ProvisionError(f"account {user!r}: DELE {n}: {dele.describe()}")
                quit_ = session.command("QUIT")
                if not quit_.ok:
                    raise ProvisionError(f"account {user!r}: QUIT after DELE: {quit_.describe()}")
        except (ConnectError, LoginError) as e:
            raise self._fail(user, "cannot remove messages", e) from e

    def read(self, user: str) -> Reading:
        try:
            reading, _ = read_stable(
                self.target, self._account(user), self.profile, Transcript(secrets_of(self.target))
            )
        except (ConnectError, CalibrationError) as e:
            raise self._fail(user, "cannot read the mailbox", e) from e
        return reading

    def listing(self, user: str) -> Listing:
        try:
            with self._open(user) as session:
                listing = session.command("LIST")
                sizes = []
                for line in listing.lines if listing.ok else []:
                    scan = parse_scan_line(line)
                    if scan is None:
                        raise ProvisionError(f"account {user!r}: LIST line {line!r}")
                    sizes.append(scan[1])
                if not listing.ok:
                    raise ProvisionError(f"account {user!r}: LIST answered {listing.describe()}")
                uids = None
                if self.profile.advertises("UIDL"):
                    uidl = session.command("UIDL")
                    parsed = [parse_uid_line(line) for line in uidl.lines] if uidl.ok else []
                    uids = [p.uid.decode("latin-1") for p in parsed if p is not None]
                _quit(session)
                return Listing(sizes, uids)
        except (ConnectError, LoginError) as e:
            raise self._fail(user, "cannot list the mailbox", e) from e


def _quit(session: Session) -> None:
    """End a session that neither marked nor retrieved anything: its QUIT removes nothing,
    not even with EXPIRE 0 (which removes only retrieved messages)."""
    session.command("QUIT", timeout=5.0)
    session.close()
