"""The processes of a lab server instance, read from Linux's /proc.

A lab server's master daemonizes with setsid(), so every process it forks has
the master's pid as its session id, and keeps it after the master has exited.
That finds all of an instance's processes from the one pid its script recorded,
without matching process names (which would catch other instances too).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")


@dataclass(frozen=True)
class LabProcess:
    """One process, identified by pid *and* start time, so a reused pid never matches."""

    pid: int
    start_ticks: int
    name: str

    def alive(self) -> bool:
        """True while this very process runs; a zombie counts as ended.

        Zombies matter here: on machines whose pid 1 does not reap orphans, an
        ended server process stays a zombie until the machine goes.
        """
        stat = read_stat(self.pid)
        return stat is not None and stat.start_ticks == self.start_ticks and stat.running


@dataclass(frozen=True)
class _Stat:
    name: str
    state: str
    session: int
    start_ticks: int

    @property
    def running(self) -> bool:
        return self.state not in ("Z", "X", "x")


def read_stat(pid: int) -> _Stat | None:
    """Parse /proc/PID/stat, or None when there is no such process (any more)."""
    try:
        raw = (PROC / str(pid) / "stat").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    # The command name is in parentheses and may itself contain ") ", so the
    # fields are split after the *last* one (see proc(5)).
    head, sep, tail = raw.rpartition(") ")
    if not sep:
        return None
    fields = tail.split()
    # tail starts at field 3 (state); session is field 6, starttime field 22.
    try:
        return _Stat(
            name=head.partition(" (")[2],
            state=fields[0],
            session=int(fields[3]),
            start_ticks=int(fields[19]),
        )
    except (IndexError, ValueError):
        return None


def session_processes(leader: int) -> list[LabProcess]:
    """Live processes whose session id is `leader` (the leader itself included)."""
    found: list[LabProcess] = []
    for entry in os.listdir(PROC):
        if not entry.isdigit():
            continue
        stat = read_stat(int(entry))
        if stat is not None and stat.session == leader and stat.running:
            found.append(LabProcess(int(entry), stat.start_ticks, stat.name))
    return sorted(found, key=lambda p: p.pid)
