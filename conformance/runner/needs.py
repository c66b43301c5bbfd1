"""Whether a scenario can run against this target at all, and if not, why."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from conformance.runner.existing import existing_of, unfit_reason
from conformance.scenario.uses import delivers

if TYPE_CHECKING:
    from conformance.runner.run import ScenarioRun

# Names in 'needs:' that the target's declaration satisfies, not CAPA.
IMPLICIT_TLS: Final = "IMPLICIT-TLS"
TARGET_NEEDS: Final = (IMPLICIT_TLS,)


@dataclass(frozen=True)
class Unsupported:
    """Why a scenario cannot run here, and whose doing that is.

    ``setup`` names the flag that would let it run ("--provision") when the
    harness was not told enough; it is "" when the server lacks what the
    scenario needs (a capability): "not run because of the setup" and "not
    offered by the server" are reported apart.
    """

    reason: str
    setup: str = ""


def unsupported(run: ScenarioRun) -> Unsupported | None:
    """Why the scenario is ``unsupported`` here (None when it can run)."""
    s, target = run.scenario, run.target
    # IMPLICIT-TLS is a fact about the target, not a CAPA name (RFC 8314):
    # the operator declares the port.
    if IMPLICIT_TLS in s.needs and target.tls_port is None:
        return Unsupported("the target declares no implicit-TLS port (--tls-port)", "--tls-port")
    missing = run.profile.missing([n for n in s.needs if n not in TARGET_NEEDS])
    if missing:
        return Unsupported("the server does not advertise " + ", ".join(missing))
    if len(run.accounts) < s.accounts:
        if s.login == "apop":
            return Unsupported(
                f"needs {s.accounts} APOP account(s), the target declares "
                f"{len(run.accounts)} (--apop-account, or apop = true in the profile)",
                "--apop-account",
            )
        return Unsupported(
            f"needs {s.accounts} accounts, the target has {len(run.accounts)}", "--account"
        )
    provisioner = target.provisioner
    delivering = delivers(s)
    if delivering and not provisioner.can_deliver:
        return Unsupported(
            f"delivers mail during the scenario, which the {provisioner.kind} provisioner "
            "cannot (existing needs a deliverer: existing:lmtp:HOST:PORT, ...)",
            "--provision",
        )
    if s.mailbox != "none" and not provisioner.available:
        return Unsupported(
            f"needs known mailbox content ({s.mailbox}): {provisioner.reason}", "--provision"
        )
    existing = existing_of(target)
    if existing is not None:
        reason = unfit_reason(run, existing)
        if reason:
            # The learned mailbox lacks what the scenario needs: the mail in
            # it limits the run (a deliverer, or other mail, would not).
            return Unsupported(reason, "--provision" if "deliverer" in reason else "mailbox")
    elif (s.mailbox != "none" or delivering) and not provisioner.owns_store:
        # Seeding through the mail system clears the mailbox first.
        for account in run.accounts[: s.accounts]:
            if not account.disposable:
                return Unsupported(
                    f"needs known mailbox content ({s.mailbox}): the {provisioner.kind} "
                    f"provisioner clears a mailbox before it seeds it, and account "
                    f"{account.user!r} is not declared disposable (--disposable {account.user})",
                    "--disposable",
                )
    # With EXPIRE 0 any RETR then QUIT may remove mail (RFC 2449 section
    # 6.7), so every scenario is destructive there.
    if s.destructive or run.profile.expire_zero:
        what = "destructive scenario" if s.destructive else "the server advertises EXPIRE 0"
        for account in run.accounts[: s.accounts]:
            if not target.is_disposable(account):
                return Unsupported(
                    f"{what}, and account {account.user!r} is not declared "
                    "disposable: the mail is left alone",
                    "--disposable",
                )
    return None
