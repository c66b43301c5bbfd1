"""Whether a scenario can run against this target at all, and if not, why."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from conformance.runner.existing import existing_of, unfit_reason
from conformance.scenario.uses import delivers

if TYPE_CHECKING:
    from conformance.runner.run import ScenarioRun

# Names in 'needs:' that the target's declaration satisfies, not CAPA.
IMPLICIT_TLS: Final = "IMPLICIT-TLS"
TARGET_NEEDS: Final = (IMPLICIT_TLS,)


def unsupported_reason(run: ScenarioRun) -> str:
    """Why the scenario is ``unsupported`` here ("" when it can run)."""
    s, target = run.scenario, run.target
    # IMPLICIT-TLS is a fact about the target, not a CAPA name (RFC 8314):
    # the operator declares the port.
    if IMPLICIT_TLS in s.needs and target.tls_port is None:
        return "the target declares no implicit-TLS port (--tls-port)"
    missing = run.profile.missing([n for n in s.needs if n not in TARGET_NEEDS])
    if missing:
        return "the server does not advertise " + ", ".join(missing)
    if len(run.accounts) < s.accounts:
        if s.login == "apop":
            return (
                f"needs {s.accounts} APOP account(s), the target declares "
                f"{len(run.accounts)} (--apop-account, or apop = true in the profile)"
            )
        return f"needs {s.accounts} accounts, the target has {len(run.accounts)}"
    provisioner = target.provisioner
    delivering = delivers(s)
    if delivering and not provisioner.can_deliver:
        return (
            f"delivers mail during the scenario, which the {provisioner.kind} provisioner "
            "cannot (existing needs a deliverer: existing:lmtp:HOST:PORT, ...)"
        )
    if s.mailbox != "none" and not provisioner.available:
        return f"needs known mailbox content ({s.mailbox}): {provisioner.reason}"
    existing = existing_of(target)
    if existing is not None:
        reason = unfit_reason(run, existing)
        if reason:
            return reason
    elif (s.mailbox != "none" or delivering) and not provisioner.owns_store:
        # Seeding through the mail system clears the mailbox first.
        for account in run.accounts[: s.accounts]:
            if not account.disposable:
                return (
                    f"needs known mailbox content ({s.mailbox}): the {provisioner.kind} "
                    f"provisioner clears a mailbox before it seeds it, and account "
                    f"{account.user!r} is not declared disposable (--disposable {account.user})"
                )
    # With EXPIRE 0 any RETR then QUIT may remove mail (RFC 2449 section
    # 6.7), so every scenario is destructive there.
    if s.destructive or run.profile.expire_zero:
        what = "destructive scenario" if s.destructive else "the server advertises EXPIRE 0"
        for account in run.accounts[: s.accounts]:
            if not target.is_disposable(account):
                return (
                    f"{what}, and account {account.user!r} is not declared "
                    "disposable: the mail is left alone"
                )
    return ""
