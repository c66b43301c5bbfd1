"""The certification report: one verdict about one server, and what it rests on.

``pop3-conformance certify`` runs the suites, applies the waivers, and writes
``certification.json`` and ``certification.html`` beside the usual run
reports.  The certificate holds:

* the verdict: CONFORMANT only when no result fails the run after waivers
  (every MUST-graded requirement passed or was waived, and nothing ended in
  ``error`` or ``nondeterministic``: what was not judged is not certified);
  NOT CONFORMANT otherwise, with the reasons;
* strict grading, apart from the verdict: "strictly conformant" also needs
  no ``non-strict`` result (no broken SHOULD);
* the target's identity (greeting, CAPA, IMPLEMENTATION), the harness version
  and a SHA-256 over the scenario files used, the target profile without
  secrets, every waiver with its reason and status, and the per-requirement
  results (:mod:`conformance.report.by_requirement`).

Everything but the run's start time, duration, port and greeting timestamp
is a function of the harness, the suites and the server's behaviour, so two
certifications of one server agree on the verdict and the suite hash.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conformance.outcomes import Outcome, fails_run
from conformance.report.by_requirement import RequirementResult, requirement_results
from conformance.report.escape import visible, visible_lines
from conformance.report.files import write_atomically
from conformance.report.templating import ENV
from conformance.results import RunResult
from conformance.scenario.digest import SuiteDigest as SuiteDigest
from conformance.scenario.digest import suite_digest as suite_digest
from conformance.waivers import WaiverUse

SCHEMA_VERSION = 1
CONFORMANT = "CONFORMANT"
NOT_CONFORMANT = "NOT CONFORMANT"
# What "profile" keeps of RunResult.target: the rest is the server's identity.
_IDENTITY_KEYS = ("greeting", "capa")


@dataclass
class Certification:
    verdict: str
    reasons: list[str]  # why NOT CONFORMANT; empty when CONFORMANT
    strictly_conformant: bool
    non_strict: list[str]  # requirements graded non-strict (broken SHOULDs)
    identity: dict[str, Any]  # greeting, capa, implementation
    harness: dict[str, Any]  # version, suite_sha256, suite_files, scenarios, selection
    profile: dict[str, Any]  # RunResult.target without the identity; never a password
    waivers: list[WaiverUse]
    requirements: list[RequirementResult]
    counts: dict[str, int]
    started: str
    duration_s: float
    waivers_file: str | None = None
    report_files: list[str] = field(default_factory=list)

    @property
    def conformant(self) -> bool:
        return self.verdict == CONFORMANT

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA_VERSION,
            "verdict": self.verdict,
            "reasons": self.reasons,
            "strict": {
                "strictly_conformant": self.strictly_conformant,
                "non_strict_requirements": self.non_strict,
            },
            "identity": self.identity,
            "harness": self.harness,
            "profile": self.profile,
            "waivers_file": self.waivers_file,
            "waivers": [u.to_dict() for u in self.waivers],
            "counts": self.counts,
            "requirements": [r.to_dict() for r in self.requirements],
            "started": self.started,
            "duration_s": round(self.duration_s, 3),
            "report_files": self.report_files,
        }


def implementation_of(capa: Sequence[str] | None) -> str | None:
    """The IMPLEMENTATION capability's argument (RFC 2449 section 6.9), if advertised."""
    for line in capa or ():
        name, _, rest = line.partition(" ")
        if name.upper() == "IMPLEMENTATION":
            return rest.strip()
    return None


