"""The server under test: where it listens, the accounts to use, how to seed them.

A target comes from command-line options (:mod:`conformance.cli_common`) or
from a profile file (TOML, :mod:`conformance.profile`).

Disposable accounts: destructive scenarios (DELE then QUIT) run only on an
account the operator gave up.  A mailbox in a store handed over with the
provisioner (maildir, mbox, exec) is replaced before every scenario anyway, so
there every account counts as disposable (:meth:`Target.is_disposable`, the
one place this rule lives).

Parallel scenarios must not share a mailbox; :class:`AccountPool` leases
distinct accounts to them.
"""

from __future__ import annotations

import collections
import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from conformance.pop3 import DEFAULT_LIMITS, Limits
from conformance.provision import Provisioner


@dataclass(frozen=True)
class Account:
    user: str
    password: str = field(repr=False)
    disposable: bool = False
    # A mailbox reached with APOP (the password is the shared secret), not
    # USER/PASS: RFC 1939 section 13 has servers allow one or the other.
    apop: bool = False


@dataclass
class Target:
    host: str
    port: int
    accounts: list[Account]
    provisioner: Provisioner
    timeout: float = 10.0
    connect_timeout: float = 5.0
    # Learn each seeded message as the server returns it before a scenario
    # runs: for servers that rewrite what they store (mbox "From " quoting,
    # added headers), so that content is judged against the server's own earlier answer.
    calibrate: bool = False
    # TLS (RFC 2595 STLS and RFC 8314 implicit TLS).  Certificates are
    # verified against tls_ca (or the system store) unless tls_insecure says
    # otherwise, explicitly; tls_servername is the name the certificate must carry.
    tls_port: int | None = None
    tls_ca: str | None = None
    tls_insecure: bool = False
    tls_servername: str | None = None
    # The reader's bounds for every session: a line, a multi-line answer.
    limits: Limits = DEFAULT_LIMITS

    def __post_init__(self) -> None:
        # Mail that went through the server's delivery (trace fields, From_
        # lines) is judged against what the server returns: calibration is
        # implied, never optional.
        if self.provisioner.rewrites:
            self.calibrate = True

    def is_disposable(self, account: Account) -> bool:
        """Whether the harness may remove ``account``'s mail.

        A mailbox in a store handed over with the provisioner (a maildir
        path, seed and clear commands) is disposable by definition: its
        content is replaced before each scenario.  Otherwise, also when the
        provisioner delivers through the mail system, the operator must say so.
        """
        return account.disposable or self.provisioner.owns_store

    def describe(self) -> dict[str, object]:
        """JSON-ready description for reports; never includes a password."""
        return {
            "host": self.host,
            "port": self.port,
            "accounts": [
                {"user": a.user, "disposable": self.is_disposable(a), "apop": a.apop}
                for a in self.accounts
            ],
            "provisioner": self.provisioner.kind,
            "provision": self.provisioner.describe(),
            "timeout": self.timeout,
            "connect_timeout": self.connect_timeout,
            "calibrate": self.calibrate,
            "tls_port": self.tls_port,
            "tls_verify": not self.tls_insecure,
        }


def parse_account(spec: str, disposable: bool = False) -> Account:
    """``user:password``, split at the first colon (a password may contain colons)."""
    # Error messages never repeat the spec: it may be a password.
    user, sep, password = spec.partition(":")
    if not sep:
        raise ValueError("an account is USER:PASSWORD, and this one has no ':'")
    if not user:
        raise ValueError("an account is USER:PASSWORD, and the user is empty")
    if not password:
        raise ValueError(f"the password of account {user!r} is empty")
    return Account(user, password, disposable)


def secrets_of(target: Target) -> list[str]:
    """Every password of the target and its provisioner, to redact from transcripts and reports."""
    return [a.password for a in target.accounts if a.password] + target.provisioner.secrets()


# -- leasing accounts to parallel scenarios ------------------------------------------------


class AccountPool:
    """Lends distinct accounts to scenarios that run at the same time.

    Two scenarios on one mailbox would see each other's deletions and locks,
    so each leases the accounts it uses.  Waiters are served first come,
    first served: a scenario that needs two accounts is not starved by a
    stream of scenarios that need one.
    """

    def __init__(self, accounts: Sequence[Account]) -> None:
        self._accounts = list(accounts)
        self._free = [True] * len(self._accounts)
        self._cond = threading.Condition()
        self._queue: collections.deque[object] = collections.deque()

    @property
    def size(self) -> int:
        return len(self._accounts)

    def free(self) -> int:
        with self._cond:
            return sum(self._free)

    @contextlib.contextmanager
    def lease(
        self,
        n: int,
        timeout: float,
        where: Callable[[Account], bool] | None = None,
    ) -> Iterator[list[Account]]:
        """Block until ``n`` accounts (matching ``where``, if given) are free, then lend them.

        The accounts come back in pool order; they return to the pool when the
        ``with`` block ends.  TimeoutError after ``timeout`` seconds.
        """
        ok = where or (lambda _a: True)
        eligible = [i for i, a in enumerate(self._accounts) if ok(a)]
        if n < 1:
            raise ValueError("a lease takes at least one account")
        if n > len(eligible):
            raise ValueError(
                f"a lease of {n} accounts can never be served: the pool has {len(eligible)}"
                + (" that qualify" if where else "")
            )
        ticket = object()
        deadline = time.monotonic() + timeout
        with self._cond:
            self._queue.append(ticket)
            try:
                while True:
                    free = [i for i in eligible if self._free[i]]
                    if self._queue[0] is ticket and len(free) >= n:
                        taken = free[:n]
                        break
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise TimeoutError(
                            f"no {n} free accounts within {timeout:g} s "
                            f"({sum(self._free)} of {len(self._accounts)} free)"
                        )
                    self._cond.wait(left)
                for i in taken:
                    self._free[i] = False
            finally:
                self._queue.remove(ticket)
                # The next waiter may now be first in line.
                self._cond.notify_all()
        try:
            yield [self._accounts[i] for i in taken]
        finally:
            with self._cond:
                for i in taken:
                    self._free[i] = True
                self._cond.notify_all()
