"""What a run produced, as plain data.

``results.json`` is the one source of truth (style.md, Conventions): the
console, JUnit and later HTML and diff reports are all rendered from a
:class:`RunResult`, never from runner internals.  Every class here converts
to and from JSON-ready dicts so that a report can be rendered again from a
file written by an earlier run.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from conformance.outcomes import Outcome, fails_run, worst

SCHEMA_VERSION = 1


@dataclass(slots=True)
class TranscriptEntry:
    """One line of a wire transcript.

    ``direction`` is "C" (client to server), "S" (server to client) or "*"
    (an event such as connect, close, reset or timeout).  ``text`` is already
    redacted and has control characters other than CR LF kept as they are;
    renderers escape them for their medium.
    """

    t_ms: float
    session: str
    direction: str
    text: str

    def render(self) -> str:
        return f"{self.t_ms:9.1f} {self.session:>3} {self.direction}: {self.text}"


@dataclass
class CheckResult:
    """One graded check: a requirement, what was expected and what came."""

    requirement: str
    level: str  # MUST, SHOULD, MAY or info
    quote: str  # the requirement's sentence, quoted from the RFC
    outcome: Outcome
    expected: str = ""
    actual: str = ""
    where: str = ""  # "file:line" of the scenario step
    note: str = ""  # why this grade (e.g. which accepted alternative matched)
    # The client line whose answer was judged ("" for checks not about one
    # answer), secrets redacted: what groups fails by root cause.
    command: str = ""

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["outcome"] = self.outcome.value
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CheckResult:
        return cls(**{**d, "outcome": Outcome(d["outcome"])})


@dataclass
class ScenarioResult:
    id: str
    title: str
    file: str
    section: str  # the RFC section it is filed under, for grouping ("RFC1939 §5")
    requirements: list[str]
    tags: list[str]
    outcome: Outcome
    reason: str = ""  # for unsupported / error / waived: why
    description: str = ""
    expectation: str = ""
    checks: list[CheckResult] = field(default_factory=list)
    transcript: list[TranscriptEntry] = field(default_factory=list)
    duration_ms: float = 0.0
    # How each session ended, graded apart from the checks (Autobahn's
    # "closing behaviour"): {"outcome": ..., "sessions": [{session, how, outcome, detail}]}.
    close: dict[str, Any] = field(default_factory=dict)
    # Why the scenario's later steps could not be judged ("" when all were):
    # a session the server closed, reset, or left half-answered.
    unjudged: str = ""
    # Unsupported for want of the harness's setup: the flag that fixes it.
    setup: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "file": self.file,
            "section": self.section,
            "requirements": self.requirements,
            "tags": self.tags,
            "outcome": self.outcome.value,
            "reason": self.reason,
            "description": self.description,
            "expectation": self.expectation,
            "checks": [c.to_dict() for c in self.checks],
            "transcript": [asdict(t) for t in self.transcript],
            "duration_ms": round(self.duration_ms, 1),
            "close": self.close,
            "unjudged": self.unjudged,
            "setup": self.setup,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ScenarioResult:
        return cls(
            id=d["id"],
            title=d["title"],
            file=d["file"],
            section=d["section"],
            requirements=list(d["requirements"]),
            tags=list(d["tags"]),
            outcome=Outcome(d["outcome"]),
            reason=d.get("reason", ""),
            description=d.get("description", ""),
            expectation=d.get("expectation", ""),
            checks=[CheckResult.from_dict(c) for c in d.get("checks", [])],
            transcript=[TranscriptEntry(**t) for t in d.get("transcript", [])],
            duration_ms=d.get("duration_ms", 0.0),
            close=dict(d.get("close", {})),
            unjudged=d.get("unjudged", ""),
            setup=d.get("setup", ""),
        )

    def failing_checks(self) -> list[CheckResult]:
        return [
            c for c in self.checks if c.outcome is self.outcome and self.outcome != Outcome.PASS
        ]


@dataclass
class PassiveFinding:
    """A wire-grammar deviation, reported once per run where it was first seen."""

    requirement: str
    code: str
    detail: str
    scenario: str  # the first scenario it was seen in
    count: int = 1  # how many times it was seen in the run
    outcome: Outcome = Outcome.FAIL

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["outcome"] = self.outcome.value
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PassiveFinding:
        # Field by field, as ScenarioResult does: a baseline adds keys of its own.
        return cls(
            requirement=d["requirement"],
            code=d["code"],
            detail=d["detail"],
            scenario=d["scenario"],
            count=d.get("count", 1),
            outcome=Outcome(d["outcome"]),
        )


@dataclass
class RunResult:
    tool_version: str
    started: str  # ISO 8601, UTC
    duration_s: float
    target: dict[str, Any]  # host, port, greeting, capabilities, provisioner; no secrets
    scenarios: list[ScenarioResult]
    passive: list[PassiveFinding] = field(default_factory=list)
    strict: bool = False
    selection: list[str] = field(default_factory=list)
    # What limited the run as a whole ("--jobs 4, but 2 accounts: 2 at a time").
    notes: list[str] = field(default_factory=list)
    # SHA-256 over the scenario files run: a diff says when two runs' suites differ.
    suite_sha256: str = ""
    # A load run's figures (``pop3-conformance stress``): latency percentiles per
    # command, throughput and errors over time, what the run did; empty otherwise.
    load: dict[str, Any] = field(default_factory=dict)

    @property
    def outcome(self) -> Outcome:
        return worst([s.outcome for s in self.scenarios] + [p.outcome for p in self.passive])

    def counts(self) -> dict[str, int]:
        counts = {o.value: 0 for o in Outcome}
        for s in self.scenarios:
            counts[s.outcome.value] += 1
        return counts

    def setup_limits(self) -> list[tuple[str, int]]:
        """(flag, how many scenarios it would let run), for the unsupported ones the
        harness's setup kept from running; the most first."""
        counts: dict[str, int] = {}
        for s in self.scenarios:
            if s.outcome is Outcome.UNSUPPORTED and s.setup:
                counts[s.setup] = counts.get(s.setup, 0) + 1
        return sorted(counts.items(), key=lambda item: (-item[1], item[0]))

    def failed(self) -> bool:
        every = [s.outcome for s in self.scenarios] + [p.outcome for p in self.passive]
        return any(fails_run(o, self.strict) for o in every)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA_VERSION,
            "tool_version": self.tool_version,
            "started": self.started,
            "duration_s": round(self.duration_s, 3),
            "strict": self.strict,
            "selection": self.selection,
            "notes": self.notes,
            "suite_sha256": self.suite_sha256,
            "target": self.target,
            "outcome": self.outcome.value,
            "counts": self.counts(),
            "passive": [p.to_dict() for p in self.passive],
            "scenarios": [s.to_dict() for s in self.scenarios],
            **({"load": self.load} if self.load else {}),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunResult:
        if d.get("schema") != SCHEMA_VERSION:
            raise ValueError(f"unsupported results schema {d.get('schema')!r}")
        return cls(
            tool_version=d["tool_version"],
            started=d["started"],
            duration_s=d["duration_s"],
            target=d["target"],
            scenarios=[ScenarioResult.from_dict(s) for s in d["scenarios"]],
            passive=[PassiveFinding.from_dict(p) for p in d.get("passive", [])],
            strict=d.get("strict", False),
            selection=list(d.get("selection", [])),
            notes=list(d.get("notes", [])),
            suite_sha256=d.get("suite_sha256", ""),
            load=dict(d.get("load", {})),
        )
