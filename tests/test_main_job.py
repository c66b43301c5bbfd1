"""The main job end to end: the installed command against the embedded server.

``pop3-conformance run`` with no target starts the reference server out of
process, runs every shipped scenario and must judge it with no fail and no
error, writing results.json and junit.xml.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from conformance.campaign import default_suite_dirs, select
from conformance.scenario.loader import load_all

REPO = Path(__file__).resolve().parent.parent


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "conformance.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.slow
def test_full_suite_against_the_reference_server(tmp_path: Path) -> None:
    proc = run_cli("run", "--report-dir", str(tmp_path / "r"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    results = json.loads((tmp_path / "r" / "results.json").read_text())
    scenarios, errors = load_all(default_suite_dirs())
    assert not errors
    assert len(results["scenarios"]) == len(select(scenarios, [])) >= 40
    bad = {
        s["id"]: s["outcome"]
        for s in results["scenarios"]
        if s["outcome"] in ("fail", "error", "nondeterministic", "non-strict")
    }
    assert not bad
    assert not [p for p in results["passive"] if p["outcome"] != "info"]
    suites = ET.parse(tmp_path / "r" / "junit.xml").getroot()
    cases = suites.findall(".//testcase")
    assert len(cases) == len(select(scenarios, []))
    assert not suites.findall(".//failure") and not suites.findall(".//error")
    # Grouped by RFC section on the console, with the closing summary line.
    assert "RFC1939 §5" in proc.stdout
    assert "verdict: PASS" in proc.stdout


def test_default_report_dir_and_list(tmp_path: Path) -> None:
    proc = run_cli("run", "--list", "--select", "core.locking.*", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "core.locking.second-login" in proc.stdout
    assert "core.drop." not in proc.stdout


def test_selection_by_requirement_prefix(tmp_path: Path) -> None:
    proc = run_cli(
        "run", "--select", "RFC1939-6", "--report-dir", str(tmp_path / "r"), cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    results = json.loads((tmp_path / "r" / "results.json").read_text())
    ids = [s["id"] for s in results["scenarios"]]
    assert ids and all(
        any(r.startswith("RFC1939-6") for r in s["requirements"]) for s in results["scenarios"]
    )
