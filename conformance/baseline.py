"""Committed baselines of real servers: what each one is known to do, audited.

A baseline is a ``results.json`` cut down to what a comparison needs and a
reader can audit: every scenario with its outcome and checks, but no wire
transcript, no timings and no timestamps, so that the file changes only
when a server's behaviour (or the suite) does.  Each scenario that comes out
``fail`` carries an ``explanation``: one line, written by a person in
``explanations.toml`` beside the baselines, saying why this server's
behaviour breaks the quoted requirement.  A fail without one is a baseline
nobody has audited, and the baseline test rejects it.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

from conformance.outcomes import Outcome
from conformance.results import RunResult

EXPLANATIONS_FILE = "explanations.toml"
_TIMESTAMP = re.compile(r"<[^<>]*>")
_SUITE_PATH = re.compile(r"^.*?/(?:conformance/)?suites/")


def load_explanations(folder: Path) -> dict[str, dict[str, str]]:
    """server -> scenario id -> the one line saying why it fails there."""
    path = folder / EXPLANATIONS_FILE
    if not path.exists():
        return {}
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return {
        str(server): {str(k): str(v) for k, v in table.items()} for server, table in data.items()
    }


def make_baseline(run: RunResult, explanations: dict[str, str]) -> dict[str, Any]:
    """The committed form of ``run``: stable across runs of unchanged behaviour."""
    doc = run.to_dict()
    doc["started"] = ""
    doc["duration_s"] = 0.0
    target = doc["target"]
    # Ports and paths change with every lab start; the identity does not.
    doc["target"] = {k: target[k] for k in ("greeting", "capa") if k in target}
    if "greeting" in doc["target"]:
        # The APOP timestamp differs in every greeting (RFC 1939 section 7).
        doc["target"]["greeting"] = _TIMESTAMP.sub("<timestamp>", doc["target"]["greeting"])
    # A wire-grammar finding is keyed "passive:<code>" in the explanations.
    doc["passive"] = [
        {**p, "count": 1}
        | (
            {"explanation": explanations.get(f"passive:{p['code']}", "")}
            if p["outcome"] == Outcome.FAIL.value
            else {}
        )
        for p in doc["passive"]
    ]
    for scenario in doc["scenarios"]:
        scenario["transcript"] = []
        scenario["duration_ms"] = 0.0
        # Where the checkout lives is not behaviour: keep paths from suites/ on.
        scenario["file"] = _SUITE_PATH.sub("suites/", scenario["file"])
        if scenario["outcome"] == Outcome.FAIL.value:
            scenario["explanation"] = explanations.get(scenario["id"], "")
        for check in scenario["checks"]:
            check["where"] = _SUITE_PATH.sub("suites/", check["where"])
            if check["outcome"] == Outcome.PASS.value:
                # A pass needs no evidence in a baseline; the catalog has the quote.
                for key in ("quote", "expected", "actual", "note"):
                    check[key] = ""
    return doc


def write_baseline(doc: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def read_baseline(path: Path) -> tuple[RunResult, dict[str, str]]:
    """The run a baseline records, and its explanations by scenario id."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    explained = {s["id"]: s.get("explanation", "") for s in doc["scenarios"]}
    for p in doc.get("passive", []):
        explained[f"passive:{p['code']}"] = p.get("explanation", "")
    return RunResult.from_dict(doc), explained


def unexplained(run: RunResult, explained: dict[str, str]) -> list[str]:
    """Scenarios that fail in the baseline with no explanation (or a blank one)."""
    failing = [s.id for s in run.scenarios if s.outcome is Outcome.FAIL]
    failing += [f"passive:{p.code}" for p in run.passive if p.outcome is Outcome.FAIL]
    return [key for key in failing if not explained.get(key, "").strip()]


def stale_explanations(run: RunResult, explanations: dict[str, str]) -> list[str]:
    """Explanations for scenarios that no longer fail: they must go."""
    failing = {s.id for s in run.scenarios if s.outcome is Outcome.FAIL}
    failing |= {f"passive:{p.code}" for p in run.passive if p.outcome is Outcome.FAIL}
    return sorted(set(explanations) - failing)
