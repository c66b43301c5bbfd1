"""Requests per second of ``pop3-conformance stress`` against Dovecot, next to a raw-socket
load client on the same task mix and account pool, and its scaling from 1 to 2 workers.

    python -m benchmarks.stress [--users N] [--seconds S]

Dovecot is the lab's (conformance/lab/scripts/dovecot.sh: four accounts, an
exclusive lock per maildrop, started on loopback for the benchmark).  Every
run starts from the same mailboxes: six marked messages each.  The mix is
read=6, dele-rset=2, drop=1, concurrent=1 for both clients: the tasks that
deliver mail need ``Provisioner.deliver``, which the raw client has no
counterpart for.  The goal: stress in one process at least half the raw
client's rate (it times, transcribes and judges every answer; the raw client
reads bytes).  Also printed: the latency percentiles of one stress run and
the gevent cooperation figures (benchmarks/stress_cooperation.py).

The figures are for people, never for assertions: these machines are noisy,
and on two cores the server and the clients share the CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from conformance.lab import LAB_SERVERS, LabInstance
from conformance.provision import make_provisioner
from conformance.stress import marked

MIX = "read=6,dele-rset=2,drop=1,concurrent=1"
REPO = Path(__file__).resolve().parents[1]
ENV = {
    **os.environ,
    "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
}


def module(
    name: str, *args: str, timeout: float, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """``python -m name args`` from the repository, its output captured."""
    return subprocess.run(
        [sys.executable, "-m", name, *args],
        cwd=REPO,
        env=ENV,
        capture_output=True,
        text=True,
        check=check,
        timeout=timeout,
    )


def seed(instance: LabInstance) -> None:
    provisioner = make_provisioner(
        "exec", seed_cmd=instance.seed_cmd(), clear_cmd=instance.clear_cmd()
    )
    for user, _ in instance.accounts:
        provisioner.seed(user, [marked.message("bench", user, f"s{i}") for i in range(6)])


def raw(instance: LabInstance, users: int, seconds: float) -> dict[str, Any]:
    seed(instance)
    accounts = [f"{u}:{p}" for u, p in instance.accounts]
    done = module(
        "benchmarks.stress_raw",
        *(instance.host, str(instance.port), str(users), str(seconds), MIX, *accounts),
        timeout=seconds + 120,
    )
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def stress(instance: LabInstance, users: int, seconds: float, *extra: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="stress-bench-") as folder:
        argv = ["--host", instance.host, "--port", str(instance.port)]
        for user, password in instance.accounts:
            argv += ["--account", f"{user}:{password}"]
        argv += ["--provision", "exec", "--seed-cmd", instance.seed_cmd()]
        argv += ["--clear-cmd", instance.clear_cmd(), "--users", str(users)]
        argv += ["--run-time", f"{int(seconds)}s", "--mix", MIX + ",dele-quit=0,deliver=0"]
        argv += ["--report-dir", folder, *extra]
        module("conformance.stress", *argv, timeout=seconds + 300, check=False)
        data = json.loads((Path(folder) / "results.json").read_text())
    load: dict[str, Any] = data["load"]
    load["violations"] = sum(1 for s in data["scenarios"] if s["outcome"] == "fail")
    return load


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=8, help="users (8: two per account)")
    parser.add_argument("--seconds", type=float, default=20.0, help="seconds per run (20)")
    args = parser.parse_args()
    server = LAB_SERVERS["dovecot"]
    ok, why = server.available()
    if not ok:
        print(f"Dovecot is not available: {why}")
        return
    with tempfile.TemporaryDirectory(prefix="stress-bench-dovecot-") as root:
        instance = server.start(Path(root))
        try:
            figures = {
                "raw": raw(instance, args.users, args.seconds),
                "stress": stress(instance, args.users, args.seconds),
                "workers 1": stress(instance, args.users, args.seconds, "--workers", "1"),
                "workers 2": stress(instance, args.users, args.seconds, "--workers", "2"),
            }
        finally:
            instance.stop()
    report(figures, args.users, args.seconds)
    cooperation = module("benchmarks.stress_cooperation", timeout=300)
    print(cooperation.stdout, end="")


def report(figures: dict[str, dict[str, Any]], users: int, seconds: float) -> None:
    raw_rps = figures["raw"]["rps"]
    print(f"Dovecot (lab), {users} users on 4 accounts, {seconds:g} s per run, mix {MIX}")
    print(f"  raw-socket client, 1 process:  {raw_rps:8.1f} requests/s")
    for name in ("stress", "workers 1", "workers 2"):
        load = figures[name]
        label = {
            "stress": "stress, 1 process:",
            "workers 1": "stress --workers 1:",
            "workers 2": "stress --workers 2:",
        }[name]
        rps = load["total"]["rps"]
        print(
            f"  {label:<30}{rps:8.1f} requests/s ({rps / raw_rps:.2f}x raw), "
            f"{load['violations']} violation(s)"
        )
    one, two = figures["workers 1"]["total"]["rps"], figures["workers 2"]["total"]["rps"]
    print(f"  scaling 1 -> 2 workers: {two / one:.2f}x")
    print("  latency per command, stress in 1 process (ms):")
    for row in figures["stress"]["commands"]:
        print(
            f"    {row['name']:<16} p50 {row['p50_ms']:>6} p95 {row['p95_ms']:>6} "
            f"p99 {row['p99_ms']:>6}  ({row['requests']} requests)"
        )


if __name__ == "__main__":
    main()