def certify(
    run: RunResult,
    waivers: list[WaiverUse],
    suite: SuiteDigest,
    waivers_file: str | None = None,
) -> Certification:
    """The certificate of a run whose waivers were already applied (``waivers`` says how)."""
    rows = requirement_results(run)
    reasons = []
    for row in rows:
        if fails_run(row.outcome):
            reasons.append(
                f"{row.id} ({row.grade}): {row.outcome.value} in "
                f"{', '.join(row.worst_in) or 'the run'}"
            )
    for s in run.scenarios:
        # Every fail and error has a check citing a requirement, so it is in
        # the rows above; a replay mismatch may have none.
        if fails_run(s.outcome) and not s.checks:
            reasons.append(f"scenario {s.id}: {s.outcome.value}: {s.reason}")
    if not run.scenarios:
        reasons.append("no scenario ran: nothing was checked")
    conformant = not run.failed() and bool(run.scenarios) and not reasons
    non_strict = [r.id for r in rows if r.outcome is Outcome.NON_STRICT]
    any_non_strict = non_strict or any(s.outcome is Outcome.NON_STRICT for s in run.scenarios)
    capa = run.target.get("capa")
    return Certification(
        verdict=CONFORMANT if conformant else NOT_CONFORMANT,
        reasons=reasons,
        strictly_conformant=conformant and not any_non_strict,
        non_strict=non_strict,
        identity={
            "greeting": run.target.get("greeting"),
            "capa": capa,
            "implementation": implementation_of(capa),
        },
        harness={
            "version": run.tool_version,
            "suite_sha256": suite.sha256,
            "suite_files": suite.files,
            "scenarios": len(run.scenarios),
            "selection": run.selection,
        },
        profile={k: v for k, v in run.target.items() if k not in _IDENTITY_KEYS},
        waivers=waivers,
        requirements=rows,
        counts=run.counts(),
        started=run.started,
        duration_s=run.duration_s,
        waivers_file=waivers_file,
    )


# -- rendering --------------------------------------------------------------------------


def render_certification_json(cert: Certification) -> str:
    return json.dumps(cert.to_dict(), ensure_ascii=False, sort_keys=True, indent=1) + "\n"


def render_certification_html(cert: Certification) -> str:
    """The certificate as one self-contained HTML page (template: certification.html.j2)."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in cert.requirements:
        groups.setdefault(r.rfc, []).append(
            {
                "id": visible(r.id),
                "level": visible(r.level),
                "grade": visible(r.grade),
                "text": visible_lines(r.text) if r.text else [],
                "outcome": r.outcome.value,
                "source": r.source,
                "scenarios": [visible(s) for s in r.scenarios],
            }
        )
    identity = cert.identity
    return ENV.get_template("certification.html.j2").render(
        verdict=cert.verdict,
        verdict_class="ok" if cert.conformant else "bad",
        reasons=[visible(r) for r in cert.reasons],
        strictly=cert.strictly_conformant,
        non_strict=[visible(r) for r in cert.non_strict],
        greeting=visible(str(identity.get("greeting") or "")),
        capa=[visible(c) for c in identity.get("capa") or []],
        has_capa=identity.get("capa") is not None,
        implementation=visible(identity.get("implementation") or ""),
        harness=cert.harness,
        suite_files=[visible(f) for f in cert.harness["suite_files"]],
        selection=[visible(s) for s in cert.harness["selection"]],
        profile=_profile_view(cert.profile),
        waivers_file=visible(cert.waivers_file or ""),
        waivers=[_waiver_view(u) for u in cert.waivers],
        counts=[(k, v) for k, v in cert.counts.items() if v],
        groups=sorted(groups.items(), key=lambda g: _rfc_number(g[0])),
        started=visible(cert.started),
        duration=f"{cert.duration_s:.1f}",
        report_files=cert.report_files,
    )


def _rfc_number(rfc: str) -> tuple[int, str]:
    digits = rfc.removeprefix("RFC")
    return (int(digits), rfc) if digits.isdigit() else (1 << 30, rfc)


def _profile_view(profile: dict[str, Any]) -> list[tuple[str, str]]:
    rows = []
    for key in sorted(profile):
        value = profile[key]
        if key == "accounts" and isinstance(value, list):
            text = ", ".join(
                f"{a.get('user')}{' (disposable)' if a.get('disposable') else ''}"
                for a in value
                if isinstance(a, dict)
            )
        else:
            text = str(value)
        rows.append((visible(key), visible(text)))
    return rows


def _waiver_view(use: WaiverUse) -> dict[str, Any]:
    w = use.waiver
    return {
        "subject": visible(w.subject),
        "reason": visible(w.reason),
        "expires": w.expires.isoformat() if w.expires else "",
        "where": visible(w.where),
        "status": use.status,
        "scenarios": [visible(s) for s in use.scenarios],
        "requirements": [visible(r) for r in use.requirements],
    }


def write_certification(cert: Certification, report_dir: Path) -> None:
    """Write ``certification.json`` and ``certification.html`` into ``report_dir``."""
    write_atomically(report_dir / "certification.json", render_certification_json(cert))
    write_atomically(report_dir / "certification.html", render_certification_html(cert))


# -- secrets ----------------------------------------------------------------------------
