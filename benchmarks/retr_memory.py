"""Peak memory of ``run`` judging a RETR of a 50 MB message, next to a raw-socket RETR.

    python -m benchmarks.retr_memory

Runs ``pop3-conformance run --suites benchmarks/suites/retr-huge.pop3`` in this
process against the embedded reference server (which runs in a process of its
own), then prints this process's peak RSS, with the RSS before the run for
scale.  A raw-socket client then reads the same answer into nothing, for the
time it takes.  Figures for people, never assertions.
"""

from __future__ import annotations

import argparse
import resource
import socket
import tempfile
import time
from pathlib import Path

from conformance.cli import main as cli_main
from conformance.messages import corpus
from conformance.provision import make_provisioner
from conformance.server.embedded import EmbeddedServer

SCENARIO = Path(__file__).resolve().parent / "suites" / "retr-huge.pop3"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def raw_retr(host: str, port: int, user: str, password: str) -> tuple[int, float]:
    """RETR 1 on a bare socket, reading until the terminator; (octets, seconds)."""
    sock = socket.create_connection((host, port), timeout=60)
    buf = b""

    def line() -> bytes:
        nonlocal buf
        while b"\r\n" not in buf:
            buf += sock.recv(65536)
        out, buf = buf.split(b"\r\n", 1)
        return out

    line()
    for cmd in (f"USER {user}", f"PASS {password}"):
        sock.sendall(cmd.encode() + b"\r\n")
        line()
    t0 = time.perf_counter()
    sock.sendall(b"RETR 1\r\n")
    line()
    got, tail = 0, buf
    while not tail.endswith(b"\r\n.\r\n"):
        chunk = sock.recv(1 << 16)
        if not chunk:
            break
        got += len(chunk)
        tail = (tail + chunk)[-5:]
    elapsed = time.perf_counter() - t0
    sock.sendall(b"QUIT\r\n")
    sock.close()
    return got, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args()
    before = peak_rss_mb()
    report = Path(tempfile.mkdtemp(prefix="retr-memory-"))
    t0 = time.perf_counter()
    code = cli_main(["run", "--suites", str(SCENARIO), "--report-dir", str(report)])
    run_s = time.perf_counter() - t0
    peak = peak_rss_mb()
    size = corpus("huge")[0].size
    with EmbeddedServer() as server:
        account = server.accounts[0]
        make_provisioner(f"maildir:{server.maildir_template}").seed(account.user, corpus("huge"))
        octets, raw_s = raw_retr(server.host, server.port, account.user, account.password)
    print(f"RETR of a {size / (1 << 20):.1f} MB message through 'run' (exit {code}):")
    print(f"  peak RSS of this process : {peak:8.1f} MB (before the run: {before:.1f} MB)")
    print(f"  run, seeding included    : {run_s:8.2f} s")
    print(f"  raw socket RETR alone    : {raw_s:8.2f} s ({octets} octets)")
    print(f"  reports                  : {sum(p.stat().st_size for p in report.iterdir())} octets")


if __name__ == "__main__":
    main()
