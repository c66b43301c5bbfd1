"""Run the harness against one hostile mode, as its own process, and measure what it did.

The hostile server and the reference server behind it run in this process
(the reference server in a child of its own); the harness runs as
``python -m conformance.cli run`` in a child of its own, and only that
child's memory is measured (see :func:`run_harness`).  The child's
``PYTHONPATH`` says which checkout of the harness is judged, so the same
measurement runs against an old checkout and a new one.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from tests.hostile.server import make_mode, serving, target_args

REPO: Final = Path(__file__).resolve().parents[2]
# The harness's deadline per response: short, so that every mode's run is short.
TIMEOUT: Final = 2.0
# A full run is 160 scenarios; against a server that makes each of them wait
# for a deadline it would take minutes per mode.  These thirteen exercise every
# command a mode rewrites: the greeting, USER/PASS and a refused PASS, STAT,
# LIST and RETR (before login too), CAPA before and after login, SASL PLAIN (a
# base64 secret), STLS (its handshake also without content) and the octets
# of status texts.  Seven of them run
# without seeded content as well; the others are ``unsupported`` at once.
SELECTION: Final = (
    "core.basic.greeting",
    "core.state.user-pass-good",
    "core.state.wrong-password-then-quit",
    "core.state.transaction-commands-before-login",
    "core.basic.stat-format",
    "core.basic.list-all",
    "core.basic.retr-all",
    "ext.capa.announced-after-login",
    "ext.capa.response-line-length",
    "ext.sasl.plain-initial-response",
    "ext.tls.stls-handshake",
    "ext.tls.stls-twice",
    "ext.utf8.ascii-before-utf8",
)
# Far above the 200 MB the tests demand: only there to keep a runaway child
# from taking the machine down; it is killed, and that is recorded.
MEMORY_GUARD_MB: Final = 1024
POLL: Final = 0.05
TRACEBACK: Final = b"Traceback (most recent call last)"
REPORT_FILES: Final = ("results.json", "junit.xml", "report.html")


@dataclass
class Measured:
    """One harness run against one mode."""

    mode: str
    content: bool
    exit_code: int | None  # None: killed (see ``killed``)
    wall_s: float
    peak_rss_mb: float
    report_dir: Path
    stdout: Path
    stderr: Path
    killed: str = ""
    # Every form of every account secret that must appear nowhere: name -> text.
    secrets: dict[str, str] = field(default_factory=dict, repr=False)

    def results(self) -> dict[str, Any] | None:
        """results.json, or None where it is missing or does not parse."""
        try:
            doc = json.loads((self.report_dir / "results.json").read_bytes())
        except (OSError, ValueError):
            return None
        return doc if isinstance(doc, dict) else None

    def outcomes(self) -> Counter[str]:
        """Scenario outcomes and passive findings, counted together."""
        doc = self.results() or {}
        return Counter(
            str(item.get("outcome"))
            for key in ("scenarios", "passive")
            for item in doc.get(key, [])
            if isinstance(item, dict)
        )

    def graded(self, outcome: str) -> list[str]:
        """``id: reason`` of each scenario and passive finding graded ``outcome``."""
        doc = self.results() or {}
        return [
            f"{item.get('id') or item.get('code')}: {item.get('reason') or item.get('detail')}"[
                :300
            ]
            for key in ("scenarios", "passive")
            for item in doc.get(key, [])
            if isinstance(item, dict) and item.get("outcome") == outcome
        ]

    def outputs(self) -> dict[str, Path]:
        """Everything the run wrote: stdout, stderr and each report file."""
        files = {"stdout": self.stdout, "stderr": self.stderr}
        if self.report_dir.is_dir():
            files.update({p.name: p for p in sorted(self.report_dir.rglob("*")) if p.is_file()})
        return files

    def traceback(self) -> bool:
        return TRACEBACK in self.stderr.read_bytes()

    def leaks(self) -> list[tuple[str, str]]:
        """(which secret, in which output) for each secret that shows; never the secret itself."""
        found = []
        for where, path in self.outputs().items():
            data = path.read_bytes()
            found += [(what, where) for what, text in self.secrets.items() if text.encode() in data]
        return found

    def report_problems(self, limit_mb: float) -> list[str]:
        """Missing, unparsable or oversized report files."""
        problems = []
        for name in REPORT_FILES:
            path = self.report_dir / name
            if not path.is_file():
                problems.append(f"{name} missing")
                continue
            size_mb = path.stat().st_size / 1e6
            if size_mb > limit_mb:
                problems.append(f"{name} is {size_mb:.1f} MB")
        if (self.report_dir / "results.json").is_file() and self.results() is None:
            problems.append("results.json does not parse")
        if (self.report_dir / "junit.xml").is_file():
            try:
                ET.parse(self.report_dir / "junit.xml")
            except ET.ParseError as exc:
                problems.append(f"junit.xml is not well-formed: {exc}")
        return problems


def secret_forms(name: str, secret: str) -> dict[str, str]:
    """``secret`` and the core of its base64 at each of the three alignments.

    Base64 of anything that contains the secret (a SASL PLAIN token, say)
    contains one of the three, whatever comes before it; the first and last
    four characters of each mix in the neighbouring octets and are left out.
    """
    forms = {f"{name}": secret}
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + secret.encode()).decode()
        forms[f"{name} (base64, offset {offset})"] = encoded[4:-4]
    return forms


def run_mode(
    mode: str,
    *,
    content: bool,
    work: Path,
    time_limit: float,
    pythonpath: Path = REPO,
    params: dict[str, object] | None = None,
    selection: tuple[str, ...] = SELECTION,
    timeout: float = TIMEOUT,
) -> Measured:
    """Start ``mode`` (with seeded content or without) and run the harness at it."""
    work.mkdir(parents=True, exist_ok=True)
    with serving(make_mode(mode, **(params or {}))) as (reference, hostile):
        argv = ["run", *target_args(reference, hostile.port, content=content)]
        argv += ["--report-dir", str(work / "reports"), "--timeout", str(timeout)]
        argv += [a for pattern in selection for a in ("--select", pattern)]
        measured = run_harness(argv, work=work, time_limit=time_limit, pythonpath=pythonpath)
        measured.mode, measured.content = mode, content
        for account in reference.accounts:
            measured.secrets.update(secret_forms(f"{account.user}'s secret", account.password))
    return measured


def run_harness(argv: list[str], *, work: Path, time_limit: float, pythonpath: Path) -> Measured:
    """``python -m conformance.cli ARGV`` from ``pythonpath``, killed at ``time_limit``.

    The peak RSS is the child's own.  ``wait4``'s ``ru_maxrss`` is exact only
    where it is above this process's own peak: Linux carries the high-water
    mark of the memory image a child is forked from across its exec, so a
    child of a large parent reports at least the parent's size.  Below that,
    the child's ``VmHWM``, read from /proc while it runs, is the figure.
    """
    stdout, stderr = work / "stdout", work / "stderr"
    env = {**os.environ, "PYTHONPATH": str(pythonpath), "PYTHONUNBUFFERED": "1"}
    inherited_kb = _status_kb("self", "VmHWM")
    polled_kb = 0
    started = time.monotonic()
    with stdout.open("wb") as out, stderr.open("wb") as err:
        child = subprocess.Popen(
            [sys.executable, "-m", "conformance.cli", *argv],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            env=env,
            cwd=work,  # not a checkout: "-m" puts the cwd first on sys.path
        )
    killed = ""
    while True:
        pid, status, usage = os.wait4(child.pid, os.WNOHANG)
        if pid:
            break
        polled_kb = max(polled_kb, _status_kb(str(child.pid), "VmHWM"))
        if not killed:
            if time.monotonic() - started > time_limit:
                killed = f"still running after {time_limit:.0f} s"
            elif _status_kb(str(child.pid), "VmRSS") > MEMORY_GUARD_MB * 1024:
                killed = f"over {MEMORY_GUARD_MB} MB RSS"
            if killed:
                child.send_signal(signal.SIGKILL)
        time.sleep(POLL)
    child.returncode = os.waitstatus_to_exitcode(status)
    peak_kb = usage.ru_maxrss if usage.ru_maxrss > inherited_kb else polled_kb
    return Measured(
        mode="",
        content=False,
        exit_code=None if killed else child.returncode,
        wall_s=time.monotonic() - started,
        peak_rss_mb=peak_kb / 1024,
        report_dir=work / "reports",
        stdout=stdout,
        stderr=stderr,
        killed=killed,
    )


def _status_kb(pid: str, field: str) -> int:
    """A ``VmRSS:``-style field of /proc/PID/status in kB (0 once the process is gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0
