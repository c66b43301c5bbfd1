"""The accounts a run is given by its flags: ``--account``, ``--apop-account``,
``--account-file`` and ``--disposable``.

Passwords need not be on the command line, where ``ps`` shows them:
``--account USER`` asks for the password on a terminal and ``--account-file``
reads ``USER:PASS`` lines; an error never echoes a line of that file.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from conformance.exits import UsageError
from conformance.target import Account, parse_account


@dataclass
class _Accounts:
    """Accounts from the flags, with where their passwords came from."""

    accounts: list[Account] = field(default_factory=list)

    def add(self, user: str, password: str, apop: bool, disposable: set[str]) -> None:
        if any(a.user == user for a in self.accounts):
            raise UsageError(f"account {user!r} is given twice")
        self.accounts.append(Account(user, password, user in disposable, apop))


def _password(user: str, stdin: TextIO, ask: Callable[[str], str]) -> str:
    if not stdin.isatty():
        raise UsageError(
            f"no password for account {user!r}: give USER:PASS, an --account-file, "
            "or run on a terminal to be asked"
        )
    password = ask(f"password for {user}: ")
    if not password:
        raise UsageError(f"the password of account {user!r} is empty")
    return password


def accounts_from_flags(
    args: argparse.Namespace,
    *,
    stdin: TextIO = sys.stdin,
    ask: Callable[[str], str] = getpass.getpass,
) -> list[Account]:
    disposable = set(getattr(args, "disposable", None) or [])
    found = _Accounts()
    specs: list[tuple[str, bool]] = [(s, False) for s in getattr(args, "account", None) or []]
    specs += [(s, True) for s in getattr(args, "apop_account", None) or []]
    account_file: Path | None = getattr(args, "account_file", None)
    if account_file is not None:
        specs += _read_account_file(account_file)
    for spec, apop in specs:
        if ":" not in spec:
            found.add(spec, _password(spec, stdin, ask), apop, disposable)
            continue
        try:
            account = parse_account(spec)
        except ValueError as exc:
            raise UsageError(str(exc)) from exc
        found.add(account.user, account.password, apop, disposable)
    return found.accounts


def _read_account_file(path: Path) -> list[tuple[str, bool]]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read the account file {path}: {exc.strerror or exc}") from exc
    out = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        apop = line.startswith("apop ")
        spec = line.removeprefix("apop ").strip()
        if ":" not in spec:
            # Never echo the line: it may hold a password.
            raise UsageError(f"{path}:{number}: expected USER:PASS (or apop USER:SECRET)")
        out.append((spec, apop))
    return out
