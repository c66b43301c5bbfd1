"""``pop3-conformance stress`` end to end: each run in its own process, as a user runs it.

Locust patches the process it is imported in with gevent, so every run here
is a child process, ``python -m conformance.stress`` (what ``pop3-conformance
stress`` runs itself as).  The runs are a few seconds each.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from conformance.exits import EXIT_FAIL, EXIT_INTERRUPTED, EXIT_OK, EXIT_UNREACHABLE, EXIT_USAGE
from conformance.lab.ports import free_port
from conformance.server.embedded import EmbeddedServer

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(REPO)}
STRESS = [sys.executable, "-m", "conformance.stress"]
SHORT = ["--users", "8", "--run-time", "4s", "--timeout", "5", "--lock-wait", "10"]


def stress(*args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*STRESS, *args],
        cwd=REPO,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def start(*args: str, quiet: bool = False) -> subprocess.Popen[str]:
    """A stress command running in the background (its output kept unless ``quiet``)."""
    out = subprocess.DEVNULL if quiet else subprocess.PIPE
    return subprocess.Popen([*STRESS, *args], cwd=REPO, env=ENV, stdout=out, stderr=out, text=True)


def results(folder: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((folder / "results.json").read_text())
    return data


def outcomes(data: dict[str, Any]) -> dict[str, str]:
    return {s["id"]: s["outcome"] for s in data["scenarios"]}


def test_a_correct_server_keeps_every_invariant_and_every_report_is_written(
    tmp_path: Path,
) -> None:
    done = stress(*SHORT, "--report-dir", str(tmp_path))
    assert done.returncode == EXIT_OK, done.stdout + done.stderr
    data = results(tmp_path)
    assert set(outcomes(data).values()) == {"pass"} and len(data["scenarios"]) == 6
    load = data["load"]
    names = {row["name"] for row in load["commands"]}
    assert {"CONNECT", "USER", "PASS", "STAT", "LIST", "UIDL", "RETR", "TOP", "DELE"} <= names
    assert {"RSET", "QUIT", "DELIVER"} <= names
    # Eight users on six accounts: sessions share mailboxes and meet their locks.
    assert load["users"] == 8 and any(n.endswith("(in use)") for n in names)
    assert all(row["p50_ms"] <= row["p95_ms"] <= row["p99_ms"] for row in load["commands"])
    assert sum(second["requests"] for second in load["per_second"]) > 0
    cases = ET.parse(tmp_path / "junit.xml").getroot().iter("testcase")
    assert len(list(cases)) == 6
    page = (tmp_path / "stress.html").read_text()
    assert "<polyline" in page and 'id="no-violations"' in page
    stats = (tmp_path / "locust_stats.csv").read_text().splitlines()
    assert stats[0].startswith("Type,Name,Request Count") and any("POP3,RETR," in r for r in stats)
    assert len((tmp_path / "locust_stats_history.csv").read_text().splitlines()) > 2
    assert "p99_ms" in done.stdout and "6 passed" in done.stdout


@pytest.mark.parametrize(
    ("defect", "invariant", "requirement"),
    [
        ("lock-check-then-set", "stress.lock.one-view", "RFC1939-4-2"),
        ("quit-rewrites-snapshot", "stress.mailbox.accounted", "RFC1939-6.QUIT-2"),
    ],
)
def test_each_concurrency_defect_fails_the_run(
    tmp_path: Path, defect: str, invariant: str, requirement: str
) -> None:
    done = stress(*SHORT, "--defect", defect, "--report-dir", str(tmp_path))
    assert done.returncode == EXIT_FAIL, done.stdout + done.stderr
    data = results(tmp_path)
    assert outcomes(data)[invariant] == "fail"
    (judged,) = [s for s in data["scenarios"] if s["id"] == invariant]
    assert {c["requirement"] for c in judged["checks"] if c["outcome"] == "fail"} == {requirement}
    assert judged["transcript"], "the violating sessions' transcripts"
    assert "Violations" in (tmp_path / "stress.html").read_text()


@pytest.mark.parametrize(
    ("defect", "code"), [(None, EXIT_OK), ("quit-rewrites-snapshot", EXIT_FAIL)]
)
def test_two_workers_run_and_their_observations_meet_at_the_master(
    tmp_path: Path, defect: str | None, code: int
) -> None:
    extra = ["--defect", defect] if defect else []
    done = stress(*SHORT, "--workers", "2", *extra, "--report-dir", str(tmp_path))
    assert done.returncode == code, done.stdout + done.stderr
    load = results(tmp_path)["load"]
    assert load["mode"] == "master" and load["workers"] == 2
    # Deliveries and QUITs happen in the workers; the master's ledger counted them.
    assert load["ledger"]["deliveries done"] > 0 and load["ledger"]["sessions ended by QUIT"] > 0


@pytest.fixture
def own_server(tmp_path: Path) -> Any:
    with EmbeddedServer(root=tmp_path / "server") as server:
        accounts = tmp_path / "accounts"
        accounts.write_text(
            "".join(f"{'apop ' if a.apop else ''}{a.user}:{a.password}\n" for a in server.accounts)
        )
        yield server, accounts


def test_a_master_and_two_workers_started_apart_on_loopback(
    tmp_path: Path, own_server: Any
) -> None:
    # The many-machine form: each worker is its own command with its own target flags.
    server, accounts = own_server
    port = str(free_port())
    target = ["--host", server.host, "--port", str(server.port), "--account-file", str(accounts)]
    target += ["--provision", f"maildir:{server.maildir_template}"]
    master = start(
        *("--master", "--expect-workers", "2", "--master-bind-host", "127.0.0.1"),
        *("--master-port", port, *target, "--users", "6", "--run-time", "4s"),
        *("--report-dir", str(tmp_path / "reports")),
    )
    workers = [
        start("--worker", "--master-host", "127.0.0.1", "--master-port", port, *target, quiet=True)
        for _ in range(2)
    ]
    out, err = master.communicate(timeout=120)
    assert master.returncode == EXIT_OK, out + err
    assert [w.wait(timeout=60) for w in workers] == [0, 0]
    load = results(tmp_path / "reports")["load"]
    assert load["mode"] == "master" and load["workers"] == 2
    assert load["ledger"]["deliveries done"] > 0 and load["total"]["requests"] > 0


def test_a_server_that_dies_mid_run_ends_it_with_a_verdict_and_the_statistics(
    tmp_path: Path, own_server: Any
) -> None:
    server, accounts = own_server
    reports = tmp_path / "reports"
    process = start(
        *("--host", server.host, "--port", str(server.port), "--account-file", str(accounts)),
        *("--provision", f"maildir:{server.maildir_template}", "--users", "4"),
        *("--run-time", "60s", "--timeout", "2", "--report-dir", str(reports)),
    )
    _wait_for_load(process)
    time.sleep(1.0)
    os.kill(server._process.pid, signal.SIGKILL)  # the server this test started
    out, err = process.communicate(timeout=60)
    assert process.returncode == EXIT_UNREACHABLE, out + err
    data = results(reports)
    assert outcomes(data)["stress.server.responsive"] == "fail"
    assert "stopped answering" in json.dumps(data["scenarios"])
    assert data["load"]["duration_s"] < 30 and "stopped answering" in data["load"]["stopped"]
    assert (reports / "locust_stats.csv").read_text().count("POP3,") > 3
    everything = out + err + "".join(p.read_text() for p in reports.iterdir() if p.is_file())
    for account in server.accounts:
        assert account.password not in everything


def _wait_for_load(process: subprocess.Popen[str]) -> None:
    assert process.stderr is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if "users (spawning" in line:
            return
        if not line:
            break
    pytest.fail("the load never started")


def test_ctrl_c_stops_the_run_and_writes_the_statistics(tmp_path: Path) -> None:
    process = start("--users", "4", "--run-time", "60s", "--report-dir", str(tmp_path))
    _wait_for_load(process)
    time.sleep(1.5)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == EXIT_INTERRUPTED, out + err
    data = results(tmp_path)
    assert data["load"]["stopped"] == "interrupted" and data["load"]["total"]["requests"] > 0
    assert outcomes(data)["stress.mailbox.accounted"] == "unsupported"
    assert (tmp_path / "locust_stats.csv").exists() and (tmp_path / "stress.html").exists()


@pytest.mark.parametrize(
    "argv", [["--defect", "no-such-defect"], ["--host", "127.0.0.1"], ["--run-time", "0s"]]
)
def test_nonsense_targets_exit_2_from_the_command(argv: list[str], tmp_path: Path) -> None:
    done = stress(*argv, "--report-dir", str(tmp_path), timeout=60)
    assert done.returncode == EXIT_USAGE, done.stdout + done.stderr
    assert not (tmp_path / "results.json").exists()


def test_the_transport_cooperates_with_gevent() -> None:
    # Four sessions whose answers each take 20 ms, one after the other and then
    # as four greenlets: if a read blocked outside gevent, the greenlets would
    # take as long (ratio 1.0; 0.25 is perfect overlap).
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.stress_cooperation", "--waiting-only"],
        cwd=REPO,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    ratio = float(done.stdout.split("ratio ")[1].split()[0])
    assert ratio < 0.6, done.stdout
