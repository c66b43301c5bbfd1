"""TLS in a scenario: ``open A tls`` (RFC 8314) and ``tls [A]`` after STLS (RFC 2595)."""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING, NoReturn

from conformance.outcomes import Outcome
from conformance.runner import checks
from conformance.scenario import steps as st
from conformance.tls import TLSError, make_client_context
from conformance.transport import Session
from conformance.verdicts import broken

if TYPE_CHECKING:
    from conformance.runner.run import ScenarioRun


def client_context(run: ScenarioRun) -> ssl.SSLContext:
    return make_client_context(run.target.tls_ca, run.target.tls_insecure)


def starttls(run: ScenarioRun, step: st.StartTls) -> None:
    name = run.name(step.session, step)
    slot = run.slot(name, step)
    try:
        slot.session.starttls(client_context(run), run.target.tls_servername)
    except TLSError as exc:
        failed(run, step, name, exc, optional=step.optional)
    run.last = None
    done(run, step, slot.session)


def done(run: ScenarioRun, step: st.Step, session: Session) -> None:
    """A completed handshake passes the current check; the suite in use is judged."""
    where = str(step.where)
    version = session.tls_version or "TLS"
    run.checks.append(checks.tls_established(run.requirement, version, where))
    if session.plaintext_after_stls:
        run.checks.append(checks.clear_text_after_stls(session.plaintext_after_stls, where))
    if checks.CIPHER_SUITE in run.scenario.requirements:
        run.checks.append(checks.cipher_suite(version, where))


def failed(
    run: ScenarioRun, step: st.Step, name: str, exc: TLSError, *, optional: bool
) -> NoReturn:
    from conformance.runner.run import Abort
    from conformance.runner.session_steps import forget

    if exc.kind == "verify":
        # The harness could not trust the certificate: the run's settings,
        # not the server, decide that (RFC 8314 section 4.4 is an operator's duty).
        outcome = Outcome.ERROR
        note = "give the CA (--tls-ca) or the name (--tls-servername), or --tls-insecure"
    elif optional:
        outcome, note = Outcome.INFO, "the handshake failed where the scenario allows it"
    else:
        outcome, note = broken(run.requirement), ""
    run.checks.append(
        checks.tls_failed(run.requirement, outcome, f"TLS {exc.kind}: {exc}", str(step.where), note)
    )
    run.closes.ended(name, "tls-failed", f"TLS {exc.kind}")
    forget(run, name)
    raise Abort
