"""Every secret a run knows, in every form it can take, and one scrub for all output.

Secrets come from the accounts (passwords, APOP secrets), from what the
harness computes out of them (SASL PLAIN tokens, the LOGIN mechanism's
base64 password, APOP digests, CRAM-MD5 answers) and from the target's
other credentials (a deliverer's password).  A server may echo any of them
back, inside a status line or a body, so redaction is applied to every
field of every result at the results boundary (:func:`scrub_result`), not
only to the lines the harness sends: no report, console line, JUnit file or
emitted scenario can carry one.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conformance.results import PassiveFinding, RunResult, ScenarioResult
    from conformance.target import Account

REDACTED = "********"
# Shorter strings would hide ordinary words of a transcript ("a", "pw").
MIN_LENGTH = 3


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def forms(secret: str) -> set[str]:
    """A secret and its base64 forms (padded and not), as a server may echo them."""
    out = {secret}
    encoded = _b64(secret)
    out |= {encoded, encoded.rstrip("=")}
    return {f for f in out if len(f) >= MIN_LENGTH}


class Secrets:
    """The strings no output may contain; safe to share between threads."""

    def __init__(self, values: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._forms: set[str] = set()
        self._ordered: list[str] = []
        for value in values:
            self.add(value)

    def add(self, secret: str, *, encoded: bool = True) -> None:
        """A secret to hide; with ``encoded``, its base64 forms as well."""
        if not secret:
            return
        new = forms(secret) if encoded else ({secret} if len(secret) >= MIN_LENGTH else set())
        with self._lock:
            if new <= self._forms:
                return
            self._forms |= new
            # Longest first, so that a secret containing another is hidden whole.
            self._ordered = sorted(self._forms, key=len, reverse=True)

    def add_account(self, account: Account) -> None:
        self.add(account.password)
        # SASL PLAIN (RFC 4616) carries user and password in one base64 token.
        self.add(_b64(f"\0{account.user}\0{account.password}"), encoded=False)
        self.add(_b64(f"{account.user}\0{account.user}\0{account.password}"), encoded=False)

    def scrub(self, text: str) -> str:
        for secret in self._ordered:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def __contains__(self, text: str) -> bool:
        return any(secret in text for secret in self._ordered)


def for_accounts(accounts: Iterable[Account], extra: Iterable[str] = ()) -> Secrets:
    secrets = Secrets(extra)
    for account in accounts:
        secrets.add_account(account)
    return secrets


def scrub_value(value: Any, secrets: Secrets) -> Any:
    """Every string inside ``value`` (nested lists and dicts) scrubbed."""
    if isinstance(value, str):
        return secrets.scrub(value)
    if isinstance(value, list):
        return [scrub_value(v, secrets) for v in value]
    if isinstance(value, dict):
        return {k: scrub_value(v, secrets) for k, v in value.items()}
    return value


def scrub_result(result: ScenarioResult, secrets: Secrets) -> ScenarioResult:
    """The result with every string field scrubbed (the results boundary): walked as
    data, so a field added later is covered too."""
    from conformance.results import ScenarioResult

    return ScenarioResult.from_dict(scrub_value(result.to_dict(), secrets))


def scrub_run(run: RunResult, secrets: Secrets) -> RunResult:
    """A whole run scrubbed, for what is handed to third parties (a certificate)."""
    from conformance.results import RunResult

    return RunResult.from_dict(scrub_value(run.to_dict(), secrets))


def scrub_finding(finding: PassiveFinding, secrets: Secrets) -> PassiveFinding:
    return replace(finding, detail=secrets.scrub(finding.detail))
