"""Dovecot under load: ``pop3-conformance stress --users 50 --run-time 60s`` finds nothing.

The lab's Dovecot locks each maildrop for a whole session (pop3_lock_session),
keeps a session's view, removes only what a QUIT removes and keeps its
unique-ids: fifty users on its four accounts, with mail delivered while they
run (through the exec provisioner, doveadm save), must give no violation.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conformance.lab import LabInstance

pytestmark = [pytest.mark.lab, pytest.mark.dovecot, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]


def test_fifty_users_for_a_minute_break_no_invariant(dovecot: LabInstance, tmp_path: Path) -> None:
    argv = ["--host", dovecot.host, "--port", str(dovecot.port)]
    for user, password in dovecot.accounts:
        argv += ["--account", f"{user}:{password}"]
    argv += ["--provision", "exec", "--seed-cmd", dovecot.seed_cmd()]
    argv += ["--clear-cmd", dovecot.clear_cmd(), "--users", "50", "--run-time", "60s"]
    done = subprocess.run(
        [sys.executable, "-m", "conformance.stress", *argv, "--report-dir", str(tmp_path)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=400,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    data = json.loads((tmp_path / "results.json").read_text())
    assert {s["outcome"] for s in data["scenarios"]} == {"pass"}
    load = data["load"]
    assert load["users"] == 50 and load["policy"] == "exclusive" and not load["skipped"]
    assert load["ledger"]["deliveries done"] > 0 and load["total"]["failures"] == 0
